"""A real drill-shaped subprocess for interruption tests.

`python -m tests.faults.drill_child <toxiproxy_api> <run_dir> [--container NAME]`

Like the runner (chaos/run) it starts a watchdog, turns SIGINT/SIGTERM into cancelling its
task group, and applies faults through a FaultSession: proxy `a` disabled, a latency and a
blackhole toxic on `b`, optionally a container paused. It prints `applying` before the first
fault and `active` once all are in effect, then waits to be interrupted. Exit 130 after the
session reverted everything; the watchdog is released only on that clean path.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import anyio

from chaos.faults import FaultSession, Primitive, Targets, start_watchdog


def toxic(name: str, type_: str, **attributes: int) -> Primitive:
    return Primitive("toxiproxy.toxic", "b", {"name": f"chaos_{name}", "type": type_,
                                              "stream": "downstream", "toxicity": 1.0,
                                              "attributes": attributes})


async def drill(api: str, run_dir: Path, container: str | None) -> int:
    targets = Targets(toxiproxy_api=api, runtime="docker" if container else "none")
    interrupted = False
    async with anyio.create_task_group() as tg:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async def watch_signals() -> None:
                nonlocal interrupted
                async for _ in signals:
                    interrupted = True
                    tg.cancel_scope.cancel()
                    return

            tg.start_soon(watch_signals)
            async with FaultSession(None, targets=targets, run_dir=run_dir,
                                    run_id=run_dir.name) as session:
                print("applying", flush=True)
                await session.apply_primitives("cut-a", [Primitive("toxiproxy.disable", "a")])
                await session.apply_primitives("slow-b", [toxic("lat", "latency", latency=200)])
                await session.apply_primitives("hole-b", [toxic("hole", "timeout", timeout=0)])
                if container:
                    await session.apply_primitives("pause", [Primitive("docker.pause", container)])
                print("active", flush=True)
                await anyio.sleep_forever()
    return 130 if interrupted else 0


def main() -> int:
    api, run_dir = sys.argv[1], Path(sys.argv[2])
    container = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--container" else None
    watchdog = start_watchdog(run_dir)
    code = anyio.run(drill, api, run_dir, container)
    watchdog.release()
    return code


if __name__ == "__main__":
    sys.exit(main())
