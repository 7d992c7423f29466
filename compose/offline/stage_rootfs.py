"""Assemble FROM-scratch root filesystems from this machine's own files (no registry).

    python3 stage_rootfs.py python DEST   # this Python, its stdlib, the runtime deps of
                                          # chaos-drills, every shared library ldd names
    python3 stage_rootfs.py redis DEST    # Debian's redis-server/redis-cli and their libraries
    python3 stage_rootfs.py digest DIR    # one sha256 over DIR's paths, modes and contents

Files keep their absolute host paths inside the image (so RUNPATHs and the interpreter's
prefix need no relocation); a static busybox provides /bin/sh for debugging.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

# Distributions left out of the testbed image: the report renderer's plotting stack is large
# and never imported by the testbed components.
EXCLUDED_DISTS = {"plotly", "narwhals"}
# Parts of the stdlib the testbed never imports (tests, GUI, build config: most of the size).
STDLIB_SKIP = {"site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo",
               "ensurepip", "lib2to3"}
SITE_DIR = "/opt/chaos/site-packages"
BUSYBOX = "/bin/busybox"


def _copy_file(src: str, dest_root: Path, at: str | None = None) -> None:
    """Copy `src` (following symlinks) to `dest_root/<at or src>`, keeping its mode."""
    target = dest_root / (at or src).lstrip("/")
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(os.path.realpath(src), target)


def _ldd(path: str) -> list[str]:
    """Absolute paths of the shared libraries (and loader) `path` needs; [] when static."""
    out = subprocess.run(["ldd", path], capture_output=True, text=True, check=False).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(", line)
        if m:
            libs.append(m.group(1))
    return libs


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def _copy_libraries(dest: Path) -> None:
    """Every ELF file under dest gets the shared libraries it needs (transitively, via ldd)."""
    elves = [p for p in dest.rglob("*") if p.is_file() and not p.is_symlink() and _is_elf(p)]
    for elf in elves:
        # ldd on the host copy: same RUNPATHs, since files keep their host paths.
        host = "/" + str(elf.relative_to(dest))
        for lib in _ldd(host if os.path.exists(host) else str(elf)):
            if not lib.startswith(str(dest.resolve()) + "/"):  # $ORIGIN libraries are in place
                _copy_file(lib, dest)


def _busybox(dest: Path) -> None:
    if not os.path.exists(BUSYBOX) or _ldd(BUSYBOX):
        sys.exit(f"{BUSYBOX} (static) is missing: apt-get install busybox-static")
    _copy_file(BUSYBOX, dest)
    for applet in ("sh", "wget", "nc", "cat", "ls", "ps", "sleep"):
        link = dest / "bin" / applet
        if not link.exists():
            link.symlink_to("busybox")
    tmp = dest / "tmp"
    tmp.mkdir(exist_ok=True)
    tmp.chmod(0o1777)
    etc = dest / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (etc / "nsswitch.conf").write_text("hosts: files dns\n")
    (dest / "root").mkdir(exist_ok=True)


def _dist_closure(root: str) -> dict[str, md.Distribution]:
    from packaging.requirements import Requirement

    seen: dict[str, md.Distribution] = {}

    def walk(name: str) -> None:
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen or key in EXCLUDED_DISTS:
            return
        dist = md.distribution(name)
        seen[key] = dist
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            walk(req.name)

    walk(root)
    seen.pop(re.sub(r"[-_.]+", "-", root).lower())  # the project itself comes from the checkout
    return seen


def stage_python(dest: Path) -> None:
    exe = os.path.realpath(sys.executable)
    _copy_file(exe, dest)
    (dest / "usr/local/bin").mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        link = dest / "usr/local/bin" / name
        if not link.exists():
            link.symlink_to(exe)
    stdlib = Path(sysconfig.get_path("stdlib"))
    for src in sorted(stdlib.rglob("*")):
        rel = src.relative_to(stdlib)
        if rel.parts[0] in STDLIB_SKIP or rel.parts[0].startswith("config-"):
            continue
        if src.is_file():
            _copy_file(str(src), dest)
    dynload = Path(sysconfig.get_path("platstdlib")) / "lib-dynload"
    for src in dynload.glob("*.so"):
        if "_test" not in src.name and "tkinter" not in src.name:
            _copy_file(str(src), dest)
    for dist in _dist_closure("chaos-drills").values():
        base = Path(str(dist.locate_file("")))
        for entry in dist.files or []:
            src = Path(str(dist.locate_file(entry)))
            try:
                rel = src.resolve().relative_to(base.resolve())
            except ValueError:
                continue  # console scripts and other files outside site-packages
            if src.is_file() and "__pycache__" not in rel.parts:
                _copy_file(str(src), dest, f"{SITE_DIR}/{rel}")
    _busybox(dest)
    _copy_libraries(dest)


def stage_redis(dest: Path) -> None:
    for name in ("redis-server", "redis-cli"):
        path = shutil.which(name)
        if path is None:
            sys.exit(f"{name} is not on PATH: apt-get install redis-server")
        _copy_file(os.path.realpath(path), dest, f"/usr/local/bin/{name}")
    _busybox(dest)
    _copy_libraries(dest)


def digest(root: Path) -> str:
    """A content digest of a staged tree: paths, modes, symlink targets and file bytes."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        st = path.lstat()
        h.update(f"{rel}\0{stat.S_IMODE(st.st_mode):o}\0".encode())
        if path.is_symlink():
            h.update(os.readlink(path).encode())
        elif path.is_file():
            with path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("python", "redis", "digest"):
        sys.exit(__doc__)
    what, dest = sys.argv[1], Path(sys.argv[2]).resolve()
    if what == "digest":
        print(digest(dest))
        return
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    {"python": stage_python, "redis": stage_redis}[what](dest)


if __name__ == "__main__":
    main()
