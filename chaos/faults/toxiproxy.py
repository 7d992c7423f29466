"""Async Toxiproxy API client: every call has a timeout and a bounded retry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import httpx

from chaos.errors import ToxiproxyError
from chaos.faults.toxics import Stream, Toxic, ToxicSpec


@dataclass(frozen=True, slots=True)
class Proxy:
    """A proxy as the server reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()

    @property
    def listen_port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Proxy:
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data["enabled"]),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or ()),
        )


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """What `create_proxy` / `populate` need to make a proxy."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "listen": self.listen, "upstream": self.upstream,
                "enabled": self.enabled}


class ToxiproxyClient:
    """One Toxiproxy server's API.

    The server's API is known to hang under load (Shopify/toxiproxy issues 412, 558),
    so each request has `timeout_s` and is retried `retries` times on transport errors
    and 5xx answers; 4xx answers are final. Errors name the proxy and the call.
    """

    def __init__(self, api_url: str, *, timeout_s: float = 2.0, retries: int = 3,
                 backoff_s: float = 0.05) -> None:
        self.api_url = api_url.rstrip("/")
        self._timeout_s = timeout_s
        self._retries = retries
        self._backoff_s = backoff_s
        self._http = httpx.AsyncClient(base_url=self.api_url, timeout=timeout_s)

    async def __aenter__(self) -> ToxiproxyClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- transport -----------------------------------------------------------------

    async def _call(self, method: str, path: str, *, target: str, action: str,
                    body: Any = None, ok_statuses: Sequence[int] = ()) -> httpx.Response:
        """Send with retries; return the response for 2xx or `ok_statuses`, else raise."""
        last = ""
        for attempt in range(self._retries + 1):
            if attempt:
                await anyio.sleep(self._backoff_s * (2 ** (attempt - 1)))
            try:
                response = await self._http.request(method, path, json=body)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.is_success or response.status_code in ok_statuses:
                return response
            last = f"HTTP {response.status_code} {_error_text(response)}"
            if response.status_code < 500:
                break
        raise ToxiproxyError(target, action, f"{last} ({method} {self.api_url}{path})")

    # -- server ----------------------------------------------------------------------

    async def version(self) -> str:
        response = await self._call("GET", "/version", target=self.api_url, action="version")
        try:
            return str(response.json()["version"])
        except ValueError:  # old servers answer plain text
            return response.text.strip()

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (the broad revert)."""
        await self._call("POST", "/reset", target=self.api_url, action="reset")

    async def populate(self, configs: Sequence[ProxyConfig]) -> list[Proxy]:
        response = await self._call("POST", "/populate", target=self.api_url, action="populate",
                                    body=[c.to_json() for c in configs])
        return [Proxy.from_json(p) for p in response.json()["proxies"]]

    # -- proxies ---------------------------------------------------------------------

    async def proxies(self) -> dict[str, Proxy]:
        response = await self._call("GET", "/proxies", target=self.api_url, action="list proxies")
        return {name: Proxy.from_json(p) for name, p in response.json().items()}

    async def get_proxy(self, name: str) -> Proxy:
        response = await self._call("GET", f"/proxies/{name}", target=name, action="get proxy")
        return Proxy.from_json(response.json())

    async def create_proxy(self, config: ProxyConfig) -> Proxy:
        response = await self._call("POST", "/proxies", target=config.name,
                                    action="create proxy", body=config.to_json())
        return Proxy.from_json(response.json())

    async def update_proxy(self, name: str, *, listen: str | None = None,
                           upstream: str | None = None, enabled: bool | None = None) -> Proxy:
        body = {k: v for k, v in (("listen", listen), ("upstream", upstream),
                                  ("enabled", enabled)) if v is not None}
        response = await self._call("POST", f"/proxies/{name}", target=name,
                                    action="update proxy", body=body)
        return Proxy.from_json(response.json())

    async def delete_proxy(self, name: str) -> None:
        """Delete a proxy; a proxy that is already gone counts as done."""
        await self._call("DELETE", f"/proxies/{name}", target=name, action="delete proxy",
                         ok_statuses=(404,))

    async def enable(self, name: str) -> Proxy:
        return await self.update_proxy(name, enabled=True)

    async def disable(self, name: str) -> Proxy:
        """Refuse new connections and close open ones."""
        return await self.update_proxy(name, enabled=False)

    # -- toxics ----------------------------------------------------------------------

    async def toxics(self, proxy: str) -> list[Toxic]:
        response = await self._call("GET", f"/proxies/{proxy}/toxics", target=proxy,
                                    action="list toxics")
        return [Toxic.from_json(t) for t in response.json()]

    async def add_toxic(self, proxy: str, name: str, spec: ToxicSpec, *,
                        stream: Stream = "downstream", toxicity: float = 1.0) -> Toxic:
        """Add a toxic. A 409 (it exists, e.g. a retried create that had succeeded) with the
        same type and stream is accepted and updated to the requested attributes."""
        body = {"name": name, "type": spec.type, "stream": stream, "toxicity": toxicity,
                "attributes": spec.attributes()}
        response = await self._call("POST", f"/proxies/{proxy}/toxics", target=proxy,
                                    action=f"add toxic {name}", body=body, ok_statuses=(409,))
        if response.status_code == 409:
            return await self.update_toxic(proxy, name, spec, toxicity=toxicity)
        return Toxic.from_json(response.json())

    async def update_toxic(self, proxy: str, name: str, spec: ToxicSpec | None = None, *,
                           toxicity: float | None = None) -> Toxic:
        body: dict[str, Any] = {}
        if spec is not None:
            body["attributes"] = spec.attributes()
        if toxicity is not None:
            body["toxicity"] = toxicity
        response = await self._call("PATCH", f"/proxies/{proxy}/toxics/{name}", target=proxy,
                                    action=f"update toxic {name}", body=body)
        return Toxic.from_json(response.json())

    async def delete_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic; a toxic (or proxy) that is already gone counts as done."""
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", target=proxy,
                         action=f"delete toxic {name}", ok_statuses=(404,))


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", "")).strip()
    except ValueError:
        return response.text.strip()[:200]
