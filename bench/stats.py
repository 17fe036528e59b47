"""Percentiles, medians and spreads over repeated measurements."""

from __future__ import annotations

import statistics


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float]) -> dict:
    """p50 / p95 / p99 / max of latencies, in milliseconds."""
    if not seconds:
        return {"count": 0}
    ms = [value * 1000 for value in seconds]
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


def spread(values: list[float]) -> dict:
    """Median and min–max of one figure over repeats."""
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
        "n": len(values),
    }


def over_repeats(repeats: list[dict], key: str) -> dict:
    """Spread of one key across the repeat dicts that carry it."""
    return spread([repeat[key] for repeat in repeats if repeat.get(key) is not None])
