"""HTTP actions for operator endpoints (region drain, the provider simulator's fault switch)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from chaos.errors import FaultError


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request and the status that proves it worked."""

    method: str
    url: str
    body: Any = None
    expect_status: int = 200

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "body": self.body,
                "expect_status": self.expect_status}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> HttpRequest:
        return cls(method=str(data["method"]), url=str(data["url"]), body=data.get("body"),
                   expect_status=int(data.get("expect_status", 200)))


async def send_http(request: HttpRequest, *, timeout_s: float = 3.0, retries: int = 2,
                    action: str = "http", client: httpx.AsyncClient | None = None) -> int:
    """Send; retry on transport errors and unexpected statuses; FaultError naming the URL after."""
    last = ""
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout_s)
    try:
        for attempt in range(retries + 1):
            if attempt:
                await anyio.sleep(0.1 * attempt)
            try:
                response = await http.request(
                    request.method, request.url,
                    json=request.body if request.body is not None else None, timeout=timeout_s)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                continue
            if response.status_code == request.expect_status:
                return response.status_code
            last = f"HTTP {response.status_code}, expected {request.expect_status}"
    finally:
        if own:
            await http.aclose()
    raise FaultError(request.url, f"{action} {request.method}", last)


SWITCH_HINT = ("is it a chaos fault switch (the testbed provider's /admin/fault, "
               "`chaos faultproxy`'s /__chaos/fault)?")


async def read_switch(url: str, *, timeout_s: float = 3.0, action: str = "read",
                      client: httpx.AsyncClient | None = None) -> Any:
    """The fault a fault switch says is on (`GET url` -> `{"fault": ...}`), None when off.
    FaultError naming the URL when it does not answer like a fault switch."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=timeout_s)
    try:
        try:
            response = await http.get(url, timeout=timeout_s)
        except httpx.HTTPError as exc:
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise FaultError(url, f"{action} GET", detail) from None
    finally:
        if own:
            await http.aclose()
    if response.status_code != 200:
        raise FaultError(url, f"{action} GET", f"HTTP {response.status_code}, expected 200: {SWITCH_HINT}")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "fault" not in body:
        raise FaultError(url, f"{action} GET", f"the answer has no `fault` field: {SWITCH_HINT}")
    return body["fault"]


def describe_switch(value: Any) -> str:
    """A fault switch state for a message: `off` or its JSON."""
    return "off" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))
