"""Creating the testbed's Toxiproxy proxies through the real server's HTTP API."""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from chaos.errors import TestbedError
from chaos.testbed.state import ProxyState


def create_proxies(api_url: str, proxies: Sequence[ProxyState], *, attempts: int = 3) -> None:
    """Create (or replace) each proxy, enabled; every call has a timeout and is retried."""
    with httpx.Client(base_url=api_url, timeout=3.0) as client:
        for proxy in proxies:
            body = {"name": proxy.name, "listen": proxy.listen, "upstream": proxy.upstream,
                    "enabled": True}
            last = ""
            for attempt in range(attempts):
                try:
                    client.delete(f"/proxies/{proxy.name}")
                    resp = client.post("/proxies", json=body)
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if resp.status_code in (200, 201):
                        break
                    last = f"HTTP {resp.status_code} {resp.text.strip()[:200]}"
                time.sleep(0.1 * (attempt + 1))
            else:
                raise TestbedError(f"toxiproxy at {api_url}: cannot create proxy {proxy.name} "
                                   f"({proxy.listen} -> {proxy.upstream}): {last}")
