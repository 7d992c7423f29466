"""The watchdog: a separate process holding a lease on a run; if the runner dies without
releasing it (SIGKILL, OOM), it replays the run's journal.

Lease: the runner holds the write end of the watchdog's stdin. `release` + EOF ends the lease
cleanly; EOF alone, or the runner's pid disappearing (a forked child may keep the pipe open),
means the runner died.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import FaultError
from chaos.redact import redact_text

RELEASE = b"release\n"
READY = b"ready\n"
LOG_NAME = "watchdog.log"


@dataclass
class Watchdog:
    """The runner's handle on its watchdog process."""

    run_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self, timeout_s: float = 5.0) -> None:
        """End the lease cleanly: the watchdog exits without replaying."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.write(RELEASE)
                self.process.stdin.flush()
            self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_watchdog(run_dir: Path, *, timeout_s: float = 10.0) -> Watchdog:
    """Spawn `python -m chaos.faults.watchdog <run_dir> <pid>` in its own session (a Ctrl-C to
    the runner's process group does not reach it) and wait until it holds the lease."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos.faults.watchdog", str(run_dir), str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdout is not None  # Invariant: stdout=PIPE
    ready, _, _ = select.select([process.stdout], [], [], timeout_s)
    line = process.stdout.readline() if ready else b""
    if line != READY:
        process.kill()
        process.wait()
        raise FaultError(str(run_dir), "start watchdog", f"no ready signal within {timeout_s:g}s")
    return Watchdog(run_dir, process)


def _runner_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _log(run_dir: Path, message: str) -> None:
    with (run_dir / LOG_NAME).open("a") as fh:
        fh.write(redact_text(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {message}\n"))


def main(argv: list[str]) -> int:
    run_dir, runner_pid = Path(argv[0]), int(argv[1])
    import anyio  # imported before READY so a replay starts without import delay

    from chaos.faults.replay import journal_path_of, replay_journal

    sys.stdout.buffer.write(READY)
    sys.stdout.buffer.flush()
    stdin = sys.stdin.buffer.fileno()
    received = b""
    while True:
        readable, _, _ = select.select([stdin], [], [], 0.2)
        if readable:
            chunk = os.read(stdin, 64)
            if chunk:
                received += chunk
                continue
            break  # EOF
        if not _runner_alive(runner_pid):
            break
    if RELEASE in received:
        return 0
    from chaos.report.bundle import mark_killed

    ended = mark_killed(run_dir, why="the runner died without ending its lease (watchdog)")
    if ended is not None:
        _log(run_dir, f"runner gone: bundle marked killed, last record at {ended:.3f}")
    journal = journal_path_of(run_dir)
    if not journal.exists():
        _log(run_dir, "runner gone without release; no journal, nothing to revert")
        return 0
    _log(run_dir, "runner gone without release; replaying the journal")
    try:
        done = anyio.run(replay_journal, journal)
    except FaultError as exc:
        _log(run_dir, f"replay failed: {exc}")
        return 1
    for line in done:
        _log(run_dir, line)
    _log(run_dir, f"replay done: {len(done)} reverted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
