"""Synthetic recordings for evaluator tests (reusable by other packages' tests).

Times are offsets in seconds from the run start; every load window is one second long.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from hdrh.histogram import HdrHistogram

from chaos.recording import (
    HIST_HIGHEST_US,
    HIST_LOWEST_US,
    HIST_SIGNIFICANT_DIGITS,
    STATUS_CLASSES,
    FaultRecord,
    LoadWindow,
    MissingWindow,
    Phase,
    PhaseKind,
    ProbeSecond,
    Recording,
    Sample,
)

T0 = 1_700_000_000.0


@lru_cache(maxsize=4096)
def histogram(values_ms: tuple[float, ...], count: int) -> str:
    """`count` latencies cycling through `values_ms`, as an encoded contract histogram."""
    h = HdrHistogram(HIST_LOWEST_US, HIST_HIGHEST_US, HIST_SIGNIFICANT_DIGITS)
    if count and values_ms:
        per, extra = divmod(count, len(values_ms))
        for i, v in enumerate(values_ms):
            n = per + (1 if i < extra else 0)
            if n:
                h.record_value(max(HIST_LOWEST_US, min(int(v * 1000), HIST_HIGHEST_US)), n)
    encoded: bytes = h.encode()
    return encoded.decode("ascii")


def _as_tuple(v: float | Sequence[float]) -> tuple[float, ...]:
    return (float(v),) if isinstance(v, int | float) else tuple(float(x) for x in v)


@dataclass
class RecordingBuilder:
    """Fluent builder: phases back to back, per-second traffic split over workers, probes,
    metric samples and faults."""

    workers: tuple[str, ...] = ("w0",)
    start: float = T0
    run_id: str = "run-test"
    phases: list[Phase] = field(default_factory=list)
    windows: list[LoadWindow] = field(default_factory=list)
    missing: list[MissingWindow] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    probes: list[ProbeSecond] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    _seq: dict[str, int] = field(default_factory=dict)
    _cursor: float = 0.0

    def phase(self, name: str, kind: PhaseKind, duration_s: float, tier: str | None = "X",
              fault_id: str | None = None) -> RecordingBuilder:
        s = self.start + self._cursor
        self.phases.append(Phase(name, kind, s, s + duration_s, tier, fault_id))
        self._cursor += duration_s
        return self

    @property
    def length_s(self) -> float:
        return self._cursor

    def traffic(self, start_s: float, end_s: float, counts: Mapping[str, int], *,
                first_token_ms: float | Sequence[float] = 500.0,
                completion_ms: float | Sequence[float] = 5000.0,
                error_codes: Mapping[str, int] | None = None,
                regions: Mapping[str, int] | None = None,
                saturated: bool = False, in_flight: int = 0, cancelled: int = 0,
                started: int | None = None, missing_workers: Sequence[str] = ()) -> RecordingBuilder:
        """Per second: `counts` ended requests split evenly over the workers (remainder to the
        first ones). First-token latencies go to every request with a body (2xx); completion
        latencies to 2xx requests."""
        ft, ct = _as_tuple(first_token_ms), _as_tuple(completion_ms)
        nw = len(self.workers)
        for sec in range(int(start_s), int(end_s)):
            for wi, worker in enumerate(self.workers):
                seq = self._seq.get(worker, 0)
                self._seq[worker] = seq + 1
                ws = self.start + sec
                if worker in missing_workers:
                    self.missing.append(MissingWindow(worker, 1, seq, ws, ws + 1.0))
                    continue
                share = {k: _split(counts.get(k, 0), nw, wi) for k in STATUS_CLASSES}
                ended = sum(share.values())
                ok = share["2xx"]
                transport = share["transport"]
                self.windows.append(LoadWindow(
                    run_id=self.run_id, worker_id=worker, incarnation=1, seq=seq,
                    start=ws, end=ws + 1.0,
                    started=_split(started, nw, wi) if started is not None else ended,
                    counts=share,
                    error_codes={k: _split(v, nw, wi) for k, v in (error_codes or {}).items()},
                    transport={"reset": transport} if transport else {},
                    regions={k: _split(v, nw, wi) for k, v in (regions or {}).items()},
                    first_token_hist=histogram(ft, ok), completion_hist=histogram(ct, ok),
                    cancelled=_split(cancelled, nw, wi), in_flight=_split(in_flight, nw, wi),
                    saturated=saturated,
                ))
        return self

    def probe(self, start_s: float, end_s: float, available: bool | None = True,
              region: str | None = "us-east", error: str | None = None,
              health_ok: bool | None = None) -> RecordingBuilder:
        for sec in range(int(start_s), int(end_s)):
            h = available if health_ok is None else health_ok
            self.probes.append(ProbeSecond(self.start + sec, h, available, error=error,
                                           region=region if available else None,
                                           chat_first_token_ms=100.0 if available else None))
        return self

    def series(self, metric: str, labels: Mapping[str, str], start_s: float, end_s: float,
               value: float | None, interval_s: float = 1.0) -> RecordingBuilder:
        t = start_s
        while t < end_s - 1e-9:
            self.samples.append(Sample(self.start + t, metric, dict(labels), value))
            t += interval_s
        return self

    def fault(self, fault_id: str, scenario: str, target: str, applied_s: float,
              reverted_s: float | None, mode: str = "network") -> RecordingBuilder:
        self.faults.append(FaultRecord(
            fault_id, scenario, mode, target, self.start + applied_s,
            self.start + (reverted_s if reverted_s is not None else applied_s),
            applied_at=self.start + applied_s,
            reverted_at=None if reverted_s is None else self.start + reverted_s))
        return self

    def build(self, **overrides: object) -> Recording:
        fields: dict[str, object] = {
            "run_id": self.run_id, "started_at": self.start,
            "ended_at": self.start + self._cursor, "phases": tuple(self.phases),
            "windows": tuple(self.windows), "missing_windows": tuple(self.missing),
            "samples": tuple(self.samples), "probes": tuple(self.probes),
            "faults": tuple(self.faults),
        }
        fields.update(overrides)
        return Recording(**fields)  # type: ignore[arg-type]


def _split(total: int, parts: int, index: int) -> int:
    base, extra = divmod(total, parts)
    return base + (1 if index < extra else 0)


def healthy(seconds: int = 600, tier: str = "X", rps: int = 1000, **traffic: object) -> RecordingBuilder:
    """A whole-run baseline with clean traffic, probes, a closed circuit and a short queue."""
    b = RecordingBuilder().phase("baseline", "baseline", seconds, tier)
    b.traffic(0, seconds, {"2xx": rps}, **traffic)  # type: ignore[arg-type]
    b.probe(0, seconds)
    b.series("circuit_state", {"route": "primary"}, 0, seconds, 0.0)
    b.series("queue_oldest_age_s", {}, 0, seconds, 1.0)
    return b
