"""Statistics for soak reports: Wilson score intervals and latency percentiles.

A success rate from *n* trials means little without its uncertainty.  The
Wilson score interval is the standard choice for a binomial proportion: unlike
the normal ("Wald") interval it stays inside [0, 1] and behaves at 0 or *n*
successes, which is exactly where a reliability soak lives.  For example 40
successes out of 40 only shows, at 95 % confidence, a success rate of at least
about 0.912 — the lower bound, not the 100 %, is the honest figure.

Percentiles use linear interpolation between closest ranks (numpy's default,
"type 7"), so p50 of ``[1, 2, 3, 4]`` is 2.5.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

__all__ = [
    "Interval",
    "LatencySummary",
    "percentile",
    "summarize_latencies",
    "wilson_interval",
    "z_for_confidence",
]


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided confidence interval for a proportion."""

    lower: float
    upper: float
    confidence: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def z_for_confidence(confidence: float) -> float:
    """The two-sided standard-normal quantile: 1.959963... for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """The Wilson score interval for ``successes`` out of ``trials``.

    With no trials nothing is known, so the interval is [0, 1].
    """
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return Interval(0.0, 1.0, confidence)
    z = z_for_confidence(confidence)
    n = float(trials)
    p = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n)) / denominator
    # Clamp the rounding noise at the edges (0/n and n/n give exact 0 or 1 analytically).
    lower = 0.0 if successes == 0 else max(0.0, centre - half)
    upper = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(lower, upper, confidence)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q!r}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    fraction = position - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Count, extremes, mean and the percentiles a report shows, in the caller's unit."""

    count: int
    min: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    mean: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize_latencies(values: Iterable[float | None]) -> LatencySummary:
    """Summarise the measured values, ignoring ``None`` (a step that never ran)."""
    measured = [float(v) for v in values if v is not None]
    if not measured:
        return LatencySummary(0, None, None, None, None, None, None)
    return LatencySummary(
        count=len(measured),
        min=min(measured),
        p50=percentile(measured, 50),
        p95=percentile(measured, 95),
        p99=percentile(measured, 99),
        max=max(measured),
        mean=sum(measured) / len(measured),
    )
