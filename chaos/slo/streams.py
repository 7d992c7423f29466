"""Token and timing figures of complete streams, as LLM load tools report them (context for
an SRE; the seed's thresholds decide verdicts, not these)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from chaos.recording import LoadWindow
from chaos.slo.histogram import HistogramAccumulator

_PERCENTILES = (50.0, 95.0, 99.0)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """p50/p95/p99 in milliseconds over `n` values (None where n is 0)."""

    n: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def of(cls, acc: HistogramAccumulator) -> Percentiles:
        p50, p95, p99 = (acc.percentile_ms(p) for p in _PERCENTILES)
        return cls(acc.total, p50, p95, p99)


@dataclass(frozen=True, slots=True)
class StreamFigures:
    """Over the complete streams of the run.

    - time_to_first_byte: request start -> first body byte;
    - first_token: request start -> first content-bearing event (not a comment, role-only
      or usage-only chunk);
    - inter_token: gaps between successive reads that carried content;
    - time_per_output_token: per stream, (completion - first token) / (output tokens - 1);
    - output_tokens: from the target's usage report where it sent one (`token_sources`
      says how many streams counted which way), else content chunks;
    - output_tokens_per_s: all output tokens / the load's duration (aggregate);
      stream_tokens_per_s_p50: 1000 / median time per output token (one stream's pace).
    """

    complete_streams: int
    time_to_first_byte: Percentiles
    first_token: Percentiles
    inter_token: Percentiles
    time_per_output_token: Percentiles
    output_tokens: int
    output_tokens_per_s: float | None
    stream_tokens_per_s_p50: float | None
    token_sources: Mapping[str, int] = field(default_factory=dict)
    first_kinds: Mapping[str, int] = field(default_factory=dict)


def stream_figures(windows: Sequence[LoadWindow]) -> StreamFigures:
    ttfb, first, itl, tpot = (HistogramAccumulator() for _ in range(4))
    tokens = 0
    sources: dict[str, int] = {}
    kinds: dict[str, int] = {}
    start, end = float("inf"), float("-inf")
    complete = 0
    for w in windows:
        ttfb.add_encoded(w.ttfb_hist)
        first.add_encoded(w.first_token_hist)
        itl.add_encoded(w.itl_hist)
        tpot.add_encoded(w.tpot_hist)
        tokens += w.output_tokens
        complete += w.counts.get("2xx", 0)
        for target, source in ((sources, w.token_sources), (kinds, w.first_kinds)):
            for key, n in source.items():
                target[key] = target.get(key, 0) + n
        start, end = min(start, w.start), max(end, w.end)
    duration = end - start if end > start else 0.0
    tpot_p50 = tpot.percentile_ms(50.0)
    return StreamFigures(
        complete_streams=complete,
        time_to_first_byte=Percentiles.of(ttfb), first_token=Percentiles.of(first),
        inter_token=Percentiles.of(itl), time_per_output_token=Percentiles.of(tpot),
        output_tokens=tokens,
        output_tokens_per_s=round(tokens / duration, 3) if duration > 0 and tokens else None,
        stream_tokens_per_s_p50=round(1000.0 / tpot_p50, 3) if tpot_p50 else None,
        token_sources=dict(sorted(sources.items())), first_kinds=dict(sorted(kinds.items())),
    )
