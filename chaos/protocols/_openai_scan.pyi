# The compiled OpenAI stream fast path (_openai_scan.c); see chaos.protocols.sse.Scan.
def scan(
    pending: bytes, data: bytes, /,
) -> tuple[int, int, str | None, int | None, str | None, bool, bytes] | None: ...
