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

The gates (steps 1-2) are in ``selection.stage_gates``, ranking, composition and caps (3-4) in
``selection.stage_sampling``; ``select_stage`` runs them and records decisions, members, funnel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl

from curation_assets.config.subsets import StageConfig
from curation_assets.selection.buckets import aspect_bucket_expr, duration_bucket_expr
from curation_assets.selection.composition import Allocation
from curation_assets.selection.stage_gates import gate_steps
from curation_assets.selection.stage_sampling import compose, keep_best
from curation_assets.selection.thresholds import NOT_SCORED
from curation_assets.vocabulary import Content, Media, Selection

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
    steps, unscored = gate_steps(pool, stage, gates, parent)

    passed = pl.Series([True] * n, dtype=pl.Boolean)
    for _, out in steps:
        passed = passed & out["passed"].fill_null(True)
    eligible = pool.filter(passed)

    late: list[tuple[str, pl.DataFrame]] = []  # decisions on eligible clips only
    if stage.keep_fraction is not None and eligible.height:
        eligible, ranked = keep_best(eligible, stage)
        late.append((Selection.QUALITY_RANK.value, ranked))
    chosen, allocation, comp = compose(eligible, stage)
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
