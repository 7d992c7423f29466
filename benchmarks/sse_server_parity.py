"""Check that the Go SSE test server answers byte for byte as the Python one
(tests/load/sse_server.py): head, chunk framing and body, for the queries the benchmarks use.

    python benchmarks/sse_server_parity.py

Exits 1 on the first difference (and shows both answers), else prints one line per query.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sse_servers import start_server  # benchmarks/ is the script's directory

QUERIES = (
    "events=5",
    "events=5&done=0",
    "events=5&format=openai",
    "events=5&format=openai&done=0",
    "events=1&format=openai",
    "events=0",
    "events=0&done=0",
    "events=0&format=openai",
    "events=12&interval_ms=1&format=openai",
    "first_ms=20&events=3&interval_ms=5&format=openai",
    "events=2&close=1",
    "events=2&format=openai&close=1",
    "events=3&format=&done=",
)
OPENAI_BODY = (b'{"model": "bench", "messages": [{"role": "user", "content": "hi"}], "stream": true, '
               b'"stream_options": {"include_usage": true}}')


def main() -> None:
    go, line = start_server("go")
    print(line)
    py, line = start_server("python")
    print(line)
    failed = False
    try:
        for query in QUERIES:
            for path in ("/api/chat", "/v1/chat/completions"):
                a, b = go.raw_response(query, path, OPENAI_BODY), py.raw_response(query, path, OPENAI_BODY)
                if a != b:
                    failed = True
                    print(f"DIFFERENT {path}?{query}\n  go:     {a!r}\n  python: {b!r}")
            if not failed:
                print(f"same bytes ({len(a)}): {query}")
    finally:
        go.stop()
        py.stop()
    if failed:
        raise SystemExit(1)
    print("the Go and Python SSE servers are interchangeable for these queries")


if __name__ == "__main__":
    main()
