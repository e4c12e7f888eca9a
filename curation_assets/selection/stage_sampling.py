"""Which eligible clips a subset stage takes (steps 3-4 of ``selection.stages``):
``keep_fraction`` of the best by ``rank_by``, then composition and caps.

A linear programme sizes each label cell (``composition``); within a cell clips are taken by a
concept-weighted random priority (``priority``). Each step also returns its decisions on the
eligible clips (clip_id, passed, value, threshold, reason).
"""

from __future__ import annotations

import math

import polars as pl

from curation_assets.config.subsets import StageConfig
from curation_assets.selection.composition import Allocation, Cell, Target, allocate
from curation_assets.selection.pool import LABEL_PREFIX
from curation_assets.selection.thresholds import NOT_SCORED
from curation_assets.vocabulary import Content, Selection


def keep_best(eligible: pl.DataFrame, stage: StageConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Percentile (1 = best) by the first measured ``rank_by`` signal; keep the top share."""
    pct = []
    for signal in stage.rank_by:
        if signal not in eligible.columns:
            continue
        col = pl.col(signal)
        count = col.is_not_null().sum()
        pct.append(pl.when(col.is_not_null()).then(col.rank("average") / count))
    frame = eligible.with_columns(
        (pl.coalesce(pct) if pct else pl.lit(None, dtype=pl.Float64)).alias("__pct")
    )
    keep = math.ceil(stage.keep_fraction * eligible.height)
    cutoff_rank = frame["__pct"].sort(descending=True, nulls_last=True).head(keep)
    cutoff = cutoff_rank.min() if cutoff_rank.len() else None
    frame = frame.with_columns(
        (
            pl.col("__pct").is_not_null()
            & (pl.col("__pct") >= (cutoff if cutoff is not None else 2))
        ).alias("__keep")
    )
    threshold = f"top {stage.keep_fraction:.0%} by {' or '.join(stage.rank_by)}"
    ranked = frame.select(
        pl.col("clip_id"),
        pl.col("__keep").alias("passed"),
        pl.col("__pct").alias("value"),
        pl.lit(threshold).alias("threshold"),
        pl.when(pl.col("__pct").is_null())
        .then(pl.lit(f"{NOT_SCORED}: no {', '.join(stage.rank_by)}"))
        .when(pl.col("__keep"))
        .then(pl.lit("ok"))
        .otherwise(pl.lit(Selection.QUALITY_RANK.value))
        .alias("reason"),
    )
    return frame.filter(pl.col("__keep")).drop("__pct", "__keep"), ranked


def priority(frame: pl.DataFrame, seed: int, balance: bool) -> pl.Series:
    """Efraimidis-Spirakis key ``ln(u) / w``: the top-k by key is a weighted sample."""
    u = ((frame["clip_id"].hash(seed) % (2**52)).cast(pl.Float64) + 0.5) / float(2**52)
    weight = (
        frame[Content.CONCEPT_WEIGHT.value].fill_null(1.0).clip(lower_bound=1e-6)
        if balance and Content.CONCEPT_WEIGHT.value in frame.columns
        else pl.Series([1.0] * frame.height)
    )
    return (u.log() / weight).alias("__priority")


def compose(
    eligible: pl.DataFrame, stage: StageConfig
) -> tuple[pl.DataFrame, Allocation | None, pl.DataFrame | None]:
    targets = [
        Target(kind, label, t.share, t.min, t.max)
        for kind, labels in stage.composition.items()
        for label, t in labels.items()
    ]
    capped = stage.max_clips is not None or stage.max_hours is not None
    if not targets and not capped:
        return eligible, None, None
    kinds = list(stage.composition)
    frame = eligible.with_columns(priority(eligible, stage.seed, stage.concept_balance))
    for kind in kinds:
        col = LABEL_PREFIX + kind
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(col))
        frame = frame.with_columns(pl.col(col).fill_null("unknown"))
    cell_cols = [LABEL_PREFIX + k for k in kinds] or [pl.lit("all").alias("__all")]
    frame = frame.with_columns(
        (pl.concat_str(cell_cols, separator="|") if kinds else pl.lit("all")).alias("__cell")
    )
    stats = (
        frame.group_by("__cell", *[LABEL_PREFIX + k for k in kinds])
        .agg(pl.len().alias("n"), pl.col("duration_s").mean().alias("secs"))
        .sort("__cell")
    )
    cells = [
        Cell(tuple((k, row[LABEL_PREFIX + k]) for k in kinds), row["n"], row["secs"] or 0.0)
        for row in stats.iter_rows(named=True)
    ]
    alloc = allocate(
        cells,
        targets,
        stage.tolerance,
        stage.max_clips,
        None if stage.max_hours is None else stage.max_hours * 3600,
    )
    quota = pl.DataFrame(
        {"__cell": stats["__cell"], "__quota": alloc.counts},
        schema={"__cell": pl.String, "__quota": pl.Int64},
    )
    frame = (
        frame.join(quota, on="__cell", how="left")
        .with_columns(
            pl.col("__priority").rank("ordinal", descending=True).over("__cell").alias("__rank")
        )
        .with_columns((pl.col("__rank") <= pl.col("__quota")).alias("__chosen"))
    )
    if stage.max_hours is not None and not targets and stage.max_clips is None:
        # an hours cap alone: clips by priority until the next would pass the limit (the LP's
        # mean-duration count can fall short when the best clips run short)
        limit = stage.max_hours * 3600
        fits = frame.sort("__priority", descending=True).with_columns(
            (pl.col("duration_s").cum_sum() <= limit).alias("__fits")
        )
        frame = fits.with_columns(pl.col("__fits").alias("__chosen")).drop("__fits")
    elif stage.max_hours is not None:  # the LP used mean durations: trim to the real total
        limit = stage.max_hours * 3600
        order = frame.filter(pl.col("__chosen")).sort("__priority", descending=True)
        over = order.filter(pl.col("duration_s").cum_sum() > limit)["clip_id"]
        if over.len():
            frame = frame.with_columns(
                pl.when(pl.col("clip_id").is_in(over.implode()))
                .then(False)
                .otherwise(pl.col("__chosen"))
                .alias("__chosen")
            )
    reason = Selection.COMPOSITION.value if targets else Selection.CAP.value
    comp = frame.select(
        pl.col("clip_id"),
        pl.col("__chosen").alias("passed"),
        pl.col("__priority").alias("value"),
        pl.format(
            "cell {}: {} of {} by concept-weighted priority",
            pl.col("__cell"),
            pl.col("__quota"),
            pl.len().over("__cell"),
        ).alias("threshold"),
        pl.when(pl.col("__chosen")).then(pl.lit("ok")).otherwise(pl.lit(reason)).alias("reason"),
    )
    chosen = frame.filter(pl.col("__chosen")).drop(
        "__priority", "__cell", "__quota", "__rank", "__chosen"
    )
    return chosen, alloc, comp
