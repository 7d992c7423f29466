"""Grafana annotations: the drill's phases, faults and verdict pushed to the team's dashboards
through Grafana's HTTP annotations API (`POST /api/annotations`, `PATCH /api/annotations/:id`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from chaos.errors import ChaosError
from chaos.redact import redact_text, redact_value

TIMEOUT_S = 3.0  # a slow Grafana must not hold up the drill's own bookkeeping


class GrafanaError(ChaosError):
    """An annotation Grafana did not accept. The message names the URL and status, never the
    token."""

    def __init__(self, url: str, action: str, detail: str) -> None:
        self.url, self.action, self.detail = url, action, detail
        super().__init__(f"grafana {action} {url}: {detail}")


@dataclass(frozen=True, slots=True)
class AnnotatorStatistics:
    posted: int
    patched: int
    failed: int


def _ms(t: float) -> int:
    return round(t * 1000)


class GrafanaAnnotator:
    """One Grafana, one token, the drill's tags on every annotation (and the dashboard's uid
    when given: then they show on that dashboard; without it they are organisation
    annotations a dashboard shows through a tag query)."""

    def __init__(self, url: str, token: str, *, dashboard_uid: str | None = None,
                 tags: Sequence[str] = (), client: httpx.AsyncClient | None = None) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.dashboard_uid = dashboard_uid
        self.tags = tuple(tags)
        self._client = client
        self._posted = self._patched = self._failed = 0

    async def annotate(self, text: str, start: float, end: float | None = None,
                       tags: Sequence[str] = ()) -> int:
        """A point annotation at `start` (wall clock, s), or a region up to `end`; its id."""
        body: dict[str, Any] = {"time": _ms(start), "text": text, "tags": [*self.tags, *tags]}
        if end is not None:
            body["timeEnd"] = _ms(end)
        if self.dashboard_uid:
            body["dashboardUID"] = self.dashboard_uid
        doc = await self._send("POST", "/api/annotations", body)
        self._posted += 1
        ident = doc.get("id") if isinstance(doc, dict) else None
        if not isinstance(ident, int):
            self._failed += 1
            raise GrafanaError(self.url + "/api/annotations", "POST", "the answer carries no annotation id")
        return ident

    async def extend(self, ident: int, text: str, start: float, end: float,
                     tags: Sequence[str] = ()) -> None:
        """Turn annotation `ident` into the region start..end with a new text and tags."""
        await self._send("PATCH", f"/api/annotations/{ident}", {
            "time": _ms(start), "timeEnd": _ms(end), "text": text, "tags": [*self.tags, *tags]})
        self._patched += 1

    def statistics(self) -> AnnotatorStatistics:
        return AnnotatorStatistics(self._posted, self._patched, self._failed)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _send(self, method: str, path: str, body: dict[str, Any]) -> object:
        url = self.url + path
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=TIMEOUT_S, trust_env=False)
        try:
            response = await self._client.request(
                method, url, json=redact_value(body), headers={"Authorization": f"Bearer {self._token}",
                                                 "Accept": "application/json"})
        except httpx.HTTPError as exc:
            self._failed += 1
            raise GrafanaError(url, method, self._clean(type(exc).__name__)) from None
        if response.status_code != 200:
            self._failed += 1
            message = ""
            try:
                doc = response.json()
                message = str(doc.get("message", "")) if isinstance(doc, dict) else ""
            except ValueError:
                pass
            raise GrafanaError(url, method, self._clean(
                f"HTTP {response.status_code}" + (f" ({message[:120]})" if message else "")))
        try:
            return response.json()
        except ValueError:
            return None

    def _clean(self, text: str) -> str:
        """By value: whatever a server echoes, the token does not leave in an error."""
        return redact_text(text.replace(self._token, "<redacted>") if len(self._token) >= 4 else text)
