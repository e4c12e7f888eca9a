"""A subset stage = a query over stored scores (score once, select many). No decoding here.

Procedure for one stage (the README repeats it for users):
1. Pool: every clip of an admitted video, or the parent stage's members for a child stage; only
   clips of the stage's ``media`` (``video``, or ``image``: a still image is one clip with no
   time span) are considered, the others are counted and left out without a decision.
2. Gates: the per-shard ``filters:`` thresholds with the stage's own ``thresholds`` over them
   (for an image stage: ``image_filters:`` over ``filters:``, and no motion gate: a still image
   has no motion), then allowed labels, near-duplicate representatives only, a caption that
   passed QC. Each is a decision per clip with value and threshold (stage = the subset's name).
3. ``keep_fraction`` of the best by ``rank_by`` (percentile within the eligible clips).
4. Composition and caps: a linear programme sizes each label cell (``composition``); within a
   cell clips are taken by a concept-weighted random priority (Efraimidis-Spirakis keys
   ``ln(u) / w``, ``u`` from a hash of the clip id and the seed, ``w`` = concept weight), so the
   choice is deterministic for a seed and rare concepts are favoured as Movie Gen resamples them.
5. Members get a duration x aspect bucket (an image: ``image|<aspect>``, no duration bucket) and
   a training weight (concept weight, mean 1).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import polars as pl

from curation_assets.config import (
    ANY_OF_FILTERS,
    IMAGE_FILTER_STAGES,
    CurationConfig,
    StageConfig,
)
from curation_assets.selection.buckets import aspect_bucket_expr, duration_bucket_expr
from curation_assets.selection.composition import Allocation, Cell, Target, allocate
from curation_assets.selection.pool import LABEL_PREFIX
from curation_assets.selection.thresholds import NOT_SCORED, decide_frame, rules_from_config
from curation_assets.vocabulary import Content, Media, Selection, Visual

# Gates a single image cannot be measured on (``watermark`` needs the content to change under a
# fixed mark, i.e. several frames): an image stage keeps an image such a gate did not score.
NOT_MEASURED_ON_IMAGES = {
    Visual.WATERMARK.value: "watermark is not measured on a single image (kept)",
}
IMAGE_BUCKET = "image"  # an image member's bucket: ``image|<aspect_bucket>``


@dataclass
class StageSelection:
    name: str
    pool_clips: int
    decisions: pl.DataFrame  # lineage ``decisions`` rows, stage = name
    members: pl.DataFrame  # subset, clip_id, weight, bucket, duration_bucket, aspect_bucket ...
    funnel: pl.DataFrame  # step, clips, hours, share_of_pool, share_of_previous
    allocation: Allocation | None
    thresholds: dict  # the effective gates, recorded with the output
    unscored: dict[str, int] = field(default_factory=dict)  # kept although not scored
    notes: list[str] = field(default_factory=list)
    media: str = Media.VIDEO.value  # the media kind the stage selects
    # clips of each media kind in the pool before the media step (the others are left out)
    pool_by_media: dict[str, int] = field(default_factory=dict)

    def run_record(self, stage: StageConfig) -> dict:
        return {
            "subset": self.name,
            "parent": stage.parent,
            "media": self.media,
            "pool_clips": self.pool_clips,
            "members": self.members.height,
            "hours": float(self.members["duration_s"].sum() or 0) / 3600,
            "seed": stage.seed,
            "thresholds_json": json.dumps(self.thresholds, sort_keys=True),
            "stage_json": stage.model_dump_json(),
            "composition_json": json.dumps(
                [o.__dict__ for o in self.allocation.outcomes] if self.allocation else []
            ),
            "funnel_json": json.dumps(self.funnel.to_dicts()),
            "notes": "; ".join(self.notes),
        }


def effective_gates(cfg: CurationConfig, stage: StageConfig) -> dict[str, dict[str, dict]]:
    """``{filter: {signal: {min/max}}}``: the per-shard gates, the stage's limits over them.
    An image stage starts from the image gates (``image_filters:`` over ``filters:``, as the
    per-shard filters decide images) and has no motion gate."""
    gates: dict[str, dict[str, dict]] = {}
    families = list(cfg.filters)
    if stage.media == Media.IMAGE:
        families += [f for f in cfg.image_filters if f not in families]
        families = [f for f in families if f in IMAGE_FILTER_STAGES]
    for family in families:
        for name, signals in cfg.stage_filters(family, media=stage.media).items():
            gates.setdefault(name, {}).update(signals)
    for name, signals in stage.thresholds.items():
        merged = gates.setdefault(name, {})
        for signal, limits in signals.items():
            merged[signal] = limits.model_dump(exclude_none=True)
    return gates


def needed_signals(gates: dict, stage: StageConfig) -> set[str]:
    return (
        {s for signals in gates.values() for s in signals} | set(stage.rank_by) | {"aspect_ratio"}
    )


def needed_labels(stage: StageConfig) -> set[str]:
    return set(stage.composition) | set(stage.allow_labels)


def select_stage(
    pool: pl.DataFrame, name: str, stage: StageConfig, gates: dict, parent: str | None = None
) -> StageSelection:
    """``pool`` from ``selection.pool.load_pool`` (already restricted to the parent's members
    for a child stage). Only clips of ``stage.media`` are considered (a pool without a ``media``
    column is all video)."""
    media = stage.media
    if "media" in pool.columns:
        kinds = pool.select(pl.col("media").fill_null(Media.VIDEO.value))["media"]
        by_media = {str(k): int(v) for k, v in kinds.value_counts().iter_rows()}
        pool = pool.filter(kinds == media)
    else:
        by_media = {Media.VIDEO.value: pool.height}
    pool_by_media = {m.value: by_media.get(m.value, 0) for m in Media}
    pool_by_media |= {k: v for k, v in by_media.items() if k not in pool_by_media}
    n = pool.height
    steps: list[tuple[str, pl.DataFrame]] = []  # (filter, frame of passed/value/threshold/reason)
    unscored: dict[str, int] = {}
    if parent is not None:
        steps.append(
            (
                Selection.PARENT_STAGE.value,
                _flag_step(pool, pl.lit(True), f"member of {parent}", "", ""),
            )
        )
    for rule in rules_from_config(gates, ANY_OF_FILTERS):
        out = decide_frame(rule, pool)
        missing = out["passed"].is_null()
        if media == Media.IMAGE and rule.name in NOT_MEASURED_ON_IMAGES:
            # kept as not scored, and the decision says why
            why = f"{NOT_SCORED}: {NOT_MEASURED_ON_IMAGES[rule.name]}"
            out = out.with_columns(
                pl.when(missing)
                .then(pl.lit(why, dtype=pl.Categorical))
                .otherwise(pl.col("reason"))
                .alias("reason")
            )
            unscored[rule.name] = int(missing.sum())
        elif rule.name in stage.allow_unscored:
            unscored[rule.name] = int(missing.sum())
        else:  # an unmeasured gate drops the clip, recorded as not scored
            out = out.with_columns(pl.col("passed").fill_null(False))
        steps.append((rule.name, out))
    for kind, allowed in stage.allow_labels.items():
        col = LABEL_PREFIX + kind
        label = pl.col(col) if col in pool.columns else pl.lit(None, dtype=pl.String)
        steps.append(
            (
                kind,
                _flag_step(
                    pool,
                    pl.when(label.is_not_null()).then(label.is_in(allowed)),
                    f"{kind} in {sorted(allowed)}",
                    kind,
                    f"{NOT_SCORED}: no {kind} label",
                ),
            )
        )
    if stage.drop_duplicates:
        steps.append(
            (
                Content.NEAR_DUPLICATE.value,
                # near_duplicates decides grouped clips and frame_of pairs only: none = unique
                _flag_step(
                    pool,
                    pl.col("dedup_representative").fill_null(True),
                    "representative of its duplicate group (or unique)",
                    Content.NEAR_DUPLICATE.value,
                    "",
                ),
            )
        )
    if stage.require_caption:
        steps.append(
            (
                Selection.CAPTION.value,
                _flag_step(
                    pool,
                    pl.col("caption_ok"),
                    "captioned, caption QC passed",
                    Selection.CAPTION.value,
                    "no caption",
                ),
            )
        )

    passed = pl.Series([True] * n, dtype=pl.Boolean)
    for _, out in steps:
        passed = passed & out["passed"].fill_null(True)
    eligible = pool.filter(passed)

    late: list[tuple[str, pl.DataFrame]] = []  # decisions on eligible clips only
    if stage.keep_fraction is not None and eligible.height:
        eligible, ranked = _keep_best(eligible, stage)
        late.append((Selection.QUALITY_RANK.value, ranked))
    chosen, allocation, comp = _compose(eligible, stage)
    if comp is not None:
        late.append((Selection.COMPOSITION.value, comp))

    decisions = _decisions(pool, name, steps, late)
    members = _members(chosen, name, stage)
    funnel = _funnel(pool, steps, late, parent)
    notes = list(allocation.notes) if allocation else []
    for filt, count in unscored.items():
        if count:
            notes.append(f"{filt}: {count} clip(s) not scored (kept, recorded as {NOT_SCORED})")
    others = {k: v for k, v in pool_by_media.items() if k != media and v}
    for kind, count in others.items():
        notes.append(f"{count} {kind} clip(s) of the pool left out: this stage selects {media}")
    return StageSelection(
        name,
        n,
        decisions,
        members,
        funnel,
        allocation,
        gates,
        unscored,
        notes,
        media=media,
        pool_by_media=pool_by_media,
    )


def _flag_step(
    pool: pl.DataFrame, flag: pl.Expr, threshold: str, bad: str, missing: str
) -> pl.DataFrame:
    """A yes/no gate as decision columns; an unknown flag (null) fails with ``missing``."""
    cat = pl.Categorical
    return pool.select(
        pl.col("clip_id"),  # gives literal-only flags the pool's height
        flag.fill_null(False).alias("passed"),
        pl.lit(None, dtype=pl.Float64).alias("value"),
        pl.lit(threshold, dtype=cat).alias("threshold"),
        pl.when(flag.is_null())
        .then(pl.lit(missing, dtype=cat))
        .when(flag)
        .then(pl.lit("ok", dtype=cat))
        .otherwise(pl.lit(bad, dtype=cat))
        .alias("reason"),
    ).drop("clip_id")


def _keep_best(eligible: pl.DataFrame, stage: StageConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
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


def _compose(
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


def _decisions(
    pool: pl.DataFrame,
    name: str,
    steps: list[tuple[str, pl.DataFrame]],
    late: list[tuple[str, pl.DataFrame]],
) -> pl.DataFrame:
    """Clip-major (the pool is sorted by clip id): a lookup by clip id reads few row groups."""
    base = pool.select("clip_id", "shard").with_row_index("__row")
    parts = [
        pl.concat([base, out], how="horizontal").with_columns(
            pl.lit(filt, dtype=pl.Categorical).alias("filter"), pl.lit(i).alias("__step")
        )
        for i, (filt, out) in enumerate(steps)
    ]
    parts += [
        out.join(base, on="clip_id", how="left").with_columns(
            pl.lit(filt, dtype=pl.Categorical).alias("filter"),
            pl.lit(len(steps) + i).alias("__step"),
        )
        for i, (filt, out) in enumerate(late)
    ]
    if not parts:
        return pl.DataFrame()
    frame = pl.concat(
        [
            p.select(
                "__row",
                "__step",
                pl.col("clip_id"),
                pl.lit(name, dtype=pl.Categorical).alias("stage"),
                pl.col("filter"),
                pl.col("passed"),
                pl.col("value").cast(pl.Float64),
                pl.col("threshold").cast(pl.Categorical),
                pl.col("reason").cast(pl.Categorical),
                pl.col("shard"),
            )
            for p in parts
        ]
    ).sort("__row", "__step")
    sorted_ids = pool["clip_id"].is_sorted()
    frame = frame.drop("__row", "__step")
    return frame.with_columns(pl.col("clip_id").set_sorted()) if sorted_ids else frame


def _members(chosen: pl.DataFrame, name: str, stage: StageConfig) -> pl.DataFrame:
    weight = (
        chosen[Content.CONCEPT_WEIGHT.value].fill_null(1.0)
        if Content.CONCEPT_WEIGHT.value in chosen.columns
        else pl.Series([1.0] * chosen.height, dtype=pl.Float64)
    )
    mean = float(weight.mean()) if chosen.height else 1.0
    image = stage.media == Media.IMAGE  # no duration: no duration bucket
    return (
        chosen.with_columns(
            (weight / (mean or 1.0)).alias("weight"),
            (
                pl.lit(None, dtype=pl.String)
                if image
                else duration_bucket_expr(pl.col("duration_s"), stage.duration_buckets)
            ).alias("duration_bucket"),
            aspect_bucket_expr(pl.col("aspect_ratio"), stage.aspect_buckets).alias("aspect_bucket"),
        )
        .with_columns(
            pl.lit(name).alias("subset"),
            pl.format(
                "{}|{}",
                pl.lit(IMAGE_BUCKET) if image else pl.col("duration_bucket"),
                pl.col("aspect_bucket"),
            ).alias("bucket"),
            pl.lit(stage.media).alias("media"),
        )
        .select(
            "subset",
            "clip_id",
            "weight",
            "bucket",
            "duration_bucket",
            "aspect_bucket",
            "video_id",
            "shard",
            "duration_s",
            "media",
        )
        .sort("clip_id")
    )


def _funnel(
    pool: pl.DataFrame,
    steps: list[tuple[str, pl.DataFrame]],
    late: list[tuple[str, pl.DataFrame]],
    parent: str | None,
) -> pl.DataFrame:
    """Share remaining after each step, in order (Movie Gen's appendix table style)."""
    alive = pl.Series([True] * pool.height, dtype=pl.Boolean)
    secs = pool["duration_s"]
    start = "pool" if parent is None else f"members of {parent}"
    rows = [{"step": start, "clips": pool.height, "seconds": float(secs.sum() or 0)}]
    for filt, out in steps:
        alive = alive & out["passed"].fill_null(True)
        rows.append(
            {"step": filt, "clips": int(alive.sum()), "seconds": float(secs.filter(alive).sum())}
        )
    survivors = pool.filter(alive).select("clip_id", "duration_s")
    for filt, out in late:
        kept = out.filter(pl.col("passed"))["clip_id"]
        survivors = survivors.filter(pl.col("clip_id").is_in(kept.implode()))
        rows.append(
            {
                "step": filt,
                "clips": survivors.height,
                "seconds": float(survivors["duration_s"].sum() or 0),
            }
        )
    frame = pl.DataFrame(rows)
    first = max(rows[0]["clips"], 1)
    return frame.with_columns(
        (pl.col("seconds") / 3600).alias("hours"),
        (pl.col("clips") / first).alias("share_of_pool"),
        (pl.col("clips") / pl.col("clips").shift(1).fill_null(pl.col("clips").first()))
        .fill_nan(0.0)
        .alias("share_of_previous"),
    ).select("step", "clips", "hours", "share_of_pool", "share_of_previous")
