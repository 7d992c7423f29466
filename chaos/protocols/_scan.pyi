# The compiled per-read fast paths (_scan.c); see chaos.protocols.sse.Scan.
_Verdict = tuple[int, int, str | None, int | None, str | None, bool, bytes]

def openai(pending: bytes, data: bytes, /) -> _Verdict | None: ...
def custom(
    done: bytes | None, error_key: bytes | None, content_key: bytes, usage_key: bytes | None,
    pending: bytes, data: bytes, /,
) -> _Verdict | None: ...
