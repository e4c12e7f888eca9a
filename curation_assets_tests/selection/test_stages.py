"""Stage selection over a pool of stored scores: gates, composition, caps, ranking, buckets.
Pure (no Dagster, no media): the pipeline test (test_subsets.py) covers the real path."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curation_assets.config import CurationConfig
from curation_assets.config.subsets import StageConfig
from curation_assets.selection.buckets import aspect_bucket_expr, duration_bucket_expr
from curation_assets.selection.composition import Cell, Target, allocate
from curation_assets.selection.stage_gates import effective_gates
from curation_assets.selection.stages import select_stage

CFG = CurationConfig.from_yaml(  # the packaged defaults: per-shard gates as users have them
    __import__("curation_assets.config", fromlist=["DEFAULTS"]).DEFAULTS
)


def pool(n: int = 5000, seed: int = 0, human_share: float = 0.4) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    aspect = rng.choice([16 / 9, 9 / 16, 1.0, 4 / 3], n, p=[0.65, 0.1, 0.1, 0.15])
    return pl.DataFrame(
        {
            "clip_id": [f"c{i:06d}" for i in range(n)],
            "video_id": [f"v{i // 3:06d}" for i in range(n)],
            "shard": "s0",
            "start_s": 0.0,
            "end_s": 0.0,
            "duration_s": rng.uniform(4, 16, n),
            "width": 1280,
            "height": 720,
            "fps": 30.0,
            "short_side_px": rng.choice([360.0, 720.0, 1080.0], n),
            "aspect_ratio": aspect,
            "border_area": rng.beta(1, 30, n),
            "text_area": rng.beta(1, 60, n),
            "sharpness": rng.gamma(4, 20, n),
            "brightness": rng.uniform(0.1, 0.9, n),
            "clipped_fraction": rng.beta(1, 60, n),
            "technical_quality": rng.uniform(0, 1, n),
            "static_fraction": rng.uniform(0, 0.8, n),
            "motion_mean": rng.gamma(2, 0.03, n),
            "motion_p95": rng.gamma(2, 0.05, n),
            "shake": rng.gamma(2, 0.002, n),
            "shots_per_second": rng.gamma(2, 0.1, n),
            "slideshow": rng.uniform(0, 0.4, n),
            "concept_weight": rng.uniform(0.5, 2.0, n),
            "label:orientation": np.where(
                aspect > 1.05, "landscape", np.where(aspect < 0.95, "portrait", "square")
            ),
            "label:has_human": np.where(rng.random(n) < human_share, "yes", "no"),
            "dedup_representative": pl.Series([None] * n, dtype=pl.Boolean),
            "caption_ok": True,
            "watermark_confidence": rng.beta(1, 40, n),  # drawn last: the columns above unchanged
        }
    )


def select(frame: pl.DataFrame, parent: str | None = None, **stage):
    spec = StageConfig.model_validate(stage)
    return select_stage(frame, "t", spec, effective_gates(CFG, spec), parent=parent)


def test_movie_gen_composition_is_met_within_two_points() -> None:
    frame = pool(20000)
    sel = select(
        frame,
        composition={
            "orientation": {"landscape": {"share": 0.8}, "portrait": {"share": 0.2}},
            "has_human": {"yes": {"min": 0.6}},
        },
    )
    chosen = frame.filter(pl.col("clip_id").is_in(sel.members["clip_id"].implode()))
    share = chosen["label:orientation"].value_counts(normalize=True)
    shares = dict(zip(share["label:orientation"], share["proportion"], strict=True))
    assert abs(shares["landscape"] - 0.8) <= 0.02 and abs(shares["portrait"] - 0.2) <= 0.02
    assert "square" not in shares
    humans = (chosen["label:has_human"] == "yes").mean()
    assert humans >= 0.6 - 0.02
    assert all(o.met for o in sel.allocation.outcomes)
    # the portrait humans are the binding resource: all of them are used
    portrait_yes = frame.filter(
        (pl.col("label:orientation") == "portrait") & (pl.col("label:has_human") == "yes")
    )
    eligible = set(
        sel.decisions.group_by("clip_id")
        .agg(pl.col("passed").fill_null(True).all())
        .filter(pl.col("passed"))["clip_id"]
    )
    assert set(portrait_yes["clip_id"]) & eligible <= set(sel.members["clip_id"])


def test_a_target_the_pool_cannot_meet_is_reported_not_hidden() -> None:
    frame = pool(3000).with_columns(pl.lit("no").alias("label:has_human"))
    sel = select(frame, composition={"has_human": {"yes": {"min": 0.6}}})
    (outcome,) = sel.allocation.outcomes
    assert not outcome.met and outcome.note.startswith("cannot be met")
    assert sel.members.height > 0  # the rest of the stage still selects


def test_caps_in_clips_and_hours() -> None:
    frame = pool(4000)
    assert select(frame, max_clips=500).members.height == 500
    sel = select(frame, max_hours=1.0)
    assert sel.members["duration_s"].sum() <= 3600
    assert sel.members["duration_s"].sum() > 3600 - 16


def test_a_threshold_change_changes_membership_exactly() -> None:
    frame = pool(6000)
    loose = select(frame, thresholds={"sharpness": {"sharpness": {"min": 40}}})
    strict = select(frame, thresholds={"sharpness": {"sharpness": {"min": 80}}})
    between = set(frame.filter((pl.col("sharpness") >= 40) & (pl.col("sharpness") < 80))["clip_id"])
    a, b = set(loose.members["clip_id"]), set(strict.members["clip_id"])
    assert b <= a and a - b == between & a and between & a


def test_sampling_is_deterministic_per_seed_and_favours_rare_concepts() -> None:
    frame = pool(8000)
    first = select(frame, max_clips=800, seed=3).members["clip_id"].to_list()
    assert select(frame, max_clips=800, seed=3).members["clip_id"].to_list() == first
    assert select(frame, max_clips=800, seed=4).members["clip_id"].to_list() != first
    # clips of a rare concept carry a higher weight (1/sqrt(size)) and are drawn more often
    weights = frame.select("clip_id", "concept_weight")
    chosen = weights.filter(pl.col("clip_id").is_in(pl.Series(first).implode()))
    # (probability ~ w: the chosen mean tends to E[w^2]/E[w] = 1.4 here, against 1.25)
    assert chosen["concept_weight"].mean() > weights["concept_weight"].mean() * 1.05
    # training weights are normalised to a mean of 1 over the members
    assert select(frame, max_clips=800, seed=3).members["weight"].mean() == pytest.approx(1.0)


def test_keep_fraction_keeps_the_best_share_by_rank_signal() -> None:
    frame = pool(3000)
    base = select(frame)
    top = select(frame, rank_by=["aesthetic", "technical_quality"], keep_fraction=0.25)
    assert top.members.height == pytest.approx(base.members.height * 0.25, abs=1)
    kept = frame.filter(pl.col("clip_id").is_in(top.members["clip_id"].implode()))
    dropped = frame.filter(
        pl.col("clip_id").is_in(base.members["clip_id"].implode())
        & ~pl.col("clip_id").is_in(top.members["clip_id"].implode())
    )
    assert kept["technical_quality"].min() >= dropped["technical_quality"].max()


def test_gates_record_one_decision_per_clip_and_unscored_rules() -> None:
    frame = pool(1000).with_columns(pl.lit(None, dtype=pl.Float64).alias("sharpness"))
    sel = select(frame)
    d = sel.decisions
    assert d.group_by("clip_id", "filter").len()["len"].max() == 1
    unsafe = d.filter(pl.col("filter") == "unsafe")
    # unsafe is not scored offline: kept and recorded as such (never a silent pass)
    assert unsafe["passed"].null_count() == 1000
    assert unsafe["reason"].cast(pl.String).str.starts_with("not_scored").all()
    # an unmeasured gate that is not allowed to be unscored drops the clip, with its reason
    sharp = d.filter(pl.col("filter") == "sharpness")
    assert (~sharp["passed"]).all() and sel.members.height == 0
    assert sel.unscored["unsafe"] == 1000 and any("unsafe" in n for n in sel.notes)


def test_parent_stage_and_funnel() -> None:
    frame = pool(2000)
    sel = select(frame, parent="base", thresholds={"resolution": {"short_side_px": {"min": 720}}})
    funnel = sel.funnel
    assert funnel["step"][0] == "members of base" and funnel["clips"][0] == 2000
    assert (funnel["clips"].diff().drop_nulls() <= 0).all()
    assert funnel["clips"][-1] == sel.members.height
    res = funnel.filter(pl.col("step") == "resolution")
    assert res["clips"][0] == frame.filter(pl.col("short_side_px") >= 720).height


def test_buckets() -> None:
    frame = pl.DataFrame(
        {
            "d": [4.0, 5.99, 6.0, 10.9, 14.0, 16.0, 16.5],
            "a": [1.78, 0.56, 1.0, 1.33, 0.75, 2.4, 1.7],
        }
    )
    out = frame.select(
        duration_bucket_expr(pl.col("d"), [4, 6, 8, 11, 14, 16]).alias("db"),
        aspect_bucket_expr(
            pl.col("a"), {"16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1, "3:4": 3 / 4, "9:16": 9 / 16}
        ).alias("ab"),
    )
    assert out["db"].to_list() == ["4-6s", "4-6s", "6-8s", "8-11s", "14-16s", "14-16s", "other"]
    assert out["ab"].to_list() == ["16:9", "9:16", "1:1", "4:3", "3:4", "16:9", "16:9"]


def test_allocation_lp_uses_the_natural_mix_when_targets_allow() -> None:
    cells = [
        Cell((("orientation", "landscape"),), 700, 8.0),
        Cell((("orientation", "portrait"),), 300, 8.0),
    ]
    free = allocate(cells, [Target("orientation", "portrait", max=0.5)], 0.0, max_clips=100)
    assert free.counts == [70, 30]  # the pool's own proportions
    tight = allocate(cells, [Target("orientation", "portrait", min=0.5)], 0.0, max_clips=100)
    assert tight.counts == [50, 50]
