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
    """``videos``, ``clips``, ``seconds``: video files and their clips (a file refused unopened
    counts as a video); ``images``: still images (one clip each, no seconds)."""

    step: str
    videos: int
    clips: int | None
    seconds: float
    note: str = ""
    images: int = 0


def _media_expr(con, table: str, alias: str = "") -> str:
    """``coalesce(media, 'video')``, or ``'video'`` where the table has no media column yet
    (lineage written before images were ingested)."""
    columns = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    prefix = f"{alias}." if alias else ""
    return f"coalesce({prefix}media, 'video')" if "media" in columns else "'video'"


def funnel(
    store: LineageStore, shard: str | None = None, subset: str | None = None
) -> list[FunnelStep]:
    """How many videos, clips and seconds, and how many still images, survive each step."""
    con = store.connect()
    try:

        def one(sql: str, params: list):
            return con.execute(sql, params).fetchone()

        def where(alias: str = "", extra: str = "") -> tuple[str, list]:
            conds = ([f"{alias + '.' if alias else ''}shard = ?"] if shard else []) + (
                [extra] if extra else []
            )
            return ("WHERE " + " AND ".join(conds) if conds else ""), ([shard] if shard else [])

        vmedia = _media_expr(con, "videos", "v")
        cmedia = _media_expr(con, "clips", "c")
        video, image = f"{vmedia} <> 'image'", f"{vmedia} = 'image'"
        files = (
            f"count(*) FILTER (WHERE {video}), coalesce(sum(v.duration_s) FILTER "
            f"(WHERE {video}), 0), count(*) FILTER (WHERE {image})"
        )
        clip_counts = (
            f"count(DISTINCT c.video_id) FILTER (WHERE {cmedia} <> 'image'), "
            f"count(*) FILTER (WHERE {cmedia} <> 'image'), "
            f"coalesce(sum(c.duration_s) FILTER (WHERE {cmedia} <> 'image'), 0), "
            f"count(*) FILTER (WHERE {cmedia} = 'image')"
        )

        steps: list[FunnelStep] = []
        w, params = where("v")
        n, secs, imgs = one(f"SELECT {files} FROM videos v {w}", params)
        steps.append(FunnelStep("files", n, None, secs, "seconds where the container says", imgs))
        w, params = where("v", "v.status = 'admitted'")
        n, secs, imgs = one(f"SELECT {files} FROM videos v {w}", params)
        steps.append(FunnelStep("admitted", n, None, secs, images=imgs))
        w, params = where("p", "p.status = 'ok'")
        n, secs, imgs = one(
            f"SELECT count(*) FILTER (WHERE {video}), coalesce(sum(p.decoded_s) FILTER "
            f"(WHERE {video}), 0), count(*) FILTER (WHERE {image}) "
            f"FROM decode_passes p LEFT JOIN videos v USING (video_id) {w}",
            params,
        )
        steps.append(FunnelStep("decoded", n, None, secs, images=imgs))
        w, params = where("c")
        n, clips, secs, imgs = one(f"SELECT {clip_counts} FROM clips c {w}", params)
        steps.append(
            FunnelStep("single-shot clips", n, clips, secs, "4-16 s windows; an image: one", imgs)
        )
        w, params = where()
        stages = [
            r[0]
            for r in con.execute(f"SELECT DISTINCT stage FROM decisions {w}", params).fetchall()
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
            w, params = where(
                "c",
                "c.clip_id NOT IN (SELECT clip_id FROM decisions "
                f"WHERE NOT passed AND stage IN ({marks}))",
            )
            n, clips, secs, imgs = one(
                f"SELECT {clip_counts} FROM clips c {w}",
                params + failed_so_far,
            )
            steps.append(FunnelStep(stage, n, clips, secs, images=imgs))
        if subset:
            n, clips, secs, imgs = con.execute(
                f"SELECT {clip_counts} FROM subset_members m JOIN clips c USING (clip_id) "
                f"WHERE m.subset = ? {'AND c.shard = ?' if shard else ''}",
                [subset] + ([shard] if shard else []),
            ).fetchone()
            steps.append(FunnelStep(f"subset {subset}", n, clips, secs, images=imgs))
        return steps
    finally:
        con.close()


def stage_funnel(store: LineageStore, subset: str) -> dict | None:
    """A subset stage's own funnel as recorded by its last materialization: share of its pool
    remaining after each filter, in order (Movie Gen's appendix-table style)."""
    rows = _rows(store, "SELECT * FROM subset_runs WHERE subset = ?", [subset])
    if not rows:
        return None
    run = rows[0]
    return {
        "subset": subset,
        "parent": run["parent"],
        "media": run.get("media") or "video",  # null: a run from before images
        "pool_clips": run["pool_clips"],
        "members": run["members"],
        "hours": run["hours"],
        "steps": json.loads(run["funnel_json"] or "[]"),
        "composition": json.loads(run["composition_json"] or "[]"),
        "notes": run["notes"],
    }
