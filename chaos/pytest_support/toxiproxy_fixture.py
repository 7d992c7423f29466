"""The `toxiproxy` fixture's object: a synchronous face of the framework's Toxiproxy client
that remembers every toxic and disabled proxy of the test and undoes them at teardown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from chaos.faults.toxics import TOXIC_PREFIX, Stream, Toxic, ToxicSpec
from chaos.faults.toxiproxy import Proxy, ToxiproxyClient

T = TypeVar("T")

# Toxics added through the fixture are named "chaos_pytest_<name>": `chaos cleanup --env`
# removes them too if a test process dies before its teardown.
FIXTURE_PREFIX = f"{TOXIC_PREFIX}pytest_"


class TestToxiproxy:
    """Add toxics and disable proxies during a test; `restore()` (the fixture's teardown)
    removes every toxic added and re-enables every proxy disabled, and verifies it."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, api_url: str, *, timeout_s: float = 5.0) -> None:
        self.api_url = api_url
        self._timeout_s = timeout_s
        self._added: list[tuple[str, str]] = []  # (proxy, toxic name), in order added
        self._disabled: list[str] = []

    def _call(self, fn: Callable[[ToxiproxyClient], Awaitable[T]]) -> T:
        async def main() -> T:
            async with ToxiproxyClient(self.api_url, timeout_s=self._timeout_s) as client:
                return await fn(client)

        return anyio.run(main, backend="asyncio")

    # -- reading ------------------------------------------------------------------------
    def proxies(self) -> dict[str, Proxy]:
        return self._call(lambda c: c.proxies())

    def toxics(self, proxy: str) -> list[Toxic]:
        return self._call(lambda c: c.toxics(proxy))

    # -- faults (undone at teardown) ----------------------------------------------------
    def add_toxic(self, proxy: str, name: str, spec: ToxicSpec, *,
                  stream: Stream = "downstream", toxicity: float = 1.0) -> Toxic:
        full = name if name.startswith(TOXIC_PREFIX) else FIXTURE_PREFIX + name
        self._added.append((proxy, full))  # before the call: a timed-out add may still land
        return self._call(lambda c: c.add_toxic(proxy, full, spec, stream=stream, toxicity=toxicity))

    def remove_toxic(self, proxy: str, name: str) -> None:
        full = name if name.startswith(TOXIC_PREFIX) else FIXTURE_PREFIX + name
        self._call(lambda c: c.delete_toxic(proxy, full))

    def disable(self, proxy: str) -> Proxy:
        """Refuse new connections and close open ones (re-enabled at teardown)."""
        self._disabled.append(proxy)
        return self._call(lambda c: c.disable(proxy))

    def enable(self, proxy: str) -> Proxy:
        return self._call(lambda c: c.enable(proxy))

    # -- teardown -----------------------------------------------------------------------
    def restore(self) -> list[str]:
        """Undo everything this test did, newest first; return what is still left (empty when
        the Toxiproxy is back as the test found it)."""

        async def main() -> list[str]:
            async with ToxiproxyClient(self.api_url, timeout_s=self._timeout_s) as client:
                for proxy, name in reversed(self._added):
                    await client.delete_toxic(proxy, name)
                for proxy in reversed(self._disabled):
                    await client.enable(proxy)
                left: list[str] = []
                proxies = await client.proxies()
                for proxy, name in self._added:
                    if proxy in proxies and any(t.name == name for t in await client.toxics(proxy)):
                        left.append(f"toxic {name} on {proxy}")
                left += [f"proxy {p} disabled" for p in self._disabled
                         if p in proxies and not proxies[p].enabled]
                return left

        return anyio.run(main, backend="asyncio")
