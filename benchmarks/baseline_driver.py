"""Run the load driver of another checkout of this project (a git worktree that
benchmarks/load_driver.py --baseline made), as load_driver.py runs the current one: one
worker, closed model, `CONNECTIONS` streams for `SECONDS`, CPU from its worker's windows.

    python benchmarks/baseline_driver.py TREE URL SECONDS CONNECTIONS

Run it with TREE as the working directory and on PYTHONPATH, so that the worker process
imports TREE's `chaos`, not the installed one. A tree from before protocol profiles
(issue 15) sends its own request body and reads the testbed dialect's way; a later one
reads through `OpenAIProfile(model="bench")`. Prints `<2xx requests> <CPU seconds>`.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if len(sys.argv) != 5:
        raise SystemExit(__doc__.split("\n\n")[1].strip())
    tree, url, seconds, connections = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    sys.path.insert(0, tree)
    import anyio

    from chaos.load import LoadConfig, LoadController

    extra = {}
    # Asked by path: an editable install of this project would answer the import otherwise.
    if os.path.isdir(os.path.join(tree, "chaos", "protocols")):
        from chaos.protocols import OpenAIProfile

        extra = {"protocol": OpenAIProfile(model="bench"), "message": "hi"}
    windows: list = []
    config = LoadConfig(url=url, streams=connections, hold_s=seconds, graceful_s=2.0, workers=1, **extra)
    summary = anyio.run(LoadController(config, windows.append, startup_s=1.0).run)
    cpu_s = sum(w.cpu_percent / 100.0 * (w.end - w.start) for w in windows)
    print(summary.counts["2xx"], f"{cpu_s:.3f}")


if __name__ == "__main__":  # the worker processes import this module too (spawn)
    main()
