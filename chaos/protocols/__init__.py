"""Wire formats of chat targets: request bytes from the drill, an incremental SSE decoder, and
stream classification into the outcome classes of the measurement contract. Pure: no I/O,
no clock of its own; used by the load driver, the canary prober and preflight."""

from chaos.protocols.profiles import (
    AnthropicProfile,
    CustomProfile,
    OpenAIProfile,
    Profile,
    ProtocolName,
    Request,
    resolve_pointer,
)
from chaos.protocols.sse import SseDecoder
from chaos.protocols.stream import (
    StreamState,
    classify_outcome,
    error_message,
    is_rate_limit,
    json_error_code,
)

__all__ = [
    "AnthropicProfile",
    "CustomProfile",
    "OpenAIProfile",
    "Profile",
    "ProtocolName",
    "Request",
    "SseDecoder",
    "StreamState",
    "classify_outcome",
    "error_message",
    "is_rate_limit",
    "json_error_code",
    "resolve_pointer",
]
