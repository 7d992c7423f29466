"""A TLS upstream (the testbed provider simulator over HTTPS, with a certificate made here)
forwarded to a gateway that speaks plain HTTP to the proxy."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from chaos.faultproxy import ProxyConfig, running_proxy
from chaos.testbed.config import ProviderSettings
from chaos.testbed.provider import ProviderApp
from tests.faultproxy.helpers import chat
from tests.servers import free_port, require_binary


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (openssl CLI)."""
    openssl = require_binary("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def https_provider(certificate: tuple[Path, Path]) -> Iterator[str]:
    """The testbed's provider simulator served over HTTPS on a thread."""
    cert, key = certificate
    app = ProviderApp("primary", ProviderSettings(first_token_delay_ms=5, token_interval_ms=2,
                                                  tokens=6, jitter_ms=0, seed=3))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", ssl_certfile=str(cert),
                                           ssl_keyfile=str(key)))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the HTTPS provider did not start")
        time.sleep(0.01)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_tls_upstream_is_forwarded_with_faults(https_provider: str,
                                                 certificate: tuple[Path, Path]) -> None:
    config = ProxyConfig(upstream=https_provider, listen_port=free_port(), ca_file=str(certificate[0]))
    with running_proxy(config) as p:
        seen = chat(p.url)  # plain HTTP to the proxy
        assert (seen.status, seen.outcome, seen.content_chunks) == (200, "2xx", 6)
        httpx.post(p.fault_url, json={"stream": "error", "after_chunks": 2}).raise_for_status()
        seen = chat(p.url)
        assert (seen.outcome, seen.code, seen.content_chunks) == ("broken", "overloaded_error", 2)
        httpx.post(p.fault_url, json={"status": 503, "retry_after_s": 1}).raise_for_status()
        assert chat(p.url).status == 503
        httpx.delete(p.fault_url).raise_for_status()
        assert chat(p.url).outcome == "2xx"


def test_an_unverified_tls_upstream_is_refused(https_provider: str) -> None:
    """Without the CA that signed it, the upstream's certificate fails verification: 502."""
    with running_proxy(ProxyConfig(upstream=https_provider, listen_port=free_port())) as p:
        seen = chat(p.url)
        assert seen.status == 502
        assert "ConnectError" in httpx.Response(502, content=seen.body).json()["error"]["message"]
