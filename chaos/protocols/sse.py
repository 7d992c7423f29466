"""An incremental Server-Sent Events decoder: bytes in any split -> (event name, data) pairs.

Follows the WHATWG event-stream rules where they matter for a chat stream: lines end in
LF, CRLF or CR; a blank line dispatches the event; `data:` lines join with LF; one space
after the colon is dropped; lines starting with `:` are comments (keep-alives) and never
an event; `id:` and `retry:` are read and ignored. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable

# A line or an event longer than this is not a chat stream: the decoder stops buffering
# and reports it (a malformed stream), so a hostile target cannot grow our memory.
MAX_EVENT_BYTES = 1 << 20

EventSink = Callable[[bytes | None, bytes], None]
# A fast path's reading of the pending bytes plus one read, up to their last blank line:
# (events, content events, kind of the first, last usage output tokens, last finish reason,
# ends with the completion marker, the bytes after the last blank line); None when it
# cannot say so with certainty (then every event goes one at a time).
ScanVerdict = tuple[int, int, str | None, int | None, str | None, bool, bytes]
Scan = Callable[[bytes, bytes], ScanVerdict | None]


def split_data_events(pending: bytes, data: bytes) -> tuple[list[bytes], bytes] | None:
    """When `pending` plus `data`, up to their last blank line, are only single-line
    `data: ` events with LF line ends (no CR anywhere in `data`; `pending` never holds
    one), their payloads in order and the bytes after them; else None. A payload is what
    `SseDecoder.feed` would dispatch for the same bytes."""
    if data.find(b"\r") >= 0:
        return None
    buf = pending + data if pending else data
    end = buf.rfind(b"\n\n")
    if end < 0 or not buf.startswith(b"data: "):
        return None
    payloads = buf[6:end].split(b"\n\ndata: ")
    # Only data lines: exactly two LFs per event (a comment, `event:` or second `data:`
    # line, or a blank line too many, adds one inside a payload).
    if buf.count(b"\n", 0, end + 2) != 2 * len(payloads):
        return None
    rest = buf[end + 2:]
    if len(rest) > MAX_EVENT_BYTES:
        return None
    return payloads, rest


class SseDecoder:
    """Feed body bytes as they arrive; `sink(name, data)` is called once per event.

    `name` is None for an unnamed event. An event with neither a name nor data lines
    (comments only) is not dispatched; comment lines are counted in `comments`.

    A fast path (`Scan`, run by `StreamState`) reads and sets `buf` itself: it may take a
    read only when `cr` and `overflow` are false, and then leaves in `buf` what it did not
    dispatch, as `feed` would.
    """

    __slots__ = ("buf", "comments", "cr", "overflow", "sink")

    def __init__(self, sink: EventSink) -> None:
        self.sink = sink
        self.reset()

    def reset(self) -> None:  # StreamState.reset repeats these four, inline
        self.buf = b""
        self.cr = False  # the previous piece ended in CR: a LF at the start of the next is its pair
        self.comments = 0
        self.overflow = False

    def feed(self, data: bytes) -> None:
        if self.overflow:
            return
        # `find`, not `in`: bytes.__contains__ first tries an int and raises a TypeError.
        if self.cr or data.find(b"\r") >= 0:
            data = self._normalise(data)
        buf = self.buf + data if self.buf else data
        start = 0
        find = buf.find
        startswith = buf.startswith
        sink = self.sink
        while True:
            end = find(b"\n\n", start)
            if end < 0:
                break
            if end > start:
                # The common case inline: one `data: ` line and nothing else (no call, no copy).
                if startswith(b"data: ", start) and find(b"\n", start, end) < 0:
                    sink(None, buf[start + 6:end])
                else:
                    self._block(buf[start:end])
            start = end + 2
        rest = buf[start:] if start else buf
        if len(rest) > MAX_EVENT_BYTES:
            self.overflow = True
            rest = b""
        self.buf = rest

    def flush(self) -> None:
        """The body ended: an event whose last line ended but whose blank line never came is
        dispatched (servers that end `data: [DONE]\\n` and close); a half line is dropped."""
        buf, self.buf = self.buf, b""
        if self.overflow or not buf:
            return
        complete, _, _ = buf.rpartition(b"\n")
        if complete.strip(b"\n"):
            self._block(complete.strip(b"\n"))

    @property
    def pending(self) -> bytes:
        """Bytes received but not yet part of a dispatched event."""
        return self.buf

    def _normalise(self, data: bytes) -> bytes:
        if self.cr and data[:1] == b"\n":
            data = data[1:]
        self.cr = data[-1:] == b"\r"
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")

    def _block(self, block: bytes) -> None:
        # The common case first: one `data:` line and nothing else.
        if block[:5] == b"data:" and b"\n" not in block:
            self.sink(None, block[6:] if block[5:6] == b" " else block[5:])
            return
        name: bytes | None = None
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if not line:
                continue
            if line[0] == 58:  # ":" comment, e.g. ": keep-alive", ": PROCESSING"
                self.comments += 1
                continue
            field, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                name = value
        if data or name is not None:
            self.sink(name, b"\n".join(data))
