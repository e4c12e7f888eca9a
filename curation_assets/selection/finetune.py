"""The fine-tune candidate pool and the reviewed set, from stored scores and reviews. No Dagster.

Movie Gen and HunyuanVideo end with a small, hand-picked fine-tune set. Reviewers' time is the
scarce resource, so the pool they see is (1) only clips that passed every automatic gate and the
*strictest* thresholds configured anywhere, (2) ranked by how promising their stored scores are,
and (3) interleaved across concepts so the first hundred are not all the same kind of footage.
The set itself is whatever enough reviewers accepted, with the trim and caption they chose.
"""

from __future__ import annotations

import bisect
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from curation_assets.selection.thresholds import FilterRule, rules_from_config

ACCEPT, REJECT = "accept", "reject"
DECISIONS = (ACCEPT, REJECT)

# HunyuanVideo's fine-tune rating dimensions (and what Movie Gen's "cinematic" review looks at).
DIMENSIONS: tuple[str, ...] = (
    "color_harmony",
    "lighting",
    "object_emphasis",
    "spatial_layout",
    "motion_speed",
    "action_integrity",
    "motion_blur",
)
RATING_MIN, RATING_MAX = 1, 5
NO_CONCEPT = "none"

Spec = Mapping[str, Mapping[str, Mapping[str, float]]]  # filter -> signal -> {min, max}


def strictest(specs: Iterable[Spec]) -> dict[str, dict[str, dict[str, float]]]:
    """Merge threshold specs keeping, per filter and signal, the highest min and the lowest max."""
    merged: dict[str, dict[str, dict[str, float]]] = {}
    for spec in specs:
        for name, signals in spec.items():
            for signal, limits in signals.items():
                have = merged.setdefault(name, {}).setdefault(signal, {})
                if limits.get("min") is not None:
                    have["min"] = max(have.get("min", -math.inf), limits["min"])
                if limits.get("max") is not None:
                    have["max"] = min(have.get("max", math.inf), limits["max"])
    for name, signals in merged.items():
        for signal, limits in signals.items():
            if "min" in limits and "max" in limits and limits["min"] > limits["max"]:
                raise ValueError(
                    f"strictest thresholds for {name}.{signal} leave nothing: "
                    f"min {limits['min']:g} > max {limits['max']:g}"
                )
    return merged


@dataclass(frozen=True)
class CandidateSettings:
    pool_size: int
    rules: tuple[FilterRule, ...]
    rank_by: Mapping[str, float]  # signal -> weight; negative: lower is better
    max_per_concept: int | None = None
    allow_unscored: frozenset[str] = frozenset({"unsafe"})  # unmeasured: kept, counted

    def __post_init__(self) -> None:
        if self.pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if not self.rank_by or all(w == 0 for w in self.rank_by.values()):
            raise ValueError("rank_by needs at least one signal with a non-zero weight")
        if self.max_per_concept is not None and self.max_per_concept < 1:
            raise ValueError("max_per_concept must be at least 1 (or None)")

    @classmethod
    def from_spec(
        cls,
        pool_size: int,
        spec: Spec,
        rank_by: Mapping[str, float],
        max_per_concept: int | None = None,
        any_of: frozenset[str] = frozenset(),
        allow_unscored: frozenset[str] = frozenset({"unsafe"}),
    ) -> CandidateSettings:
        rules = tuple(rules_from_config(spec, any_of))
        return cls(pool_size, rules, rank_by, max_per_concept, frozenset(allow_unscored))

    def describe(self) -> str:
        return "; ".join(f"{r.name}: {r.threshold}" for r in self.rules)


@dataclass(frozen=True)
class PoolResult:
    candidates: pl.DataFrame  # clip_id, rank, promise, concept, concept_weight (+ clip columns)
    excluded: dict[str, int]  # why eligible-looking clips did not make the pool, counted
    not_scored: dict[str, int]  # allowed-unscored rules nothing was measured for, counted
    eligible: list[str] = field(default_factory=list)  # every clip passing, before pool_size


def rank_candidates(
    clips: pl.DataFrame,
    scores: pl.DataFrame,
    failed: pl.DataFrame,
    concepts: pl.DataFrame,
    settings: CandidateSettings,
    lead: Sequence[tuple[str, str]] = (),
) -> PoolResult:
    """The candidate pool, most promising first.

    ``clips``: one row per clip (clip_id + any columns to carry). ``scores``: long
    (clip_id, signal, value). ``failed``: (clip_id, filter) of every failed automatic decision.
    ``concepts``: (clip_id, concept, concept_weight), possibly empty. ``lead``: (clip_id,
    source) of clips that go first whatever their promise, e.g. the seeds' neighbours
    (``expansion:<theme>``), when eligible; ``pool_size`` score-ranked clips follow them.
    """
    excluded: dict[str, int] = defaultdict(int)
    not_scored: dict[str, int] = defaultdict(int)
    failed_ids = set(failed["clip_id"].to_list()) if failed.height else set()
    for name in failed.unique("clip_id")["filter"].to_list() if failed.height else []:
        excluded[f"failed_{name}"] += 1
    wide: dict[str, dict[str, float]] = defaultdict(dict)
    for cid, signal, value in scores.select("clip_id", "signal", "value").iter_rows():
        if value is not None:
            wide[cid][signal] = value
    eligible: list[str] = []
    for cid in clips["clip_id"].to_list():
        if cid in failed_ids:
            continue
        reason, unmeasured = _strict_failure(
            settings.rules, wide.get(cid, {}), settings.allow_unscored
        )
        for name in unmeasured:
            not_scored[name] += 1
        if reason:
            excluded[reason] += 1
        else:
            eligible.append(cid)
    promise = _promise(eligible, wide, settings.rank_by)
    concept_of, weight_of = {}, {}
    for cid, concept, weight in concepts.select("clip_id", "concept", "concept_weight").iter_rows():
        concept_of[cid], weight_of[cid] = concept, weight
    order = _interleave(eligible, promise, concept_of, settings.max_per_concept, excluded)
    order = order[: settings.pool_size]
    excluded["beyond_pool_size"] += max(0, len(eligible) - len(order) - excluded["concept_cap"])
    eligible_set = set(eligible)
    source = {}
    for cid, why in lead:
        if cid in eligible_set and cid not in source:
            source[cid] = why
    order = list(source) + [c for c in order if c not in source]
    ranked = pl.DataFrame(
        {
            "clip_id": order,
            "rank": list(range(1, len(order) + 1)),
            "promise": [promise[c] for c in order],
            "concept": [concept_of.get(c, NO_CONCEPT) for c in order],
            "concept_weight": [weight_of.get(c) for c in order],
            "source": [source.get(c, "score") for c in order],
        },
        schema={
            "clip_id": pl.String,
            "rank": pl.Int64,
            "promise": pl.Float64,
            "concept": pl.String,
            "concept_weight": pl.Float64,
            "source": pl.String,
        },
    )
    extra = clips.drop([c for c in ranked.columns if c != "clip_id" and c in clips.columns])
    out = ranked.join(extra, on="clip_id", how="left").sort("rank")
    return PoolResult(
        out, {k: v for k, v in excluded.items() if v}, dict(not_scored), sorted(eligible)
    )


def _strict_failure(
    rules: Iterable[FilterRule], scores: Mapping[str, float], allow_unscored: frozenset[str]
) -> tuple[str | None, list[str]]:
    """The first strict rule a clip fails, and the allowed rules nothing was measured for.

    An unmeasured rule excludes the clip (``not_scored_<rule>``) unless it is in
    ``allow_unscored`` (e.g. ``unsafe`` in the offline profile): then the clip stays and the
    rule is counted in ``PoolResult.not_scored``, never passed silently.
    """
    unmeasured = []
    for rule in rules:
        verdict = rule.decide(scores)
        if verdict.passed is None:
            if rule.name not in allow_unscored:
                return f"not_scored_{rule.name}", unmeasured
            unmeasured.append(rule.name)
        elif not verdict.passed:
            return f"strict_{rule.name}", unmeasured
    return None, unmeasured


def _promise(
    ids: list[str], wide: Mapping[str, Mapping[str, float]], weights: Mapping[str, float]
) -> dict[str, float]:
    """Weighted mean of per-signal percentile ranks within the pool (0-1; missing counts 0.5)."""
    if not ids:
        return {}
    total = sum(abs(w) for w in weights.values())
    acc = dict.fromkeys(ids, 0.0)
    for signal, weight in weights.items():
        if weight == 0:
            continue
        values = {c: wide[c][signal] for c in ids if signal in wide.get(c, {})}
        pct = _percentiles(values)
        for cid in ids:
            p = pct.get(cid, 0.5)
            acc[cid] += abs(weight) * (p if weight > 0 else 1.0 - p)
    return {cid: acc[cid] / total for cid in ids}


def _percentiles(values: Mapping[str, float]) -> dict[str, float]:
    """Mid-rank percentile in [0, 1]; ties share a rank; a single value is 0.5."""
    if not values:
        return {}
    ordered = sorted(values.values())
    n = len(ordered)
    out = {}
    for cid, value in values.items():
        below = _bisect(ordered, value, right=False)
        upto = _bisect(ordered, value, right=True)
        out[cid] = 0.5 if n == 1 else ((below + upto - 1) / 2) / (n - 1)
    return out


def _bisect(ordered: list[float], value: float, right: bool) -> int:
    return (bisect.bisect_right if right else bisect.bisect_left)(ordered, value)


def _interleave(
    ids: list[str],
    promise: Mapping[str, float],
    concept_of: Mapping[str, str],
    cap: int | None,
    excluded: dict[str, int],
) -> list[str]:
    """Round-robin over concepts (best concept first), each concept's clips best first."""
    groups: dict[str, list[str]] = defaultdict(list)
    for cid in ids:
        groups[concept_of.get(cid, NO_CONCEPT)].append(cid)
    for members in groups.values():
        members.sort(key=lambda c: (-promise[c], c))
        if cap is not None and len(members) > cap:
            excluded["concept_cap"] += len(members) - cap
            del members[cap:]
    keyed = [
        (position, -promise[cid], cid)
        for members in groups.values()
        for position, cid in enumerate(members)
    ]
    return [cid for _, _, cid in sorted(keyed)]


# -- reviews -> agreement and the fine-tune set ----------------------------------------------


def latest_reviews(reviews: pl.DataFrame) -> pl.DataFrame:
    """The latest review of each (clip, reviewer): a reviewer may change their mind."""
    if reviews.height == 0:
        return reviews
    return (
        reviews.sort(["created_at", "review_id"])
        .group_by(["clip_id", "reviewer"], maintain_order=True)
        .last()
        .sort(["clip_id", "reviewer"])
    )


@dataclass(frozen=True)
class Agreement:
    reviewers: tuple[str, ...]
    accepts: int
    rejects: int
    agreement: float | None  # share of reviewers agreeing with the majority decision
    rating_spread: dict[str, int]  # per dimension: max - min over reviewers who rated it
    mean_ratings: dict[str, float]

    @property
    def majority(self) -> str | None:
        if self.accepts == self.rejects:
            return None
        return ACCEPT if self.accepts > self.rejects else REJECT


def agreement(latest: Iterable[Mapping]) -> Agreement:
    """Agreement among reviewers' latest reviews of one clip."""
    rows = list(latest)
    accepts = sum(r["decision"] == ACCEPT for r in rows)
    rejects = sum(r["decision"] == REJECT for r in rows)
    per_dim: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        for dim, value in json.loads(r.get("ratings_json") or "{}").items():
            per_dim[dim].append(int(value))
    share = max(accepts, rejects) / len(rows) if rows else None
    return Agreement(
        reviewers=tuple(sorted(r["reviewer"] for r in rows)),
        accepts=accepts,
        rejects=rejects,
        agreement=share,
        rating_spread={d: max(v) - min(v) for d, v in per_dim.items()},
        mean_ratings={d: sum(v) / len(v) for d, v in per_dim.items()},
    )


def validate_trim(in_s: float, out_s: float, clip_start: float, clip_end: float, min_s: float):
    """Trim points must lie inside the clip and keep at least ``min_s``; raises ValueError."""
    eps = 1e-3
    if not (math.isfinite(in_s) and math.isfinite(out_s)):
        raise ValueError("in and out points must be numbers")
    if in_s < clip_start - eps or out_s > clip_end + eps:
        raise ValueError(
            f"trim {in_s:.2f}-{out_s:.2f} s lies outside the clip {clip_start:.2f}-{clip_end:.2f} s"
        )
    if out_s - in_s < min_s - eps:
        raise ValueError(f"trimmed segment {out_s - in_s:.2f} s is shorter than {min_s:g} s")


def finetune_members(
    reviews: pl.DataFrame, clips: pl.DataFrame, captions: Mapping[str, str], min_accepts: int
) -> pl.DataFrame:
    """Accepted clips with their trim and caption.

    A clip is in when at least ``min_accepts`` reviewers' latest reviews accept it and accepts
    outnumber rejects. Its range and caption come from the most recent accepting review.
    """
    latest = latest_reviews(reviews)
    clip_rows = {r["clip_id"]: r for r in clips.to_dicts()}
    rows = []
    by_clip: dict[str, list[dict]] = defaultdict(list)
    for r in latest.to_dicts():
        by_clip[r["clip_id"]].append(r)
    for cid, reviews_of in sorted(by_clip.items()):
        info = clip_rows.get(cid)
        agree = agreement(reviews_of)
        if info is None or agree.accepts < min_accepts or agree.majority != ACCEPT:
            continue
        chosen = max(
            (r for r in reviews_of if r["decision"] == ACCEPT),
            key=lambda r: (r["created_at"], r["review_id"]),
        )
        start = chosen["in_s"] if chosen["in_s"] is not None else info["start_s"]
        end = chosen["out_s"] if chosen["out_s"] is not None else info["end_s"]
        original = captions.get(cid) or ""
        caption = chosen["caption"] if chosen["caption"] is not None else original
        rows.append(
            {
                "clip_id": cid,
                "video_id": info.get("video_id"),
                "shard": info.get("shard"),
                "uri": info.get("uri"),
                "start_s": start,
                "end_s": end,
                "duration_s": round(end - start, 6),
                "caption": caption,
                "caption_edited": caption != original,
                "reviewers": ",".join(agree.reviewers),
                "accepts": agree.accepts,
                "rejects": agree.rejects,
                "agreement": agree.agreement,
                "ratings_json": json.dumps(agree.mean_ratings, sort_keys=True),
            }
        )
    return pl.DataFrame(rows) if rows else pl.DataFrame()
