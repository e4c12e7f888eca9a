"""Subset stages over stored scores, wired to the lineage store. No Dagster, no decoding."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from curation_assets.config import CurationConfig
from curation_assets.lineage.store import LineageStore
from curation_assets.selection.pool import load_pool
from curation_assets.selection.stage_gates import effective_gates, needed_labels, needed_signals
from curation_assets.selection.stages import StageSelection, select_stage
from curation_assets.signals import catalogue

WRITER_PREFIX = "subset_"
PARTITION = "all"


def stage_names(cfg: CurationConfig) -> list[str]:
    """Stages with parents before children."""
    stages = cfg.subsets.resolved()
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        parent = stages[name].parent
        if parent is not None:
            visit(parent)
        order.append(name)

    for name in stages:
        visit(name)
    return order


def members_of(store: LineageStore, subset: str) -> pl.Series:
    return store.query(
        "SELECT clip_id FROM subset_members WHERE subset = ? ORDER BY clip_id", [subset]
    )["clip_id"]


def run_stage(
    store: LineageStore, cfg: CurationConfig, name: str
) -> tuple[StageSelection, pl.DataFrame]:
    """Select one stage from stored scores and replace its lineage (idempotent).
    Returns the selection and the pool it was chosen from."""
    stages = cfg.subsets.resolved()
    if name not in stages:
        raise KeyError(f"no subset stage {name!r}; configured: {sorted(stages)}")
    stage = stages[name]
    gates = effective_gates(cfg, stage)
    restrict = members_of(store, stage.parent) if stage.parent else None
    pool = load_pool(store, needed_signals(gates, stage), needed_labels(stage), restrict)
    selection = select_stage(pool, name, stage, gates, parent=stage.parent)
    store.replace(
        WRITER_PREFIX + name,
        PARTITION,
        {
            "decisions": selection.decisions,
            "subset_members": selection.members,
            "subset_runs": [selection.run_record(stage)],
        },
    )
    return selection, pool


def export_members(
    store: LineageStore, subset: str, signal_modules: Sequence[str] = ()
) -> pl.DataFrame:
    """What an export needs per member: source, range, caption, bucket and the scores whose
    signals are declared exported (``Signal.export``), as ``score_<name>`` columns."""
    columns = ",\n".join(
        f"max(value) FILTER (WHERE signal = '{s.name}') AS score_{s.name}"
        for s in catalogue.exported(signal_modules)
    )
    frame = store.query(
        f"""
        WITH sc AS (
            SELECT clip_id, {columns}
            FROM scores WHERE clip_id IN (SELECT clip_id FROM subset_members WHERE subset = ?)
            GROUP BY clip_id
        ),
        cap AS (
            SELECT clip_id, any_value(caption) AS caption, any_value(fields_json) AS fields_json
            FROM captions GROUP BY clip_id
        )
        SELECT m.clip_id, c.video_id, v.uri, coalesce(c.media, 'video') AS media,
               c.start_s, c.end_s, c.duration_s,
               c.start_frame, c.end_frame, v.fps, v.width, v.height,
               m.bucket, m.duration_bucket, m.aspect_bucket, m.weight,
               cap.caption, cap.fields_json, sc.* EXCLUDE (clip_id)
        FROM subset_members m
        JOIN clips c ON c.clip_id = m.clip_id
        JOIN videos v ON v.video_id = c.video_id
        LEFT JOIN cap ON cap.clip_id = m.clip_id
        LEFT JOIN sc ON sc.clip_id = m.clip_id
        WHERE m.subset = ?
        ORDER BY m.bucket, m.clip_id
        """,
        [subset, subset],
    )
    return frame
