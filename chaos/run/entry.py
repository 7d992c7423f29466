"""The synchronous entry for the CLI and the pytest plugin: one event loop per run, and
(optionally) SIGINT/SIGTERM turned into a clean interruption (revert, evidence, exit 130)."""

from __future__ import annotations

import signal

import anyio
from rich.console import Console

from chaos.run.options import RunOptions, RunResult
from chaos.run.orchestrator import run_drill
from chaos.spec import Drill, Environment


def run_drill_sync(
    drill: Drill,
    env: Environment,
    options: RunOptions | None = None,
    *,
    handle_signals: bool = False,
    console: Console | None = None,
) -> RunResult:
    """Run a drill to its end. With `handle_signals` (the CLI), the first SIGINT or SIGTERM
    interrupts the run: every fault is reverted and the evidence is written as interrupted."""

    async def main() -> RunResult:
        interrupt = anyio.Event()
        result: list[RunResult] = []
        async with anyio.create_task_group() as tg:
            if handle_signals:
                tg.start_soon(_watch_signals, interrupt, console)

            async def run() -> None:
                result.append(await run_drill(drill, env, options, interrupt=interrupt, console=console))
                tg.cancel_scope.cancel()

            tg.start_soon(run)
        return result[0]

    return anyio.run(main, backend="asyncio")


async def _watch_signals(interrupt: anyio.Event, console: Console | None) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            (console or Console(stderr=True)).print(
                f"[bold red]{signal.Signals(signum).name}: stopping the drill, reverting every fault...[/]"
            )
            interrupt.set()
