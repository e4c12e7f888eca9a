"""The candidate pool of a stage, read from lineage: one row per clip of an admitted video
with the stored scores and labels a stage needs as columns. Reads only; decodes nothing."""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from curation_assets.lineage.store import LineageStore
from curation_assets.vocabulary import Content, Stage

LABEL_PREFIX = "label:"
# a model's label wins over these offline scorers' for the same kind
OFFLINE_LABEL_SCORERS = ("blazepose_people", "opencv_people", "skimage_faces")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_pool(
    store: LineageStore,
    signals: Iterable[str],
    label_kinds: Iterable[str],
    clip_ids: pl.Series | None = None,
) -> pl.DataFrame:
    """Clips x (``media``, signals, ``label:<kind>``, ``dedup_representative``,
    ``caption_ok``). ``media`` is ``video`` or ``image`` (a clip written before images were
    ingested has none: ``video``); a stage keeps only its own media (``selection/stages.py``).

    ``clip_ids`` restricts the pool (a child stage selects from its parent's members)."""
    signals = sorted(set(signals) | {Content.CONCEPT_WEIGHT.value})
    kinds = sorted(set(label_kinds))
    con = store.connect(["clips", "videos", "scores", "clip_labels", "decisions", "captions"])
    try:
        restrict = ""
        if clip_ids is not None:
            con.register("wanted", pl.DataFrame({"clip_id": clip_ids.cast(pl.String)}))
            restrict = "AND c.clip_id IN (SELECT clip_id FROM wanted)"
        sig_cols = ", ".join(
            f"max(value) FILTER (WHERE signal = {_lit(s)}) AS {_ident(s)}" for s in signals
        )
        offline = ", ".join(_lit(s) for s in OFFLINE_LABEL_SCORERS)
        label_cols = ", ".join(
            f"arg_max(label, CASE WHEN scorer IN ({offline}) THEN 0 ELSE 1 END) "
            f"FILTER (WHERE kind = {_lit(k)}) AS {_ident(LABEL_PREFIX + k)}"
            for k in kinds
        )
        label_cte = (
            f", l AS (SELECT clip_id, {label_cols} FROM clip_labels WHERE kind IN "
            f"({', '.join(_lit(k) for k in kinds)}) GROUP BY clip_id)"
            if kinds
            else ""
        )
        sql = f"""
        WITH s AS (
            SELECT clip_id, {sig_cols} FROM scores
            WHERE signal IN ({", ".join(_lit(s) for s in signals)}) GROUP BY clip_id
        ){label_cte},
        dup AS (
            SELECT clip_id, bool_and(passed) AS dedup_representative FROM decisions
            WHERE stage = {_lit(Stage.NEAR_DUPLICATES.value)} GROUP BY clip_id
        ),
        cap AS (SELECT DISTINCT clip_id FROM captions),
        capbad AS (
            SELECT DISTINCT clip_id FROM decisions WHERE stage = 'captions' AND passed = false
        )
        SELECT c.clip_id, c.video_id, c.shard, c.start_s, c.end_s, c.duration_s,
               coalesce(c.media, 'video') AS media, v.width, v.height, v.fps,
               s.* EXCLUDE (clip_id)
               {", l.* EXCLUDE (clip_id)" if kinds else ""},
               dup.dedup_representative,
               (cap.clip_id IS NOT NULL AND capbad.clip_id IS NULL) AS caption_ok
        FROM clips c
        JOIN videos v ON v.video_id = c.video_id AND v.status = 'admitted'
        LEFT JOIN s ON s.clip_id = c.clip_id
        {"LEFT JOIN l ON l.clip_id = c.clip_id" if kinds else ""}
        LEFT JOIN dup ON dup.clip_id = c.clip_id
        LEFT JOIN cap ON cap.clip_id = c.clip_id
        LEFT JOIN capbad ON capbad.clip_id = c.clip_id
        WHERE true {restrict}
        ORDER BY c.clip_id
        """
        pool = con.sql(sql).pl()
    finally:
        con.close()
    for s in signals:  # a signal nobody measured yet is still a (null) column
        if s not in pool.columns:
            pool = pool.with_columns(pl.lit(None, dtype=pl.Float64).alias(s))
    return pool
