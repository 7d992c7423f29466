"""Recorded response bodies of each wire format (shapes as the public APIs send them)."""

from __future__ import annotations

OPENAI_COMPLETE = (
    b": keep-alive\n\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
    b": PROCESSING\n\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}\n\n'
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
    b"data: [DONE]\n\n"
)
OPENAI_BROKEN = (
    b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    b'data: {"error": {"message": "upstream provider disconnected", "type": "server_error",'
    b' "code": "provider_unavailable"}}\n\n'
)
OPENAI_TRUNCATED = (
    b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    b'data: {"choices":[{"index":0,"delta":{"content":" there"}}]}\n\n'
)
OPENAI_RATE_LIMITED_IN_BAND = (
    b'data: {"error": {"message": "Rate limit reached", "type": "requests",'
    b' "code": "rate_limit_exceeded"}}\n\n'
)
OPENAI_AFTER_DONE = OPENAI_COMPLETE + b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n'
OPENAI_UNPARSEABLE = b'data: {"choices":[{"delta":{"content":"x"}}]}\n\ndata: {not json\n\ndata: [DONE]\n\n'
OPENAI_JSON_ERROR_BODY = (
    b'{"error": {"message": "The server had an error", "type": "server_error", "code": 500}}'
)
OPENAI_REASONING_FIRST = (
    b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n'
    b'data: {"choices":[{"delta":{"reasoning_content":"think"}}]}\n\n'
    b'data: {"choices":[{"delta":{"content":"A"}}]}\n\n'
    b"data: [DONE]\n\n"
)
OPENAI_TOOL_CALL = (
    b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c","type":"function",'
    b'"function":{"name":"f","arguments":""}}]}}]}\n\n'
    b'data: {"choices":[{"delta":{},"finish_reason":"tool_calls"}]}\n\n'
    b"data: [DONE]\n\n"
)

ANTHROPIC_COMPLETE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","content":[],"model":"m","usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hello"}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"!"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
    b'"stop_sequence":null},"usage":{"output_tokens":15}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)
ANTHROPIC_OVERLOADED = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":"Hel"}}\n\n'
    b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error",'
    b' "message": "Overloaded"}}\n\n'
)
ANTHROPIC_NO_STOP = ANTHROPIC_COMPLETE.rsplit(b"event: message_stop", 1)[0]

TESTBED_COMPLETE = b'data: {"token": "alpha "}\n\ndata: {"token": "bravo "}\n\ndata: [DONE]\n\n'
TESTBED_BROKEN = b'data: {"token": "alpha "}\n\nevent: error\ndata: {"error": "provider_unavailable"}\n\n'
