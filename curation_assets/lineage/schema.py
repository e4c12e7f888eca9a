"""Lineage tables (docs/lineage.md "Tables"): the contract's columns first, additions last."""

from __future__ import annotations

import polars as pl

S, F, I, B = pl.String, pl.Float64, pl.Int64, pl.Boolean  # noqa: E741 - column type shorthands

TABLES: dict[str, dict[str, type[pl.DataType]]] = {
    "videos": {
        "video_id": S,
        "shard": S,
        "file_name": S,
        "uri": S,
        "status": S,
        "reason": S,
        "duration_s": F,
        "width": I,
        "height": I,
        "fps": F,
        "codec": S,
        "detail": S,
        "bytes": I,
        "content_sha256": S,
        "has_audio": B,
        "frame_count": I,
        "frame_count_estimated": B,
        "rotation": I,
        "coded_width": I,
        "coded_height": I,
        "pix_fmt": S,
        "container_format": S,
        "truncated": B,
        "declared_duration_s": F,
        "media": S,  # video | image (vocabulary.Media); null for a file refused unopened
    },
    # One row per admitted video: how its single decode pass went. (Timings such as decode
    # fps go to asset metadata, not here: a re-run must leave lineage unchanged.)
    "decode_passes": {
        "video_id": S,
        "shard": S,
        "status": S,
        "reason": S,
        "detail": S,
        "frames": I,
        "decoded_s": F,
        "cuts": I,
        "shots": I,
        "clips": I,
        "clip_s": F,
        "samples_path": S,
        "transitions": I,
    },
    # Every shot of every decoded video, with why it gave fewer clips than it could.
    "shots": {
        "video_id": S,
        "shard": S,
        "shot_index": I,
        "start_s": F,
        "end_s": F,
        "start_frame": I,
        "end_frame": I,
        "clips": I,
        "reason": S,
        "detail": S,
        # the gradual transition (its transition_index) this shot starts after / ends before
        "after_transition": I,
        "before_transition": I,
    },
    # Every gradual transition the decode pass found (media/transitions.py): frames
    # start_frame .. end_frame - 1 mix two shots or show the colour a fade goes through.
    "transitions": {
        "video_id": S,
        "shard": S,
        "transition_index": I,
        "start_frame": I,
        "end_frame": I,
        "start_s": F,
        "end_s": F,
        "kind": S,
        "confidence": F,
    },
    "clips": {
        "clip_id": S,
        "video_id": S,
        "shard": S,
        "start_s": F,
        "end_s": F,
        "duration_s": F,
        "shot_index": I,
        "start_frame": I,
        "end_frame": I,
        "media": S,  # video | image: an image clip has no time span (start_s = end_s = 0)
    },
    "scores": {"clip_id": S, "signal": S, "value": F, "scorer": S, "scorer_version": S, "shard": S},
    "clip_labels": {
        "clip_id": S,
        "kind": S,
        "label": S,
        "confidence": F,
        "scorer": S,
        "shard": S,
    },
    "decisions": {
        "clip_id": S,
        "stage": S,
        "filter": S,
        "passed": B,
        "value": F,
        "threshold": S,
        "reason": S,
        "shard": S,
    },
    "subset_members": {
        "subset": S,
        "clip_id": S,
        "weight": F,
        "bucket": S,
        "duration_bucket": S,
        "aspect_bucket": S,
        "video_id": S,
        "shard": S,
        "duration_s": F,
        "media": S,  # video | image: the stage's media kind (null: written before images)
    },
    # One row per subset materialization: the thresholds and targets it applied, what it got.
    "subset_runs": {
        "subset": S,
        "parent": S,
        "pool_clips": I,
        "members": I,
        "hours": F,
        "seed": I,
        "thresholds_json": S,
        "stage_json": S,
        "composition_json": S,
        "funnel_json": S,
        "notes": S,
        "media": S,  # video | image: what the stage selects (null: written before images)
    },
    "captions": {
        "clip_id": S,
        "captioner": S,
        "model": S,
        "caption": S,
        "fields_json": S,
        "words": I,
        "shard": S,
    },
    # Fine-tune workflow (review app): the ranked pool, every review event, the reviewed set.
    "finetune_candidates": {
        "clip_id": S,
        "rank": I,
        "promise": F,
        "concept": S,
        "concept_weight": F,
        "video_id": S,
        "shard": S,
        "start_s": F,
        "end_s": F,
        "thresholds": S,
        "source": S,  # "score", or "expansion:<theme>" (a seed's neighbour, reviewed first)
    },
    # One row per submitted review (append-only; the latest per clip and reviewer counts).
    "reviews": {
        "review_id": S,
        "clip_id": S,
        "reviewer": S,
        "decision": S,
        "in_s": F,
        "out_s": F,
        "caption": S,
        "ratings_json": S,
        "created_at": S,
        "note": S,
    },
    "finetune_set": {
        "clip_id": S,
        "video_id": S,
        "shard": S,
        "uri": S,
        "start_s": F,
        "end_s": F,
        "duration_s": F,
        "caption": S,
        "caption_edited": B,
        "reviewers": S,
        "accepts": I,
        "rejects": I,
        "agreement": F,
        "ratings_json": S,
    },
    # Seeds marked in the review page (append-only like reviews; the latest per clip, theme and
    # reviewer counts: action "seed" or "unseed").
    "seed_marks": {
        "mark_id": S,
        "clip_id": S,
        "theme": S,
        "reviewer": S,
        "action": S,
        "created_at": S,
    },
    # The seeds in force (marks and finetune.seeds_file) and what was wrong with any of them.
    "finetune_seeds": {
        "clip_id": S,
        "theme": S,
        "marked_by": S,
        "marked_at": S,
        "source": S,
        "problem": S,
        "expanded_from": S,  # the clip expanded (the kept copy of a dropped one); null: unknown
    },
    # "More like these seeds": each neighbour, the seed it is nearest to and how near.
    "finetune_expansion": {
        "theme": S,
        "clip_id": S,
        "neighbour_of": S,
        "similarity": F,
        "rank": I,
        "embedding": S,
    },
    # finetune_variants: which accepted clips each seeded variant holds.
    "finetune_variants": {
        "variant": I,
        "clip_id": S,
        "stratum": S,
    },
}


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """Rows -> a frame with exactly the table's columns and types (missing keys become null)."""
    schema = TABLES[table]
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame([{k: row.get(k) for k in schema} for row in rows], schema=schema)
