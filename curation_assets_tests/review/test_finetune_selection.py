"""Pure fine-tune logic: strictest thresholds, ranking, concept interleaving, agreement, set."""

from __future__ import annotations

import json

import polars as pl
import pytest

from curation_assets.selection.finetune import (
    CandidateSettings,
    agreement,
    finetune_members,
    latest_reviews,
    rank_candidates,
    strictest,
    validate_trim,
)


def test_strictest_keeps_the_highest_min_and_the_lowest_max() -> None:
    merged = strictest(
        [
            {"sharpness": {"sharpness": {"min": 10}}, "exposure": {"brightness": {"max": 0.9}}},
            {"sharpness": {"sharpness": {"min": 50}}, "exposure": {"brightness": {"min": 0.1}}},
            {"exposure": {"brightness": {"max": 0.8}}},
        ]
    )
    assert merged == {
        "sharpness": {"sharpness": {"min": 50}},
        "exposure": {"brightness": {"max": 0.8, "min": 0.1}},
    }
    with pytest.raises(ValueError, match="leave nothing"):
        strictest(
            [{"exposure": {"brightness": {"min": 0.9}}}, {"exposure": {"brightness": {"max": 0.5}}}]
        )


def _frames(scores: dict[str, dict[str, float]], concepts: dict[str, str], failed=()):
    clips = pl.DataFrame({"clip_id": list(scores), "start_s": [0.0] * len(scores)})
    long = pl.DataFrame(
        [
            {"clip_id": c, "signal": s, "value": v}
            for c, sig in scores.items()
            for s, v in sig.items()
        ],
        schema={"clip_id": pl.String, "signal": pl.String, "value": pl.Float64},
    )
    fails = pl.DataFrame(
        [{"clip_id": c, "filter": f} for c, f in failed],
        schema={"clip_id": pl.String, "filter": pl.String},
    )
    conc = pl.DataFrame(
        [{"clip_id": c, "concept": k, "concept_weight": 1.0} for c, k in concepts.items()],
        schema={"clip_id": pl.String, "concept": pl.String, "concept_weight": pl.Float64},
    )
    return clips, long, fails, conc


def _settings(pool: int = 10, cap: int | None = None) -> CandidateSettings:
    return CandidateSettings.from_spec(
        pool,
        {"sharpness": {"sharpness": {"min": 50}}, "unsafe": {"unsafe_clip": {"max": 0.5}}},
        {"technical_quality": 1.0, "shake": -1.0},
        max_per_concept=cap,
    )


def test_candidates_pass_strict_thresholds_and_are_ranked_and_interleaved_by_concept() -> None:
    scores = {
        "a1": {"sharpness": 90, "technical_quality": 0.9, "shake": 0.001},
        "a2": {"sharpness": 90, "technical_quality": 0.8, "shake": 0.001},
        "a3": {"sharpness": 90, "technical_quality": 0.7, "shake": 0.001},
        "b1": {"sharpness": 90, "technical_quality": 0.6, "shake": 0.001},
        "b2": {"sharpness": 90, "technical_quality": 0.5, "shake": 0.001},
        "blurry": {"sharpness": 20, "technical_quality": 1.0, "shake": 0.0},
        "dup": {"sharpness": 90, "technical_quality": 1.0, "shake": 0.0},
        "unmeasured": {"technical_quality": 0.95, "shake": 0.0},
    }
    concepts = {c: c[0] for c in scores}
    result = rank_candidates(
        *_frames(scores, concepts, failed=[("dup", "near_duplicate")]), _settings()
    )
    order = result.candidates["clip_id"].to_list()
    # concept a is best, so it leads; then the two concepts alternate, best first within each
    assert order == ["a1", "b1", "a2", "b2", "a3"]
    assert result.candidates["rank"].to_list() == [1, 2, 3, 4, 5]
    assert result.excluded == {
        "failed_near_duplicate": 1,
        "strict_sharpness": 1,
        "not_scored_sharpness": 1,  # unmeasured and not allowed to be: out, with its reason
    }
    # unsafe is unmeasured for every clip (offline) and allowed: counted, not excluding
    assert result.not_scored == {"unsafe": 5}


def test_unmeasured_rules_exclude_unless_allowed_and_are_counted_either_way() -> None:
    scores = {"x": {"technical_quality": 0.5, "shake": 0.0}}
    strict = rank_candidates(*_frames(scores, {}), _settings())
    assert strict.candidates.height == 0
    assert strict.excluded == {"not_scored_sharpness": 1}
    lenient = CandidateSettings.from_spec(
        10,
        {"sharpness": {"sharpness": {"min": 50}}},
        {"technical_quality": 1.0},
        allow_unscored=frozenset({"sharpness"}),
    )
    result = rank_candidates(*_frames(scores, {}), lenient)
    assert result.candidates["clip_id"].to_list() == ["x"]
    assert result.not_scored == {"sharpness": 1}
    assert result.candidates["concept"].to_list() == ["none"]


def test_pool_size_and_concept_cap_bound_the_pool() -> None:
    scores = {f"a{i}": {"sharpness": 90, "technical_quality": i / 10} for i in range(6)}
    scores |= {f"b{i}": {"sharpness": 90, "technical_quality": i / 20} for i in range(2)}
    concepts = {c: c[0] for c in scores}
    capped = rank_candidates(*_frames(scores, concepts), _settings(pool=10, cap=2))
    assert capped.candidates["clip_id"].to_list() == ["a5", "b1", "a4", "b0"]
    assert capped.excluded["concept_cap"] == 4
    small = rank_candidates(*_frames(scores, concepts), _settings(pool=3))
    assert small.candidates.height == 3
    assert small.excluded["beyond_pool_size"] == 5


def test_promise_uses_percentiles_and_negative_weights_prefer_low_values() -> None:
    scores = {
        "steady": {"sharpness": 90, "technical_quality": 0.5, "shake": 0.001},
        "shaky": {"sharpness": 90, "technical_quality": 0.5, "shake": 0.009},
    }
    result = rank_candidates(*_frames(scores, {}), _settings())
    promise = dict(zip(result.candidates["clip_id"], result.candidates["promise"], strict=True))
    assert result.candidates["clip_id"].to_list() == ["steady", "shaky"]
    assert promise["steady"] == pytest.approx(0.75) and promise["shaky"] == pytest.approx(0.25)


def test_settings_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="pool_size"):
        CandidateSettings(0, (), {"technical_quality": 1.0})
    with pytest.raises(ValueError, match="rank_by"):
        CandidateSettings(5, (), {"technical_quality": 0.0})


def _review(rid, clip, who, decision, at, in_s=None, out_s=None, caption=None, **ratings):
    return {
        "review_id": rid,
        "clip_id": clip,
        "reviewer": who,
        "decision": decision,
        "in_s": in_s,
        "out_s": out_s,
        "caption": caption,
        "ratings_json": json.dumps(ratings),
        "created_at": at,
        "note": None,
    }


def test_latest_review_per_reviewer_counts_and_agreement_is_the_majority_share() -> None:
    reviews = pl.DataFrame(
        [
            _review("1", "c", "ann", "reject", "2026-01-01T00:00:01", lighting=2),
            _review("2", "c", "ann", "accept", "2026-01-01T00:00:02", lighting=4),  # changed mind
            _review("3", "c", "bob", "accept", "2026-01-01T00:00:03", lighting=5),
            _review("4", "c", "cy", "reject", "2026-01-01T00:00:04", lighting=1),
        ]
    )
    latest = latest_reviews(reviews)
    assert latest.height == 3
    agree = agreement(latest.to_dicts())
    assert (agree.accepts, agree.rejects, agree.majority) == (2, 1, "accept")
    assert agree.agreement == pytest.approx(2 / 3)
    assert agree.rating_spread == {"lighting": 4}
    assert agree.mean_ratings["lighting"] == pytest.approx(10 / 3)


def test_the_set_takes_trim_and_caption_from_the_latest_accepting_review() -> None:
    clips = pl.DataFrame(
        {
            "clip_id": ["c", "d", "e"],
            "video_id": ["v", "v", "v"],
            "shard": ["s"] * 3,
            "uri": ["file:///x.mp4"] * 3,
            "start_s": [0.0, 10.0, 20.0],
            "end_s": [8.0, 18.0, 28.0],
        }
    )
    reviews = pl.DataFrame(
        [
            _review("1", "c", "ann", "accept", "t1", 1.0, 5.0, "ann's caption"),
            _review("2", "c", "bob", "accept", "t2", 2.0, 6.5, "bob's <b>caption</b>"),
            _review("3", "d", "ann", "accept", "t3"),  # no trim, no edit: whole clip, original
            _review("4", "e", "ann", "accept", "t4"),
            _review("5", "e", "bob", "reject", "t5"),  # a tie is not a majority
        ]
    )
    captions = {"c": "orig c", "d": "orig d", "e": "orig e"}
    members = finetune_members(reviews, clips, captions, min_accepts=1)
    rows = {r["clip_id"]: r for r in members.to_dicts()}
    assert set(rows) == {"c", "d"}
    assert (rows["c"]["start_s"], rows["c"]["end_s"], rows["c"]["duration_s"]) == (2.0, 6.5, 4.5)
    assert rows["c"]["caption"] == "bob's <b>caption</b>" and rows["c"]["caption_edited"]
    assert rows["c"]["reviewers"] == "ann,bob" and rows["c"]["agreement"] == 1.0
    assert (rows["d"]["start_s"], rows["d"]["end_s"]) == (10.0, 18.0)
    assert rows["d"]["caption"] == "orig d" and not rows["d"]["caption_edited"]
    assert finetune_members(reviews, clips, captions, min_accepts=2)["clip_id"].to_list() == ["c"]


@pytest.mark.parametrize(
    ("in_s", "out_s", "message"),
    [
        (-0.5, 3.0, "outside the clip"),
        (1.0, 8.5, "outside the clip"),
        (1.0, 2.0, "shorter than 2"),
        (5.0, 4.0, "shorter than 2"),
        (float("nan"), 4.0, "numbers"),
    ],
)
def test_trims_outside_the_clip_or_too_short_are_refused(in_s, out_s, message) -> None:
    with pytest.raises(ValueError, match=message):
        validate_trim(in_s, out_s, 0.0, 8.0, 2.0)
    validate_trim(0.0, 8.0, 0.0, 8.0, 2.0)
