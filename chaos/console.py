"""Output streams that redact: the process's stdout and stderr wrapped so that whatever is
printed has its secrets removed (chaos.redact), and Consoles for callers outside the CLI.

Installed by `chaos.cli.main` before anything runs: rich Consoles (which look up `sys.stdout`
and `sys.stderr` at each write), `typer.echo`, logging's fallback handler and a traceback
all write through it, so plan output, the live view, the plain CI lines and error messages
cannot carry a secret, whichever module prints them.
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

from chaos.redact import redact_text

if TYPE_CHECKING:
    from rich.console import Console


class RedactingStream(io.TextIOBase):
    """A text stream that writes `redact_text(s)` to `inner`; a terminal stays a terminal."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, s: str) -> int:
        if not isinstance(s, str):  # click probes for a binary stream with b""
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        self.inner.write(redact_text(s))
        return len(s)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]  # TextIOBase declares it read-only
        return getattr(self.inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "errors", None) or "strict"

    # Invariant: no `buffer` attribute, so nothing (click's bytes path) can write around it.


def install_redacting_streams() -> None:
    """Wrap `sys.stdout` and `sys.stderr` (once)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))


def redacting_console(*, stderr: bool = False, **options: Any) -> Console:
    """A rich Console on this process's stdout or stderr that redacts what it prints, for
    callers outside the CLI (the pytest plugin), whose streams are not wrapped."""
    from rich.console import Console  # not for load workers, which only need the streams

    stream = RedactingStream(sys.stderr if stderr else sys.stdout)
    return Console(file=cast(TextIO, stream), **options)  # a TextIOBase, typed as one by typeshed
