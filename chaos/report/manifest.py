"""The bundle's sha256 manifest: written last over every file, verified before a bundle is trusted."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import EvidenceError, ExitCode

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


def write_manifest(bundle_dir: Path, *, exclude: Collection[str] = ()) -> Path:
    """Write `manifest.sha256` (sha256sum format) over every file of the bundle but `exclude`."""
    entries = {rel.as_posix(): file_sha256(bundle_dir / rel) for rel in bundle_files(bundle_dir)
               if rel.as_posix() not in exclude}
    return _write_lines(bundle_dir, entries)


def _write_lines(bundle_dir: Path, entries: dict[str, str]) -> Path:
    lines = [f"{digest}  {name}\n" for name, digest in sorted(entries.items())]
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


class ManifestError(EvidenceError):
    """A bundle's files do not match its manifest: the evidence cannot be trusted.

    Exit 4 like other infrastructure failures: the bundle, not the drill, is at fault."""

    exit_code = ExitCode.INFRASTRUCTURE


@dataclass(frozen=True, slots=True)
class ManifestCheck:
    """The result of checking a bundle against its manifest."""

    files: int  # entries the manifest names
    problems: tuple[str, ...]  # "<name>: missing" / "<name>: sha256 differs ..."
    seconds: float  # how long the check took (junit.xml reports it)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """`manifest OK (9 files)` or the files that do not match, on one line."""
        if self.ok:
            return f"manifest OK ({self.files} files)"
        return f"manifest MISMATCH: {'; '.join(self.problems)}"


def check_manifest(bundle_dir: Path, *, skip: Collection[str] = ()) -> ManifestCheck:
    """Check every file the manifest names except `skip`, without raising for a mismatch
    (EvidenceError when there is no readable manifest at all)."""
    if not (bundle_dir / MANIFEST_NAME).is_file():
        raise EvidenceError(f"{bundle_dir}: no {MANIFEST_NAME}; the bundle was never finalised")
    began = time.monotonic()
    entries = {k: v for k, v in read_manifest(bundle_dir).items() if k not in skip}
    problems: list[str] = []
    for name, digest in entries.items():
        path = bundle_dir / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif file_sha256(path) != digest:
            problems.append(f"{name}: sha256 differs from the manifest (the file was changed)")
    return ManifestCheck(len(entries), tuple(problems), time.monotonic() - began)


def verify_manifest(bundle_dir: Path) -> list[str]:
    """Check every file the manifest names; raise ManifestError (exit 4) naming each file that
    differs or is missing. Returns the verified names. Files added after the manifest are not
    covered."""
    check = check_manifest(bundle_dir)
    if not check.ok:
        raise ManifestError(
            f"{bundle_dir}: manifest check failed; the evidence cannot be trusted:\n  "
            + "\n  ".join(check.problems)
        )
    return sorted(read_manifest(bundle_dir))


def add_to_manifest(bundle_dir: Path, names: Collection[str]) -> Path:
    """Hash `names` (relative paths) into the existing manifest, replacing their old lines;
    the other lines are kept as they are, not re-hashed."""
    entries = read_manifest(bundle_dir)
    for name in names:
        entries[name] = file_sha256(bundle_dir / name)
    return _write_lines(bundle_dir, entries)
