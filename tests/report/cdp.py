"""A headless Chromium for tests, driven over the Chrome DevTools Protocol.

Debian's `chromium` runs the page; `websocket-client` (PyPI) carries the protocol: no
browser is downloaded at run time, and every console message, exception and network request
of the page is seen.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import websocket

Event = dict[str, Any]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab: commands wait for their answer; events are kept in arrival order."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.events: list[Event] = []

    def _receive(self, deadline: float) -> Event:
        self._ws.settimeout(max(0.05, deadline - time.monotonic()))
        message: Event = json.loads(self._ws.recv())
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 30.0) -> Any:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._receive(deadline)
            if message.get("id") == msg_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_event(self, method: str, *, timeout_s: float = 30.0) -> Event:
        for event in self.events:
            if event["method"] == method:
                return event
        deadline = time.monotonic() + timeout_s
        while True:
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return message

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str, *, timeout_s: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy (no fixed sleeps)."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s} s: {expression}")
            time.sleep(0.1)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description') or p['exceptionDetails'].get('text')}")
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", [])))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, *, width: int = 1400) -> Path:
        """A PNG of the whole page, as tall as its content."""
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def _wait_for(condition: Callable[[], Any], what: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"chromium: no {what} after {timeout_s} s")
        time.sleep(0.05)


@contextmanager
def chromium_page(workdir: Path, *, width: int = 1400, height: int = 1000) -> Iterator[Page]:
    """A headless Chromium with one blank tab, stopped on exit."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("chromium is not installed: scripts/setup.sh installs Debian's chromium")
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    log = (workdir / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={width},{height}",
         "about:blank"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        text = _wait_for(lambda: port_file.is_file() and port_file.read_text().strip(), "DevTools port", 60)
        port = int(text.splitlines()[0])

        def page_target() -> str | None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.load(r)
            return next((t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"), None)

        url = _wait_for(page_target, "page target", 30)
        ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        try:
            page = Page(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.send(f"{domain}.enable")
            yield page
        finally:
            ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def load(page: Page, path: Path, *, timeout_s: float = 60.0) -> None:
    """Open a local file and wait for its load event."""
    page.events.clear()
    page.send("Page.navigate", {"url": path.resolve().as_uri()})
    page.wait_event("Page.loadEventFired", timeout_s=timeout_s)
