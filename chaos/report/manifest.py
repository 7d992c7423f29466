"""The bundle's sha256 manifest: written last over every file, verified before a bundle is trusted."""

from __future__ import annotations

import hashlib
from pathlib import Path

from chaos.errors import EvidenceError

MANIFEST_NAME = "manifest.sha256"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_files(bundle_dir: Path) -> list[Path]:
    """Every regular file of the bundle except the manifest, as sorted relative paths."""
    return sorted(
        p.relative_to(bundle_dir)
        for p in bundle_dir.rglob("*")
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.endswith(".tmp")
    )


def write_manifest(bundle_dir: Path) -> Path:
    """Write `manifest.sha256` (sha256sum format) over every file of the bundle."""
    lines = [f"{file_sha256(bundle_dir / rel)}  {rel.as_posix()}\n" for rel in bundle_files(bundle_dir)]
    target = bundle_dir / MANIFEST_NAME
    tmp = target.with_suffix(".tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(target)
    return target


def read_manifest(bundle_dir: Path) -> dict[str, str]:
    path = bundle_dir / MANIFEST_NAME
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise EvidenceError(f"{path}:{number}: not a sha256sum line: {line!r}")
        entries[name] = digest
    return entries


def verify_manifest(bundle_dir: Path) -> list[str]:
    """Check every file the manifest names; raise EvidenceError naming each file that differs
    or is missing. Returns the verified names. Files added after the manifest are not covered."""
    if not (bundle_dir / MANIFEST_NAME).is_file():
        raise EvidenceError(f"{bundle_dir}: no {MANIFEST_NAME}; the bundle was never finalised")
    entries = read_manifest(bundle_dir)
    problems: list[str] = []
    for name, digest in entries.items():
        path = bundle_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif file_sha256(path) != digest:
            problems.append(f"{name}: sha256 differs from the manifest (the file was changed)")
    if problems:
        raise EvidenceError(
            f"{bundle_dir}: manifest check failed; the evidence cannot be trusted:\n  "
            + "\n  ".join(problems)
        )
    return sorted(entries)
