"""GC pacing of the testbed's component processes: frozen start-up objects, no allocation-driven
full collections, full collections on a clock. Run in a child process: it changes the
collector of the process it runs in."""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import gc, json
import anyio
from chaos.gcpacing import GCPacing

before = gc.get_threshold()
pacing = GCPacing(full_interval_s=0.05)
pacing.install()
installed = gc.get_threshold()
frozen = gc.get_freeze_count()

# Cyclic garbage that survives into the oldest generation: the default schedule would collect
# it with a full collection; paced, only the clock does.
class Node:
    pass
def cycles(n):
    keep = []
    for _ in range(n):
        a, b = Node(), Node()
        a.other, b.other = b, a
        keep.append(a)
    return keep
held = cycles(50_000)
gc.collect(1); gc.collect(1)  # promote into the oldest generation, as a long stream's objects are
del held
full_before = gc.get_stats()[2]["collections"]
for _ in range(2000):
    cycles(100)  # allocation churn that drives young collections
auto_full = gc.get_stats()[2]["collections"] - full_before

async def main():
    with anyio.move_on_after(0.3):
        await pacing.run_forever()
anyio.run(main)
pacing.uninstall()
print(json.dumps({"before": before, "installed": installed, "frozen": frozen,
                  "auto_full": auto_full, "paced": pacing.full_collections,
                  "pause": pacing.max_full_pause_s, "after": gc.get_threshold(),
                  "left": sum(1 for o in gc.get_objects() if type(o).__name__ == "Node")}))
"""


def test_pacing_freezes_start_up_and_moves_full_collections_to_a_clock() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True,
                         timeout=60)
    r = json.loads(out.stdout)
    assert r["frozen"] > 1000  # modules, classes, config: never walked again
    assert r["installed"][:2] == r["before"][:2]  # young generations keep CPython's schedule
    assert r["installed"][2] > 100_000  # the oldest one is never collected by allocation
    assert r["auto_full"] == 0
    assert r["paced"] >= 3
    assert r["pause"] > 0
    assert r["left"] == 0  # the clock's collections reclaimed the old cyclic garbage
    assert r["after"] == r["before"]
