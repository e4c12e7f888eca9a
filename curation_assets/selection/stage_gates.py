"""The gates of a subset stage (steps 1-2 of ``selection.stages``): the effective thresholds per
media kind, and one decision per pool clip for each gate.

The per-shard ``filters:`` thresholds with the stage's own ``thresholds`` over them (for an image
stage: ``image_filters:`` over ``filters:``, and no motion gate: a still image has no motion), then
allowed labels, near-duplicate representatives only, a caption that passed QC.
"""

from __future__ import annotations

import polars as pl

from curation_assets.config import CurationConfig
from curation_assets.config.sections import ANY_OF_FILTERS, IMAGE_FILTER_STAGES
from curation_assets.config.subsets import StageConfig
from curation_assets.selection.pool import LABEL_PREFIX
from curation_assets.selection.thresholds import NOT_SCORED, decide_frame, rules_from_config
from curation_assets.vocabulary import Content, Media, Selection, Visual

# Gates a single image cannot be measured on (``watermark`` needs the content to change under a
# fixed mark, i.e. several frames): an image stage keeps an image such a gate did not score.
NOT_MEASURED_ON_IMAGES = {
    Visual.WATERMARK.value: "watermark is not measured on a single image (kept)",
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


def gate_steps(
    pool: pl.DataFrame, stage: StageConfig, gates: dict, parent: str | None
) -> tuple[list[tuple[str, pl.DataFrame]], dict[str, int]]:
    """One decision per pool clip for each gate, in order: ``[(filter, frame of
    passed/value/threshold/reason)]``, and per filter the clips kept although not scored.
    ``pool`` holds the clips of ``stage.media`` only."""
    media = stage.media
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
    return steps, unscored


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
