"""Explain and funnel: answers to "why did this clip end up (or not) where it is?"."""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from curation_assets.lineage.store import LineageStore
from curation_assets.vocabulary import Stage

# Pipeline order of stages that write decisions; unknown stages sort after these.
STAGE_ORDER = [
    Stage.SHOT_CLIPS.value,
    "visual_filter",
    "motion_filter",
    "content_filter",
    "captions",
]


def _rows(store, sql: str, params: list) -> list[dict]:
    """``store`` is a LineageStore or an open connection (one connection for many lookups)."""
    if isinstance(store, LineageStore):
        return store.query(sql, params).to_dicts()
    return store.sql(sql, params=params).pl().to_dicts()


GLOBAL_PARTITION = "all"  # the partition name of every unpartitioned (global) writer
EXPLAIN_TABLES = (
    "videos", "clips", "decode_passes", "shots", "decisions", "scores", "clip_labels",
    "subset_members", "captions", "transitions",
)  # fmt: skip


def explain(store: LineageStore, ident: str) -> dict:
    """The decision trail for a clip id, a video id or a file name (all matches)."""
    with store.connect(["clips"]) as con:
        found = con.sql("SELECT shard FROM clips WHERE clip_id = ?", params=[ident]).fetchall()
    # A clip's rows live in its shard's parts and in global ones ("all"): read only those.
    partitions = [found[0][0], GLOBAL_PARTITION] if found and found[0][0] else None
    con = store.connect(EXPLAIN_TABLES, partitions=partitions)
    try:
        return _explain(con, ident)
    finally:
        con.close()


def _explain(store, ident: str) -> dict:
    clips = _rows(store, "SELECT * FROM clips WHERE clip_id = ?", [ident])
    if clips:
        clip = clips[0]
        video = _rows(store, "SELECT * FROM videos WHERE video_id = ?", [clip["video_id"]])
        return {
            "kind": "clip",
            "clip": clip,
            "video": video[0] if video else None,
            "bounded_by": _bounding_transitions(store, clip),
            **_clip_trail(store, clip["clip_id"]),
        }
    videos = _rows(store, "SELECT * FROM videos WHERE video_id = ?", [ident])
    if not videos:
        videos = _rows(
            store,
            "SELECT * FROM videos WHERE file_name = ? OR regexp_extract(file_name, '[^/]*$') = ? "
            "ORDER BY shard, file_name",
            [ident, ident],
        )
    if not videos:
        return {"kind": "unknown", "id": ident}
    return {"kind": "video", "videos": [_video_trail(store, v) for v in videos]}


def stage_rank(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def _clip_trail(store, clip_id: str) -> dict:
    decisions = _rows(
        store,
        "SELECT stage, filter, passed, value, threshold, reason FROM decisions "
        "WHERE clip_id = ? ORDER BY stage, filter",
        [clip_id],
    )
    return {
        "decisions": sorted(decisions, key=lambda d: stage_rank(d["stage"])),
        "scores": _rows(
            store,
            "SELECT signal, value, scorer, scorer_version FROM scores WHERE clip_id = ? "
            "ORDER BY signal",
            [clip_id],
        ),
        "labels": _rows(
            store,
            "SELECT kind, label, confidence, scorer FROM clip_labels WHERE clip_id = ? "
            "ORDER BY kind",
            [clip_id],
        ),
        "subsets": _rows(
            store,
            "SELECT subset, weight, bucket FROM subset_members WHERE clip_id = ? ORDER BY subset",
            [clip_id],
        ),
        "captions": _rows(
            store,
            "SELECT captioner, model, caption, words FROM captions WHERE clip_id = ?",
            [clip_id],
        ),
    }


def _bounding_transitions(store, clip: dict) -> list[dict]:
    """The gradual transitions right before and after the clip's shot (a cut or the video's
    edge bounds it otherwise), each with ``side`` ``after`` (it precedes the clip) or ``before``."""
    try:
        shots = _rows(
            store,
            "SELECT after_transition, before_transition FROM shots "
            "WHERE video_id = ? AND shot_index = ?",
            [clip["video_id"], clip["shot_index"]],
        )
    except duckdb.BinderException:  # lineage written before transitions were recorded
        return []
    if not shots:
        return []
    out = []
    for side in ("after", "before"):
        index = shots[0].get(f"{side}_transition")
        if index is None:
            continue
        for row in _rows(
            store,
            "SELECT transition_index, kind, start_frame, end_frame, start_s, end_s, confidence "
            "FROM transitions WHERE video_id = ? AND transition_index = ?",
            [clip["video_id"], index],
        ):
            out.append({"side": side, **row})
    return out


def _video_trail(store, video: dict) -> dict:
    vid = video["video_id"]
    passes = _rows(store, "SELECT * FROM decode_passes WHERE video_id = ?", [vid])
    shots = _rows(store, "SELECT * FROM shots WHERE video_id = ? ORDER BY shot_index", [vid])
    clips = _rows(store, "SELECT * FROM clips WHERE video_id = ? ORDER BY start_s", [vid])
    transitions = _rows(
        store, "SELECT * FROM transitions WHERE video_id = ? ORDER BY transition_index", [vid]
    )
    for clip in clips:
        clip["failed"] = _rows(
            store,
            "SELECT stage, filter, value, threshold, reason FROM decisions "
            "WHERE clip_id = ? AND NOT passed ORDER BY stage, filter",
            [clip["clip_id"]],
        )
        clip["labels"] = {
            row["kind"]: row["label"]
            for row in _rows(
                store,
                "SELECT kind, label FROM clip_labels WHERE clip_id = ? ORDER BY kind, scorer",
                [clip["clip_id"]],
            )
        }
    return {
        "video": video,
        "decode_pass": passes[0] if passes else None,
        "shots": shots,
        "clips": clips,
        "transitions": transitions,
    }


@dataclass(frozen=True)
class FunnelStep:
    step: str
    videos: int
    clips: int | None
    seconds: float
    note: str = ""


def funnel(
    store: LineageStore, shard: str | None = None, subset: str | None = None
) -> list[FunnelStep]:
    """How many videos, clips and seconds survive each step so far."""
    where, params = ("WHERE shard = ?", [shard]) if shard else ("", [])
    con = store.connect()
    try:

        def one(sql: str, extra: list | None = None):
            return con.execute(sql, params + (extra or [])).fetchone()

        steps: list[FunnelStep] = []
        n, secs = one(f"SELECT count(*), coalesce(sum(duration_s), 0) FROM videos {where}")
        steps.append(FunnelStep("files", n, None, secs, "seconds where the container says"))
        adm_where = f"{where} {'AND' if where else 'WHERE'} status = 'admitted'"
        n, secs = one(f"SELECT count(*), coalesce(sum(duration_s), 0) FROM videos {adm_where}")
        steps.append(FunnelStep("admitted", n, None, secs))
        ok_where = f"{where} {'AND' if where else 'WHERE'} status = 'ok'"
        n, secs = one(f"SELECT count(*), coalesce(sum(decoded_s), 0) FROM decode_passes {ok_where}")
        steps.append(FunnelStep("decoded", n, None, secs))
        n, clips, secs = one(
            "SELECT count(DISTINCT video_id), count(*), coalesce(sum(duration_s), 0) "
            f"FROM clips {where}"
        )
        steps.append(FunnelStep("single-shot clips", n, clips, secs, "4-16 s windows"))
        stages = [
            r[0]
            for r in con.execute(f"SELECT DISTINCT stage FROM decisions {where}", params).fetchall()
        ]
        subsets = {r[0] for r in con.execute("SELECT subset FROM subset_runs").fetchall()}
        stages = sorted(
            (s for s in stages if s != Stage.SHOT_CLIPS.value and s not in subsets),
            key=stage_rank,
        )
        failed_so_far: list[str] = []
        for stage in stages:
            failed_so_far.append(stage)
            marks = ", ".join("?" for _ in failed_so_far)
            n, clips, secs = one(
                f"SELECT count(DISTINCT video_id), count(*), coalesce(sum(duration_s), 0) "
                f"FROM clips {where} {'AND' if where else 'WHERE'} clip_id NOT IN ("
                f"SELECT clip_id FROM decisions WHERE NOT passed AND stage IN ({marks}))",
                failed_so_far,
            )
            steps.append(FunnelStep(stage, n, clips, secs))
        if subset:
            n, clips, secs = con.execute(
                "SELECT count(DISTINCT c.video_id), count(*), coalesce(sum(c.duration_s), 0) "
                f"FROM subset_members m JOIN clips c USING (clip_id) WHERE m.subset = ? "
                f"{'AND c.shard = ?' if shard else ''}",
                [subset] + params,
            ).fetchone()
            steps.append(FunnelStep(f"subset {subset}", n, clips, secs))
        return steps
    finally:
        con.close()


def stage_funnel(store: LineageStore, subset: str) -> dict | None:
    """A subset stage's own funnel as recorded by its last materialization: share of its pool
    remaining after each filter, in order (Movie Gen's appendix-table style)."""
    rows = _rows(
        store,
        "SELECT subset, parent, pool_clips, members, hours, funnel_json, composition_json, notes "
        "FROM subset_runs WHERE subset = ?",
        [subset],
    )
    if not rows:
        return None
    run = rows[0]
    return {
        "subset": subset,
        "parent": run["parent"],
        "pool_clips": run["pool_clips"],
        "members": run["members"],
        "hours": run["hours"],
        "steps": json.loads(run["funnel_json"] or "[]"),
        "composition": json.loads(run["composition_json"] or "[]"),
        "notes": run["notes"],
    }
