"""How a list of samples becomes a table cell: percentiles, the ratio to its floor, verdicts.

Fewer than 1,000 samples make a p99 meaningless, so it is only shown above that.
"""

from __future__ import annotations

from bench.common import percentile


def pcts(ms: list[float], p99: bool = False) -> str:
    if not ms:
        return "no samples"
    text = f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms"
    if p99 and len(ms) >= 1000:
        text += f", p99 {percentile(ms, 99):.1f} ms"
    return text + f" (n={len(ms)})"


def ratio(ms: list[float], floor: list[float], pct: float = 50) -> str:
    if not ms or not floor:
        return "—"
    return f"×{percentile(ms, pct) / max(percentile(floor, pct), 1e-6):.0f}"


def row(name: str, ms: list[float], floor: list[float], floor_name: str) -> str:
    """`| name | figure | floor | ratio p50 / p95 |` (callers may append further cells)."""
    return (
        f"| {name} | {pcts(ms)} | {floor_name}: {pcts(floor)} | "
        f"{ratio(ms, floor, 50)} / {ratio(ms, floor, 95)} |"
    )


def verdict(met: bool) -> str:
    return f"**{'met' if met else 'MISSED'}**"
