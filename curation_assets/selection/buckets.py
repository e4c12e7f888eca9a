"""Duration x aspect-ratio buckets: training batches are built per bucket (same length and
shape), so each subset member carries the bucket it belongs to."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import polars as pl

OUTSIDE = "other"


def duration_labels(edges: Sequence[float]) -> list[str]:
    return [f"{a:g}-{b:g}s" for a, b in zip(edges, edges[1:], strict=False)]


def duration_bucket_expr(col: pl.Expr, edges: Sequence[float]) -> pl.Expr:
    """[a, b) per bucket; the last bucket also holds its upper edge (a 16.0 s clip is 14-16s)."""
    labels = duration_labels(edges)
    chain = None
    for i, label in enumerate(labels):
        lo, hi = edges[i], edges[i + 1]
        cond = (col >= lo) & ((col <= hi) if i == len(labels) - 1 else (col < hi))
        chain = (
            pl.when(cond).then(pl.lit(label))
            if chain is None
            else chain.when(cond).then(pl.lit(label))
        )
    return chain.otherwise(pl.lit(OUTSIDE))


def aspect_bucket_expr(col: pl.Expr, ratios: Mapping[str, float]) -> pl.Expr:
    """The nearest named ratio in log space (1.70 -> 16:9, 0.58 -> 9:16)."""
    names = list(ratios)
    dists = [(col.log() - math.log(ratios[n])).abs() for n in names]
    best = pl.min_horizontal(*dists)
    chain = pl.when(dists[0] == best).then(pl.lit(names[0]))
    for name, dist in zip(names[1:], dists[1:], strict=True):
        chain = chain.when(dist == best).then(pl.lit(name))
    return pl.when(col.is_null() | (col <= 0)).then(pl.lit(OUTSIDE)).otherwise(chain)


def bucket_edges(label: str) -> tuple[float, float] | None:
    """``"6-8s"`` -> (6.0, 8.0); None for ``other``."""
    if not label.endswith("s") or "-" not in label:
        return None
    lo, hi = label[:-1].split("-", 1)
    return float(lo), float(hi)
