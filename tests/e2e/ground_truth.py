"""Ground truth for the framework's verdicts: seeded drill plans over the shipped fault scenarios,
and the join of a drill's evidence with the embedded testbed's own request logs.

The testbed's router and gateways write one JSON line per request when it ends
(chaos/testbed/requestlog.py: `ts` is the wall clock at the end). The router's line is what
the client was told: its HTTP status, or for a 200 stream `stream_error` when the router lost
the region mid-stream (it then ends the stream with an in-band `gateway_unhealthy` error) and
`client_disconnected` when the client went away first. The router relays a region's stream
without reading it, so whether a 200 stream that the router calls `ok` completed is the
gateway's line of the same request id: `ok`, `stream_error` with the in-band `error_code`
the gateway sent (chaos/testbed/gateway.py `_relay`, dialects.py `error_event`), or
`stream_truncated` for a provider stream it passed on without `[DONE]`.

Nothing here imports the evaluator: the server-side counts, phases and verdicts are recomputed
from the logs, the drill's timeline and the SLO catalog's numbers only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from chaos.recording import STATUS_CLASSES
from chaos.slo.catalog import tier as catalog_tier

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"

DEFAULT_SEED = 20260421
DEFAULT_DRILLS = 5
SEED_ENV = "CHAOS_GROUND_TRUTH_SEED"
DRILLS_ENV = "CHAOS_GROUND_TRUTH_DRILLS"
# A request whose server-side end lies this close to a phase boundary may be booked on either
# side: the client learns the outcome a little after the router logs it. Where the load driver
# itself reports event-loop lag at a boundary (a window's loop_lag_p99_ms), that lag is added:
# a driver that reads its sockets late books what it reads late, and says so.
EPSILON_S = 0.05
# Outcome classes that count with 5xx as server-side failures (README "Measurement").
SERVER_FAILURE_CLASSES = ("5xx", "transport", "broken", "truncated", "stalled", "malformed")
DISCONNECTED = "client_disconnected"
STREAMS = 20  # about this many concurrent streams per drill


def seed_from_env() -> int:
    raw = os.environ.get(SEED_ENV, "").strip()
    return int(raw) if raw else DEFAULT_SEED


def drills_from_env() -> int:
    raw = os.environ.get(DRILLS_ENV, "").strip()
    return max(1, int(raw)) if raw else DEFAULT_DRILLS


# -- drill plans ------------------------------------------------------------------------------

# Scenario kinds, each with the experiment file that ships it (None: written here only).
KINDS: dict[str, str | None] = {
    "provider_down": "provider-outage-down",
    "provider_stream_error": None,
    "provider_stream_truncate": None,
    "redis_loss": "redis-loss",
    "region_unplanned": "regional-failover-unplanned",
    "region_planned": "regional-failover",
    "provider_http_errors": "provider-outage",
    "provider_no_fallback": "provider-outage-no-fallback",
}
# The default (CI) size covers the provider's hard cut, its in-band errors and its streams
# passed on without [DONE], Redis, and the unplanned regional failover (streams broken at the
# cut); larger runs cycle through every kind.
CI_KINDS = ("provider_down", "provider_stream_error", "redis_loss", "region_unplanned",
            "provider_stream_truncate")
ROTATION = ("provider_down", "region_unplanned", "provider_stream_error", "redis_loss",
            "region_planned", "provider_http_errors", "provider_no_fallback",
            "provider_stream_truncate")


@dataclass(frozen=True)
class Plan:
    """One drill of the randomized set: a drill written here (`drill`) or a shipped experiment
    (`experiment`), run at `time_scale` and `load_scale`."""

    seed: int
    index: int
    kind: str
    style: str  # on-second | off-explicit | off-scaled | experiment
    time_scale: float
    load_scale: float
    workers: int = 1  # load worker processes (their windows are merged by the controller)
    drill: Mapping[str, Any] | None = None
    experiment: str | None = None

    @property
    def id(self) -> str:
        return f"{self.index}-{self.kind}-{self.style}"

    def path(self, directory: Path) -> Path:
        """The drill's file: the shipped experiment, or this plan's drill written to `directory`."""
        if self.experiment is not None:
            return EXPERIMENTS / f"{self.experiment}.yaml"
        out = directory / f"gt-{self.index}.yaml"
        out.write_text(yaml.safe_dump(dict(self.drill or {}), sort_keys=False), "utf-8")
        return out

    def describe(self) -> str:
        what = (f"experiments/{self.experiment}.yaml" if self.experiment
                else f"drill {self.drill['name'] if self.drill else '?'}")
        return (f"seed={self.seed} #{self.index} {self.kind} ({self.style}): {what} "
                f"--time-scale {self.time_scale:g} --load-scale {self.load_scale:g} "
                f"--workers {self.workers}")


def make_plans(seed: int, count: int) -> list[Plan]:
    """`count` drill plans drawn from `seed`: fault instants alternately on whole seconds and
    off them (explicit fractions like 7.37 s, or a --time-scale like 0.23 that makes them
    fractional, or a shipped experiment compressed to 14-22 s of load)."""
    rng = random.Random(seed)
    on_first = rng.random() < 0.5
    off_styles = ("off-explicit", "off-scaled", "experiment")
    off_next = rng.randrange(len(off_styles))
    out = []
    for i in range(count):
        kind = CI_KINDS[i] if count <= len(CI_KINDS) else ROTATION[i % len(ROTATION)]
        on_second = (i % 2 == 0) == on_first
        if on_second:
            style = "on-second"
        else:
            style = off_styles[off_next % len(off_styles)]
            off_next += 1
            if style == "experiment" and KINDS[kind] is None:
                style = rng.choice(off_styles[:2])
        if kind == "provider_no_fallback":
            style = "experiment"  # its point is the shipped drill's circuit limit and 5xx FAIL
        plan = _plan(rng, seed, i, kind, style)
        out.append(dataclasses.replace(plan, workers=rng.choice((1, 1, 2))))
    return out


def _plan(rng: random.Random, seed: int, index: int, kind: str, style: str) -> Plan:
    if style == "experiment":
        name = KINDS[kind]
        assert name is not None
        doc = yaml.safe_load((EXPERIMENTS / f"{name}.yaml").read_text("utf-8"))
        duration = _seconds(doc["duration"])
        time_scale = round(rng.uniform(14.0, 22.0) / duration, 4)
        load_scale = round(STREAMS / int(doc["load"]["streams"]), 4)
        return Plan(seed, index, kind, style, time_scale, load_scale, experiment=name)
    if style == "off-scaled":
        time_scale = round(rng.uniform(0.18, 0.29), 2)
        return Plan(seed, index, kind, style, time_scale, 1.0,
                    drill=_written_drill(rng, index, kind, time_scale, whole=True))
    return Plan(seed, index, kind, style, 1.0, 1.0,
                drill=_written_drill(rng, index, kind, 1.0, whole=style == "on-second"))


def _seconds(text: str) -> float:
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        total += float(value) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[unit]
    return total


def _written_drill(rng: random.Random, index: int, kind: str, time_scale: float,
                   whole: bool) -> dict[str, Any]:
    """A short drill of `kind`. Its instants (in run seconds) are whole seconds when `whole`
    and `time_scale` is 1, fractions off every whole second when not; with `time_scale` < 1
    they are written as whole drill seconds that the scale makes fractional."""

    def instant(run_s: float) -> str:
        """`run_s` run seconds as a drill duration."""
        if time_scale != 1.0:
            drill_s = round(run_s / time_scale)
            # Never let the scale land on a whole second: that is the on-second style's job.
            while abs(drill_s * time_scale - round(drill_s * time_scale)) < 0.03:
                drill_s += 1
            return f"{drill_s}s"
        if whole:
            return f"{round(run_s)}s"
        frac = rng.uniform(0.07, 0.93)
        return f"{int(run_s) + frac:.2f}s"

    region = kind.startswith("region")
    ramp_up = rng.uniform(1.0, 3.0)
    fault_at = ramp_up + rng.uniform(3.0, 5.0)
    fault_for = rng.uniform(3.0, 6.0)
    recovery = rng.uniform(3.0, 5.0)
    duration = fault_at + fault_for + recovery + 1.0
    think_ms = rng.choice((350, 450, 500, 500, 600))
    fault: dict[str, Any]
    faults: list[dict[str, Any]]
    if kind == "provider_down":
        faults = [{"id": "primary-down", "scenario": "provider_outage", "target": "primary",
                   "mode": "down"}]
    elif kind == "provider_stream_error":
        fault = {"id": "primary-stream-error", "scenario": "provider_outage", "target": "primary",
                 "mode": "stream_error", "after_chunks": rng.randint(1, 3)}
        if rng.random() < 0.5:
            fault["toxicity"] = f"{rng.choice((30, 50, 80))}%"
        if rng.random() < 0.5:
            fault["code"] = rng.choice(("server_error", "provider_overloaded"))
        faults = [fault]
    elif kind == "provider_stream_truncate":
        fault = {"id": "primary-stream-truncate", "scenario": "provider_outage",
                 "target": "primary", "mode": "stream_truncate", "after_chunks": rng.randint(1, 3)}
        if rng.random() < 0.5:
            fault["toxicity"] = f"{rng.choice((30, 50, 80))}%"
        faults = [fault]
    elif kind == "provider_http_errors":
        faults = [{"id": "primary-503", "scenario": "provider_outage", "target": "primary",
                   "mode": "http_errors", "status": 503, "retry_after": "1s"}]
    elif kind == "provider_no_fallback":
        faults = [{"id": route + "-503", "scenario": "provider_outage", "target": route,
                   "mode": "http_errors", "status": 503} for route in ("primary", "fallback")]
    elif kind == "redis_loss":
        faults = [{"id": "redis-lost", "scenario": "redis_loss", "target": "redis",
                   "mode": rng.choice(("kill", "network", "pause"))}]
    elif kind == "region_unplanned":
        faults = [{"id": "us-east-down", "scenario": "region_failover", "target": "us-east",
                   "mode": "network", "tier": "G"}]
    elif kind == "region_planned":
        faults = [{"id": "us-east-drained", "scenario": "region_failover", "target": "us-east",
                   "mode": "drain", "tier": "G", "overlaps": ["us-east-maintenance"]},
                  {"id": "us-east-maintenance", "scenario": "region_failover",
                   "target": "us-east", "mode": "network", "tier": "G",
                   "overlaps": ["us-east-drained"]}]
    else:
        raise ValueError(kind)
    if kind == "region_planned":
        cut_at = fault_at + fault_for * rng.uniform(0.2, 0.35)
        cut_for = fault_for * rng.uniform(0.4, 0.55)
        faults[0] |= {"at": instant(fault_at), "for": instant(fault_for)}
        faults[1] |= {"at": instant(cut_at), "for": instant(cut_for)}
    else:
        for f in faults:
            f |= {"at": instant(fault_at), "for": instant(fault_for)}
    return {
        "version": 1,
        "name": f"gt-{index}-{kind.replace('_', '-')}",
        "description": f"Ground-truth drill {index}: {kind} under about {STREAMS} streams.",
        "tier": "G" if region else "L",
        "duration": instant(duration),
        "load": {"model": "closed", "streams": rng.randint(STREAMS - 4, STREAMS + 4),
                 "think_time": f"{think_ms}ms", "ramp_up": instant(ramp_up),
                 "ramp_down": instant(1.0), "message": "hi"},
        "faults": faults,
        "steady_state": [{"name": "target-healthy",
                          "http": {"path": "/health", "expect_status": 200}}],
    }


# -- the server's side: the testbed's request logs ---------------------------------------------


@dataclass(frozen=True)
class ServerOutcome:
    """One request as the testbed logged it: the router's line (what the client was told),
    joined with the gateway's line of the same id for a 200 stream the router relayed."""

    rid: str
    ts: float  # the router's wall clock at the request's end
    cls: str  # an outcome class of chaos.recording.STATUS_CLASSES, DISCONNECTED, or "unknown"
    code: str | None
    status: int
    router_code: str
    gateway_code: str | None
    region: str | None


@dataclass
class ServerSide:
    outcomes: dict[str, ServerOutcome]  # by request id, client_disconnected included
    duplicates: list[str]  # request ids the router logged more than once
    unknown: list[ServerOutcome]  # lines that could not be classified

    def ended(self) -> list[ServerOutcome]:
        """Requests with an outcome the client saw (the driver's cancellations left out)."""
        return [o for o in self.outcomes.values() if o.cls != DISCONNECTED]

    def disconnected(self) -> list[ServerOutcome]:
        return [o for o in self.outcomes.values() if o.cls == DISCONNECTED]


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:  # a line still being written
                continue
    return out


def request_id_pattern(run_id: str) -> re.Pattern[str]:
    """The load driver's ids of this run: `<run id tail>-<worker>.<incarnation>-<n>`."""
    return re.compile(re.escape(run_id[-12:]) + r"-[A-Za-z0-9_]+\.\d+-\d+")


def _is_rate_limit(code: str | None) -> bool:
    lowered = (code or "").lower()
    return "rate_limit" in lowered or lowered in ("rate_limited", "too_many_requests", "429")


def classify(router: Mapping[str, Any], gateway: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """The outcome class of one request from the testbed's lines."""
    status = int(router["status"])
    code = router.get("code")
    if status == 200:
        if code == DISCONNECTED:
            return DISCONNECTED, None
        if code == "stream_error":  # the router lost the region mid-stream
            return "broken", "gateway_unhealthy"
        if code != "ok" or gateway is None:
            return "unknown", code
        gcode = gateway.get("code")
        if gcode == "ok":
            return "2xx", None
        if gcode == "stream_error":
            # The gateway ends a stream with an in-band error only after its first token.
            return "broken", gateway.get("error_code")
        if gcode == "stream_truncated":  # passed on without [DONE] (the /v1 dialect)
            return "truncated", None
        return "unknown", gcode
    if status == 429:
        return "429", code
    if 400 <= status < 500:
        return "4xx", code
    if status >= 500:
        return "5xx", code
    return "unknown", code


def server_side(log_dir: Path, run_id: str) -> ServerSide:
    pattern = request_id_pattern(run_id)
    gateways: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(log_dir.glob("gateway-*.log")):
        for line in read_lines(path):
            rid = line.get("request_id")
            if isinstance(rid, str) and pattern.fullmatch(rid):
                gateways.setdefault(rid, []).append(line)
    outcomes: dict[str, ServerOutcome] = {}
    duplicates: list[str] = []
    unknown: list[ServerOutcome] = []
    for line in read_lines(log_dir / "router.log"):
        rid = line.get("request_id")
        if not (isinstance(rid, str) and pattern.fullmatch(rid)):
            continue
        candidates = gateways.get(rid, [])
        # The router re-sends a request to the other region only when the first gave no head:
        # the line of the region that answered is the router's region's.
        mine = [g for g in candidates if g.get("region") == line.get("region")] or candidates
        gateway = mine[-1] if mine else None
        cls, code = classify(line, gateway)
        outcome = ServerOutcome(rid, float(line["ts"]), cls, code, int(line["status"]),
                                str(line.get("code")), None if gateway is None else gateway.get("code"),
                                line.get("region"))
        if rid in outcomes:
            duplicates.append(rid)
        outcomes[rid] = outcome
        if cls == "unknown":
            unknown.append(outcome)
    return ServerSide(outcomes, duplicates, unknown)


# -- the framework's side: evidence.json -------------------------------------------------------


@dataclass(frozen=True)
class PhaseRow:
    name: str
    kind: str
    start: float
    end: float
    tier: str | None


@dataclass
class FrameworkSide:
    run_id: str
    tier: str
    verdict: str
    phases: list[PhaseRow]
    windows: list[Mapping[str, Any]]  # deduplicated
    criteria: dict[str, Mapping[str, Any]]
    ledger: Mapping[str, Any]  # report.failed_requests
    faults: list[Mapping[str, Any]]
    started: int
    cancelled: int
    t0: float  # the load start (for readable offsets)

    @classmethod
    def read(cls, bundle: Path) -> FrameworkSide:
        doc = json.loads((bundle / "evidence.json").read_text("utf-8"))
        rec = doc["recording"]
        seen: dict[tuple[Any, ...], Mapping[str, Any]] = {}
        for w in rec["windows"]:
            seen.setdefault((w["worker_id"], w["incarnation"], w["seq"]), w)
        windows = list(seen.values())
        # The phases as the framework judged them (a fault phase ends at its verified revert,
        # on the window grid); older evidence: the timeline's scheduled instants.
        judged = doc["report"].get("booking", {}).get("phases") or doc["timeline"]
        phases = [PhaseRow(p["name"], p["kind"], p["start"], p["end"], p["tier"])
                  for p in judged if p["kind"] != "whole"]
        return cls(
            run_id=doc["run_id"], tier=doc["report"]["tier"], verdict=doc["verdict"],
            phases=phases, windows=windows, criteria={c["id"]: c for c in doc["criteria"]},
            ledger=doc["report"].get("failed_requests") or {}, faults=doc["faults"],
            started=sum(w["started"] for w in windows),
            cancelled=sum(w.get("cancelled", 0) for w in windows),
            t0=min(p.start for p in phases) if phases else rec["started_at"],
        )

    def window_failed(self) -> dict[str, tuple[str, str | None, float, float]]:
        """Every request a window named as failed: id -> (class, code, start, outcome instant)."""
        out = {}
        for w in self.windows:
            for rid, cls, code, start, at in w.get("failed", ()):
                out[rid] = (cls, code, start, at)
        return out

    @property
    def failed_unnamed(self) -> int:
        return sum(w.get("failed_more", 0) for w in self.windows)


# -- the joins ---------------------------------------------------------------------------------


def phase_of(phases: Sequence[PhaseRow], t: float) -> str | None:
    """The ledger's rule (chaos/slo/ledger.py): the earliest-starting phase containing `t`."""
    for p in sorted(phases, key=lambda p: p.start):
        if p.start <= t < p.end:
            return p.name
    return None


def phases_near(phases: Sequence[PhaseRow], t: float, eps: float) -> set[str | None]:
    return {phase_of(phases, t - eps), phase_of(phases, t), phase_of(phases, t + eps)}


@dataclass
class Segments:
    """The run cut at every phase boundary: segment 0 is before the first boundary, segment
    i in 1..n-1 is [bounds[i-1], bounds[i]), segment n is after the last one.

    `lag_s[b]` is the load driver's own event-loop lag (p99, the largest of the windows that
    end or start at boundary b, any worker): a driver that is late reading its sockets sees
    an outcome that late, so near b the client's instant may trail the server's by that much.
    """

    bounds: list[float]
    eps: float
    lag_s: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, fw: FrameworkSide, eps: float) -> Segments:
        bounds = sorted({b for p in fw.phases for b in (p.start, p.end)})
        lag = [max((w.get("loop_lag_p99_ms", 0.0) / 1000.0 for w in fw.windows
                    if abs(w["end"] - b) < 0.0015 or abs(w["start"] - b) < 0.0015), default=0.0)
               for b in bounds]
        return cls(bounds, eps, lag)

    def index(self, t: float) -> int:
        return bisect_right(self.bounds, t)

    def nearest_bound(self, t: float) -> tuple[int, float]:
        if not self.bounds:
            return 0, float("inf")
        i = min(range(len(self.bounds)), key=lambda j: abs(self.bounds[j] - t))
        return i, abs(self.bounds[i] - t)

    def tolerance(self, t: float, *, with_lag: bool = True) -> float:
        """How far from the nearest boundary an end instant at `t` may be booked across it."""
        i, _ = self.nearest_bound(t)
        return self.eps + (self.lag_s[i] if with_lag and self.bounds else 0.0)

    def __len__(self) -> int:
        return len(self.bounds) + 1


@dataclass
class Judgement:
    """Everything compared for one drill; `errors` are the disagreements (empty: they agree)."""

    plan: Plan
    fw: FrameworkSide
    server: ServerSide
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    borderline: int = 0  # server end within eps of a phase boundary
    lag_borderline: int = 0  # further than eps, but within eps + the driver's loop lag there
    crossed: int = 0  # borderline requests the framework booked across the boundary from the server
    crossed_beyond_eps: bool = False  # the counts needed the driver-lag allowance
    tolerated: int = 0  # rate verdicts that differ from the server's only through borderline requests
    verdicts: list[tuple[str, str, str, str]] = field(default_factory=list)  # id, fw, server, n/d

    def render(self) -> str:
        head = [f"== ground truth {self.plan.describe()}",
                f"   run {self.fw.run_id}: verdict {self.fw.verdict}; borderline requests (server "
                f"end within {EPSILON_S * 1000:.0f} ms of a phase boundary): {self.borderline}, "
                f"{self.lag_borderline} more within {EPSILON_S * 1000:.0f} ms + the driver's loop "
                f"lag there; booked on the other side of the boundary than the server's end "
                f"instant: {self.crossed}"
                + (f" (some more than {EPSILON_S * 1000:.0f} ms from it: driver lag)"
                   if self.crossed_beyond_eps else "")]
        tail = [f"   note: {n}" for n in self.notes]
        tail += [f"   DISAGREEMENT: {e}" for e in self.errors]
        return "\n".join(head + self.lines + tail)


def _fmt_counts(counts: Mapping[str, int]) -> str:
    shown = [f"{'complete' if c == '2xx' else c} {counts.get(c, 0)}" for c in STATUS_CLASSES
             if counts.get(c, 0) or c == "2xx"]
    extra = [f"{c} {n}" for c, n in counts.items() if c not in STATUS_CLASSES and n]
    return ", ".join(shown + extra)


def judge(plan: Plan, bundle: Path, log_dir: Path, *, eps: float = EPSILON_S) -> Judgement:
    fw = FrameworkSide.read(bundle)
    server = server_side(log_dir, fw.run_id)
    j = Judgement(plan, fw, server)
    seg = Segments.of(fw, eps)
    _totals(j)
    _counts(j, seg)
    _ledger(j, seg)
    _verdicts(j, seg)
    _circuits(j)
    return j


def _totals(j: Judgement) -> None:
    fw, server = j.fw, j.server
    n_logged = len(server.outcomes)
    j.lines.append(f"   requests: framework started {fw.started}, ended "
                   f"{fw.started - fw.cancelled}, cancelled at the end {fw.cancelled}; router logged "
                   f"{n_logged} ({len(server.disconnected())} client_disconnected)")
    # Phases are the scheduled fault instants (docs/evidence.md "Totals"); the fault takes
    # effect and is undone a little later (verified instants). What ended in between is shown.
    failed = [o for o in server.ended() if o.cls != "2xx"]
    for f in fw.faults:
        applied, reverted = f.get("applied_at"), f.get("reverted_at")
        if applied is None or reverted is None:
            continue
        early = sum(1 for o in failed if f["scheduled_at"] <= o.ts < applied)
        late = sum(1 for o in failed if f["scheduled_end"] <= o.ts < reverted)
        j.lines.append(
            f"   fault {f['id']}: scheduled [+{f['scheduled_at'] - fw.t0:.3f}, "
            f"+{f['scheduled_end'] - fw.t0:.3f}) s, applied {(applied - f['scheduled_at']) * 1000:+.0f} "
            f"ms and reverted {(reverted - f['scheduled_end']) * 1000:+.0f} ms from there; failed "
            f"requests ended in the apply lag {early}, in the revert lag {late}")
    if server.duplicates:
        j.errors.append(f"request ids logged twice by the router: {server.duplicates[:10]}")
    for o in server.unknown:
        j.errors.append(f"request {o.rid}: router {o.status} {o.router_code}, gateway "
                        f"{o.gateway_code}: no outcome class")
    if n_logged != fw.started:
        j.errors.append(f"the framework started {fw.started} requests, the router logged {n_logged}")
    # Every request the driver cancelled at the end is one the router saw the client leave;
    # a client-side abandon (stall, timeout) is one too.
    abandoned = sum(w["counts"].get("stalled", 0) + w.get("transport", {}).get("timeout", 0)
                    for w in fw.windows)
    if len(server.disconnected()) != fw.cancelled + abandoned:
        j.errors.append(f"router client_disconnected {len(server.disconnected())} != framework "
                        f"cancelled {fw.cancelled} + stalled/timed out {abandoned}")


def _counts(j: Judgement, seg: Segments) -> None:
    """(a) Per phase and class, requests by the instant of their outcome: the framework's
    windows (cut at every phase boundary) against the router's end instants."""
    fw, server = j.fw, j.server
    n = len(seg)
    fw_counts = [Counter[str]() for _ in range(n)]
    for w in fw.windows:
        i = seg.index((w["start"] + w["end"]) / 2.0)
        lo = seg.bounds[i - 1] if i > 0 else float("-inf")
        hi = seg.bounds[i] if i < len(seg.bounds) else float("inf")
        if w["start"] < lo - 0.0015 or w["end"] > hi + 0.0015:
            j.errors.append(f"window {w['worker_id']}.{w['incarnation']}#{w['seq']} "
                            f"[+{w['start'] - fw.t0:.3f}, +{w['end'] - fw.t0:.3f}) straddles a "
                            "phase boundary")
        fw_counts[i].update({c: k for c, k in w["counts"].items() if k})
    for o in server.ended():
        _, dist = seg.nearest_bound(o.ts)
        if dist <= seg.eps:
            j.borderline += 1
        elif dist <= seg.tolerance(o.ts):
            j.lag_borderline += 1
    _phase_table(j, seg, fw_counts)
    strict_ok = not _walk(fw_counts, server, seg, with_lag=False)
    problems = _walk(fw_counts, server, seg, with_lag=True, j=j)
    j.crossed_beyond_eps = not strict_ok and not problems
    for cls, rows in problems:
        j.errors.append(f"(a) class {cls}: the framework's per-phase counts are not the server's "
                        "even with the borderline requests on either side: " + "; ".join(rows))
    if j.crossed_beyond_eps:
        lags = ", ".join(f"+{b - fw.t0:.3f} s: {lag * 1000:.0f} ms"
                         for b, lag in zip(seg.bounds, seg.lag_s, strict=True) if lag > 0.02)
        j.notes.append("the per-phase counts agree only when requests that ended at the server "
                       f"more than {seg.eps * 1000:.0f} ms before or after a boundary may be "
                       "booked across it by the driver's own loop lag at that boundary (window "
                       f"loop_lag_p99_ms; over 20 ms at {lags or 'none'})")


def _walk(fw_counts: Sequence[Counter[str]], server: ServerSide, seg: Segments, *,
          with_lag: bool, j: Judgement | None = None) -> list[tuple[str, list[str]]]:
    """Whether the framework's per-segment counts are reachable from the server's end instants
    when each boundary's borderline requests may be booked on either side of it; the classes
    that are not, each with its differing segments (and, with `j`, the crossings counted)."""
    n = len(seg)
    strict = [Counter[str]() for _ in range(n)]
    border = [Counter[str]() for _ in seg.bounds]
    border_left = [Counter[str]() for _ in seg.bounds]  # of those, ended before the boundary
    ids_in = [dict[str, list[str]]() for _ in range(n)]
    for o in server.ended():
        b, dist = seg.nearest_bound(o.ts)
        if dist <= seg.tolerance(o.ts, with_lag=with_lag):
            border[b][o.cls] += 1
            border_left[b][o.cls] += o.ts < seg.bounds[b]
        else:
            i = seg.index(o.ts)
            strict[i][o.cls] += 1
            ids_in[i].setdefault(o.cls, []).append(o.rid)
    classes = sorted(set().union(*fw_counts, *strict, *border), key=_class_order)
    problems = []
    crossed = 0
    for cls in classes:
        # Walk the segments in order: each boundary's borderline requests are booked partly
        # before it (a) and the rest after it; the counts must be reachable that way.
        carry, feasible = 0, True
        for s in range(n - 1):  # the segment after the last phase (the drain) is not judged
            a = fw_counts[s][cls] - strict[s][cls] - carry
            if not 0 <= a <= border[s][cls]:
                feasible = False
                break
            crossed += abs(a - border_left[s][cls])
            carry = border[s][cls] - a
        if not feasible:
            problems.append((cls, _differing(fw_counts, strict, border, border_left, ids_in,
                                             seg, cls, j)))
    if j is not None:
        j.crossed = crossed
    return problems


def _differing(fw_counts: Sequence[Counter[str]], strict: Sequence[Counter[str]],
               border: Sequence[Counter[str]], border_left: Sequence[Counter[str]],
               ids_in: Sequence[dict[str, list[str]]], seg: Segments, cls: str,
               j: Judgement | None) -> list[str]:
    rows: list[str] = []
    if j is None:
        return rows
    fw = j.fw
    ledger = fw.window_failed()
    for s in range(1, len(seg) - 1):
        by_ts = strict[s][cls] + border_left[s][cls] + border[s - 1][cls] - border_left[s - 1][cls]
        if fw_counts[s][cls] == by_ts:
            continue
        mid = (seg.bounds[s - 1] + seg.bounds[s]) / 2.0
        names = "/".join(p.name for p in fw.phases if p.start <= mid < p.end)
        ids = ""
        if cls != "2xx":  # windows name failed requests only
            fw_ids = {rid for rid, (c, _, _, at) in ledger.items()
                      if c == cls and seg.index(at) == s}
            sv_ids = set(ids_in[s].get(cls, []))
            ids = (f"; named by the framework only {sorted(fw_ids - sv_ids)[:12]}, logged "
                   f"by the server only {sorted(sv_ids - fw_ids)[:12]}")
        rows.append(f"[+{seg.bounds[s - 1] - fw.t0:.3f}, +{seg.bounds[s] - fw.t0:.3f}) s "
                    f"({names}): framework {fw_counts[s][cls]}, server {by_ts} by end instant "
                    f"(borderline {border[s - 1][cls]} at its start, {border[s][cls]} at its "
                    f"end; driver loop lag there {seg.lag_s[s - 1] * 1000:.0f} / "
                    f"{seg.lag_s[s] * 1000:.0f} ms){ids}")
    return rows


def _phase_table(j: Judgement, seg: Segments, fw_counts: Sequence[Counter[str]]) -> None:
    """Each phase's counts, each side by its own booking (borderline requests shown apart)."""
    fw, server, eps = j.fw, j.server, seg.eps
    j.lines.append("   phase                          [start, end) s       framework | server "
                   "(by router end instant)")
    for p in fw.phases:
        f_c: Counter[str] = Counter()
        s_c: Counter[str] = Counter()
        near = 0
        for w in fw.windows:
            if p.start <= (w["start"] + w["end"]) / 2.0 < p.end:
                f_c.update({c: k for c, k in w["counts"].items() if k})
        for o in server.ended():
            if p.start <= o.ts < p.end:
                s_c[o.cls] += 1
            if min(abs(o.ts - p.start), abs(o.ts - p.end)) <= eps:
                near += 1
        mark = "" if f_c == s_c else "  (differs)"
        j.lines.append(f"   {p.name:30s} [{p.start - fw.t0:7.3f}, {p.end - fw.t0:7.3f})  "
                       f"{_fmt_counts(f_c)} | {_fmt_counts(s_c)}; borderline {near}{mark}")
    after = seg.bounds[-1] if seg.bounds else float("inf")
    f_after = fw_counts[-1]
    s_after = Counter(o.cls for o in server.ended() if o.ts >= after + eps)
    if f_after or s_after:
        j.lines.append(f"   {'after the load (not judged)':30s} {'':18s}  {_fmt_counts(f_after)} "
                       f"| {_fmt_counts(s_after)}")


def _class_order(cls: str) -> int:
    return STATUS_CLASSES.index(cls) if cls in STATUS_CLASSES else len(STATUS_CLASSES)


def _ledger(j: Judgement, seg: Segments) -> None:
    """(b) Every request of the framework's failed-request ledger is in the router's log with a
    non-complete outcome of the same class, in the same phase (by the server's end instant)."""
    fw, server = j.fw, j.server
    shown = fw.ledger.get("shown", [])
    lags = []
    for row in shown:
        o = server.outcomes.get(row["id"])
        if o is None:
            j.errors.append(f"(b) ledger request {row['id']} ({row['cls']}) is not in the router's log")
            continue
        if o.cls in ("2xx", DISCONNECTED):
            j.errors.append(f"(b) ledger request {row['id']} ({row['cls']} {row['code']}) was "
                            f"{o.cls} at the server (router {o.status} {o.router_code}, gateway "
                            f"{o.gateway_code})")
            continue
        if o.cls != row["cls"]:
            j.errors.append(f"(b) ledger request {row['id']}: class {row['cls']} {row['code']}, "
                            f"server {o.cls} {o.code}")
        elif (o.code or None) != (row["code"] or None):
            j.errors.append(f"(b) ledger request {row['id']}: code {row['code']}, server {o.code}")
        if row["phase"] not in phases_near(fw.phases, o.ts, seg.tolerance(o.ts)):
            j.errors.append(f"(b) ledger request {row['id']} ({row['cls']}): framework phase "
                            f"{row['phase']} (outcome at +{row['outcome_at'] - fw.t0:.3f} s), "
                            f"server phase {phase_of(fw.phases, o.ts)} (end at +{o.ts - fw.t0:.3f} s)")
        elif row["phase"] not in phases_near(fw.phases, o.ts, seg.eps):
            j.notes.append(f"ledger request {row['id']} ({row['cls']}) is booked in {row['phase']} "
                           f"(outcome at +{row['outcome_at'] - fw.t0:.3f} s), the server ended it in "
                           f"{phase_of(fw.phases, o.ts)} (+{o.ts - fw.t0:.3f} s): more than "
                           f"{seg.eps * 1000:.0f} ms across, within the driver's loop lag there")
        lags.append(row["outcome_at"] - o.ts)
    # The other way round: every failure the server logged is named by some window, unless
    # windows counted more failures than they name.
    named = fw.window_failed()
    failed_server = {o.rid for o in server.ended() if o.cls != "2xx"}
    missing = sorted(failed_server - set(named))
    if len(missing) > fw.failed_unnamed:
        j.errors.append(f"(b) {len(missing)} requests failed at the server but no window names "
                        f"them (windows left {fw.failed_unnamed} unnamed): {missing[:12]}")
    extra = sorted(set(named) - failed_server)
    if extra:
        j.errors.append(f"(b) windows name {len(extra)} failed requests the server saw complete "
                        f"or never logged: "
                        + ", ".join(f"{r} ({named[r][0]}; server "
                                    f"{server.outcomes[r].cls if r in server.outcomes else 'none'})"
                                    for r in extra[:12]))
    if lags:
        ms = sorted(abs(x) * 1000 for x in lags)
        j.lines.append(f"   ledger: {len(shown)} shown of {fw.ledger.get('total')} failed "
                       f"(per phase {fw.ledger.get('per_phase')}), every one joined; client outcome "
                       f"instant - server end: median {ms[len(ms) // 2]:.1f} ms, max {ms[-1]:.1f} ms")
    else:
        j.lines.append(f"   ledger: {len(shown)} failed requests shown (total "
                       f"{fw.ledger.get('total')})")


_RATE = re.compile(r"tier_([a-z])\.(rate_2xx|rate_5xx|rate_429)@(.+)")


def _numerator(name: str, counts: Mapping[str, int]) -> int:
    if name == "rate_2xx":
        return counts.get("2xx", 0)
    if name == "rate_429":
        return counts.get("429", 0)
    return sum(counts.get(c, 0) for c in SERVER_FAILURE_CLASSES)


def _verdict(name: str, num: int, den: int, limit: float) -> str:
    if den == 0:
        return "INCONCLUSIVE"
    ratio, bound = Fraction(num, den), Fraction(repr(limit))
    ok = ratio >= bound if name == "rate_2xx" else ratio <= bound
    return "PASS" if ok else "FAIL"


def _verdicts(j: Judgement, seg: Segments) -> None:
    """(c) Every Tier rate criterion recomputed from the server's counts with the catalog's
    threshold of the drill's tier: the same verdict (borderline requests may fall either way)."""
    fw, server = j.fw, j.server
    judged = [p for p in fw.phases if p.tier is not None and p.end > p.start]
    ended = server.ended()
    for cid, c in sorted(j.fw.criteria.items()):
        m = _RATE.fullmatch(cid)
        if m is None:
            continue
        tier_name, name, scope = m.group(1).upper(), m.group(2), m.group(3)
        intervals = ([(p.start, p.end) for p in judged] if scope == "run"
                     else [(p.start, p.end) for p in judged if p.name == scope])
        if not intervals:
            j.errors.append(f"(c) {cid}: no phase {scope} in the timeline")
            continue
        limit = catalog_tier(tier_name).threshold(name)
        if c["threshold"] is not None and abs(c["threshold"] - limit * 100.0) > 1e-9:
            j.errors.append(f"(c) {cid}: threshold {c['threshold']} % is not the catalog's "
                            f"Tier {tier_name} {limit * 100:g} %")
        by_ts: Counter[str] = Counter()  # every request by its server-side end instant
        inside: Counter[str] = Counter()  # of those, the ones not near an edge of the scope
        either: Counter[str] = Counter()  # near an edge: booked inside or outside by the client
        lagged: Counter[str] = Counter()  # of those, near it only with the driver's loop lag

        def within(t: float, ivs: Iterable[tuple[float, float]] = intervals) -> bool:
            return any(a <= t < b for a, b in ivs)

        for o in ended:
            here = within(o.ts)
            by_ts[o.cls] += here
            tol, tol_eps = seg.tolerance(o.ts), seg.eps
            if here != within(o.ts - tol) or here != within(o.ts + tol):
                either[o.cls] += 1
                if here == within(o.ts - tol_eps) == within(o.ts + tol_eps):
                    lagged[o.cls] += 1
            elif here:
                inside[o.cls] += 1
        num, den = _numerator(name, by_ts), sum(by_ts.values())
        exact = _verdict(name, num, den, limit)
        reachable = set()
        classes = sorted(either)
        for picks in product(*(range(either[k] + 1) for k in classes)):
            extra = Counter(dict(zip(classes, picks, strict=True)))
            reachable.add(_verdict(name, _numerator(name, inside) + _numerator(name, extra),
                                   sum(inside.values()) + sum(extra.values()), limit))
        details = c.get("details") or {}
        ratio = f"{details.get('numerator')}/{details.get('denominator')}"
        j.verdicts.append((cid, c["verdict"], exact, f"{ratio} vs {num}/{den}"))
        if c["verdict"] == exact:
            continue
        if c["verdict"] in reachable:
            j.tolerated += 1
            j.notes.append(f"{cid}: framework {c['verdict']} ({ratio}), server {exact} ({num}/{den} "
                           f"by end instant): the difference is borderline requests only "
                           f"({sum(either.values())}, of which {sum(lagged.values())} only within "
                           "the driver's loop lag of the edge)")
            continue
        j.errors.append(f"(c) {cid}: framework {c['verdict']} ({ratio}), server {exact} "
                        f"({num}/{den} by end instant; with the {sum(either.values())} borderline "
                        f"requests on either side {'/'.join(sorted(reachable))}) against "
                        f"{'>=' if name == 'rate_2xx' else '<='} {limit:.3%}")
    j.lines.append("   Tier rate criteria (framework n/d vs server n/d):")
    for cid, fv, sv, nd in j.verdicts:
        j.lines.append(f"     {cid:44s} {fv:12s} server {sv:12s} {nd}")
    j.lines.append(f"   rate verdicts equal to the server's: {len(j.verdicts) - j.tolerated} of "
                   f"{len(j.verdicts)}; equal only within the borderline tolerance: {j.tolerated}")


def _circuits(j: Judgement) -> None:
    """(d) No circuit-open FAIL without a failed request in the logs."""
    failed = [o for o in j.server.ended() if o.cls != "2xx"]
    for cid, c in sorted(j.fw.criteria.items()):
        if cid.startswith("limits.circuit_open@"):
            j.lines.append(f"   {cid}: {c['verdict']} measured {c['measured']} s (limit "
                           f"{c['threshold']} s); failed requests in the logs: {len(failed)}")
            if c["verdict"] == "FAIL" and not failed:
                j.errors.append(f"(d) {cid} FAILs (measured {c['measured']} s) with not one "
                                "failed request in the testbed's logs")
