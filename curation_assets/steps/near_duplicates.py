"""The global near-duplicate step: duplicate groups per media kind, and ``frame_of``. No Dagster.

Reads only what ``content_filter`` stored per shard (``vectors/*.npz``) and the lineage; decodes
nothing.

- Video clips are grouped with video clips (index ``global/dedup``) and still images with still
  images (index ``global/dedup_images``, which also compares the images' centred crop hashes, so
  a lightly cropped copy joins its original). A group never mixes the two; each keeps one
  representative by the same rule (``selection/duplicate_groups.py``; an image's resolution is
  its short side).
- ``frame_of``: an image whose hash is close to one of a video clip's frame hashes
  (``selection/frames.py``, state ``global/frame_of.json``) gets a ``frame_of`` label naming the
  clip, and both get a ``frame_of`` decision that passes; ``dedup.drop_frames_of_videos: true``
  makes the image's fail instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from curation_assets.config import CurationConfig, Layout
from curation_assets.selection.dedup import DedupSettings, DuplicateIndex
from curation_assets.selection.dedup_types import KEY_BYTES
from curation_assets.selection.duplicate_groups import VISUAL_FAULTS, duplicate_groups
from curation_assets.selection.frames import FrameMatches, ShardKeys
from curation_assets.storage.files import atomic_write_bytes
from curation_assets.storage.vectors import (
    _fingerprint,
    global_lock,
    load_vectors,
    shard_vector_files,
)
from curation_assets.vocabulary import Content, Media, Stage

SCORER = "near_duplicates"
# (media, state folder under warehouse/global, its input fingerprints file)
INDEXES = (
    (Media.VIDEO.value, "dedup", "dedup_inputs.json"),
    (Media.IMAGE.value, "dedup_images", "dedup_images_inputs.json"),
)


@dataclass
class DedupResult:
    clip_labels: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    reports: list[dict] = field(default_factory=list)  # one per shard and media looked at
    counters: dict[str, int] = field(default_factory=dict)
    groups: pl.DataFrame | None = None
    clips_indexed: int = 0
    embedding_search: str = "none"
    frames_of_videos: int = 0  # images labelled frame_of


def update_duplicates(layout: Layout, store, cfg: CurationConfig) -> DedupResult:
    """Index shards new since the last run (new x old, new x new), then regroup everything."""
    with global_lock(layout, "dedup"):
        return _update_duplicates(layout, store, cfg)


def _clip_meta(store) -> pl.DataFrame:
    """Every clip with what ranks the copies of a group, and its media kind."""
    faults = ", ".join(f"'{f}'" for f in VISUAL_FAULTS)
    return store.query(
        "WITH q AS ("
        " SELECT clip_id, coalesce(max(value) FILTER (WHERE signal = 'aesthetic'),"
        "  max(value) FILTER (WHERE signal = 'technical_quality')) AS quality FROM scores"
        " WHERE signal IN ('aesthetic', 'technical_quality') GROUP BY clip_id), "
        "f AS ("
        " SELECT clip_id, list(DISTINCT filter ORDER BY filter) AS failed_visual FROM decisions"
        f" WHERE stage = 'visual_filter' AND passed = false AND filter IN ({faults})"
        " GROUP BY clip_id) "
        "SELECT c.clip_id, c.shard, c.duration_s, least(v.width, v.height) AS short_side_px, "
        "q.quality, coalesce(f.failed_visual, []::VARCHAR[]) AS failed_visual, "
        f"coalesce(c.media, '{Media.VIDEO.value}') AS media "
        "FROM clips c JOIN videos v USING (video_id) "
        "LEFT JOIN q ON q.clip_id = c.clip_id LEFT JOIN f ON f.clip_id = c.clip_id"
    )


def _update_duplicates(layout: Layout, store, cfg: CurationConfig) -> DedupResult:
    settings = DedupSettings(
        hash_radius=cfg.dedup.hamming_radius, embedding_threshold=cfg.dedup.embedding_cosine
    )
    meta = _clip_meta(store)
    media_of = dict(zip(meta["clip_id"], meta["media"], strict=True))
    files = {
        name: shard_vector_files(layout, name)
        for name in ("phash", "phash_crops", "phash_frames", "clip_embedding")
    }
    model = (
        f"{cfg.content.clip_model}:{cfg.content.clip_pretrained}"
        if cfg.content.clip_model and cfg.content.clip_pretrained
        else None
    )
    result = DedupResult()
    edges, searches = [], []
    for media, folder, inputs in INDEXES:
        index = DuplicateIndex(layout.warehouse / "global" / folder, settings)
        _index_shards(index, media, files, media_of, model, result, layout, inputs)
        prefix = "" if media == Media.VIDEO else f"{media}_"
        result.counters |= {prefix + k: v for k, v in index.counters.items()}
        result.clips_indexed += index.num_clips
        searches.append((media, index.embedding_search))
        same_media = [c for c, m in media_of.items() if m == media]
        edges.append(
            index.edges.filter(
                pl.col("clip_a").is_in(same_media) & pl.col("clip_b").is_in(same_media)
            )
        )
    result.embedding_search = ", ".join(f"{m}s: {s}" for m, s in searches if s != "none") or "none"
    groups = duplicate_groups(
        pl.concat(edges),
        meta.select("clip_id", "duration_s", "short_side_px", "quality", "failed_visual"),
    )
    result.groups = groups
    shard_of = dict(zip(meta["clip_id"], meta["shard"], strict=True))
    _group_rows(result, groups, shard_of, media_of, settings, model)
    matches = _frames_of_videos(layout, files, media_of, settings.hash_radius, result)
    _frame_rows(result, matches, shard_of, settings.hash_radius, cfg.dedup.drop_frames_of_videos)
    return result


def _index_shards(
    index: DuplicateIndex,
    media: str,
    files: dict[str, dict[str, Path]],
    media_of: dict[str, str],
    model: str | None,
    result: DedupResult,
    layout: Layout,
    inputs: str,
) -> None:
    """Add the shards whose vectors are new or changed to one media kind's index."""
    seen_file = layout.warehouse / "global" / inputs
    seen = json.loads(seen_file.read_text()) if seen_file.exists() else {}
    hashes, embeddings = files["phash"], files["clip_embedding"]
    crops = files["phash_crops"] if media == Media.IMAGE else {}
    for shard in sorted(set(index.shards) - set(hashes)):  # a shard whose vectors are gone
        index.remove_shard(shard)
    seen = {s: fp for s, fp in seen.items() if s in hashes}
    indexed = index.clips()
    # an index built before the media split holds clips of the other kind: redo their shards
    foreign = set(
        indexed.filter(pl.col("clip_id").replace_strict(media_of, default=media) != media)["shard"]
    )
    for shard, path in hashes.items():
        fingerprint = _fingerprint(path, embeddings.get(shard), crops.get(shard))
        known = shard in index.shards
        status = seen.get(shard)
        if shard not in foreign and (
            (known and status == fingerprint) or (not known and status == f"{fingerprint}|none")
        ):
            if known:
                result.reports.append(_report(shard, media, "unchanged"))
            continue
        clip_ids, vectors = load_vectors(path)
        rows = [i for i, c in enumerate(clip_ids) if media_of.get(c, Media.VIDEO.value) == media]
        if not rows:
            if known:
                index.remove_shard(shard)
            seen[shard] = f"{fingerprint}|none"
            continue
        ids = [clip_ids[i] for i in rows]
        emb = None
        if shard in embeddings and model:
            emb_ids, emb_vectors = load_vectors(embeddings[shard])
            order = {c: i for i, c in enumerate(emb_ids)}
            emb = np.stack([emb_vectors[order[c]] for c in ids]).astype(np.float32)
        crop_hashes = _rows_of(crops.get(shard), ids)
        report = index.add_shard(
            shard,
            ids,
            vectors[rows].astype(np.uint8),
            emb,
            embedding_model=model if emb is not None else None,
            crop_hashes=crop_hashes,
            replace=known,
        )
        seen[shard] = fingerprint
        result.reports.append(
            _report(
                shard,
                media,
                "replaced" if known else "added",
                new_clips=report.new_clips,
                new_vs_old=report.comparisons_new_vs_old,
                new_vs_new=report.comparisons_new_vs_new,
                new_edges=report.new_edges,
            )
        )
    atomic_write_bytes(seen_file, json.dumps(seen, sort_keys=True).encode())


def _report(shard: str, media: str, status: str, **counts: int) -> dict:
    base = {"new_clips": 0, "new_vs_old": 0, "new_vs_new": 0, "new_edges": 0}
    return {"shard": shard, "media": media, "status": status, **base, **counts}


def _rows_of(path: Path | None, ids: list[str]) -> np.ndarray | None:
    """The rows of a vectors file for ``ids``, in that order; None if the file is missing or
    lacks one of them (a shard scored before the vector existed)."""
    if path is None:
        return None
    stored_ids, vectors = load_vectors(path)
    position = {c: i for i, c in enumerate(stored_ids)}
    if not ids or any(c not in position for c in ids):
        return None
    return np.ascontiguousarray(vectors[[position[c] for c in ids]]).astype(np.uint8)


def _group_rows(
    result: DedupResult,
    groups: pl.DataFrame,
    shard_of: dict[str, str],
    media_of: dict[str, str],
    settings: DedupSettings,
    model: str | None,
) -> None:
    """One ``duplicate_group`` label and one ``near_duplicate`` decision per grouped clip."""
    reps = {
        row["group_id"]: row["clip_id"]
        for row in groups.filter(pl.col("is_representative")).iter_rows(named=True)
    }
    embedding = f" or cosine >= {settings.embedding_threshold:g}" if model else ""
    threshold = {
        Media.VIDEO.value: f"phash <= {settings.hash_radius} bits{embedding}",
        Media.IMAGE.value: f"phash <= {settings.hash_radius} bits, also to a centred crop "
        f"(95-80%){embedding}",
    }
    for row in groups.sort("clip_id").iter_rows(named=True):
        cid = row["clip_id"]
        result.clip_labels.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "kind": "duplicate_group",
                "label": row["group_id"],
                "confidence": None,
                "scorer": SCORER,
            }
        )
        rep = reps[row["group_id"]]
        result.decisions.append(
            {
                "clip_id": cid,
                "shard": shard_of[cid],
                "stage": Stage.NEAR_DUPLICATES.value,
                "filter": Content.NEAR_DUPLICATE.value,
                "passed": bool(row["is_representative"]),
                "value": float(row["group_size"]),
                "threshold": threshold[media_of.get(cid, Media.VIDEO.value)],
                "reason": "representative of its group"
                if row["is_representative"]
                else f"{Content.NEAR_DUPLICATE.value} of {rep}, kept for {row['kept_because']}",
            }
        )


def _frames_of_videos(
    layout: Layout,
    files: dict[str, dict[str, Path]],
    media_of: dict[str, str],
    radius: int,
    result: DedupResult,
) -> pl.DataFrame:
    """Update the incremental ``frame_of`` matches; those between known clips."""
    hashes, frames = files["phash"], files["phash_frames"]

    def load(shard: str) -> ShardKeys:
        ids, vectors = load_vectors(hashes[shard])
        kind = [media_of.get(c) for c in ids]  # a clip unknown to the lineage takes no part
        images = [i for i, m in enumerate(kind) if m == Media.IMAGE]
        videos = [c for c, m in zip(ids, kind, strict=True) if m == Media.VIDEO]
        frame_hashes = _rows_of(frames.get(shard), videos)
        if frame_hashes is None:  # vectors from before phash_frames: the three phash hashes
            position = {c: i for i, c in enumerate(ids)}
            frame_hashes = vectors[[position[c] for c in videos]].astype(np.uint8)
        return ShardKeys(
            image_ids=[ids[i] for i in images],
            image_hashes=np.ascontiguousarray(vectors[images, :KEY_BYTES]).astype(np.uint8),
            video_ids=videos,
            frame_hashes=frame_hashes.reshape(len(videos), -1),
        )

    matcher = FrameMatches(layout.warehouse / "global" / "frame_of.json", radius)
    fingerprints = {s: _fingerprint(p, frames.get(s)) for s, p in hashes.items()}
    report = matcher.update(fingerprints, load)
    result.counters["frame_of_comparisons"] = report.comparisons
    result.counters["frame_of_new_matches"] = report.new_matches
    matches = matcher.matches
    return matches.filter(
        pl.col("image_clip").replace_strict(media_of, default=None).eq(Media.IMAGE.value)
        & pl.col("video_clip").replace_strict(media_of, default=None).eq(Media.VIDEO.value)
    )


def _frame_rows(
    result: DedupResult,
    matches: pl.DataFrame,
    shard_of: dict[str, str],
    radius: int,
    drop: bool,
) -> None:
    """``frame_of`` labels on the images; a ``frame_of`` decision on the image (fails when
    ``drop``) and on every video clip it was taken from (always passes)."""
    threshold = f"phash <= {radius} bits to one of the clip's frames"
    stage, name = Stage.NEAR_DUPLICATES.value, Content.FRAME_OF.value
    ordered = matches.sort(["image_clip", "distance", "video_clip"])
    for (image,), part in ordered.group_by(["image_clip"], maintain_order=True):
        for row in part.iter_rows(named=True):
            result.clip_labels.append(
                {
                    "clip_id": image,
                    "shard": shard_of[image],
                    "kind": name,
                    "label": row["video_clip"],
                    "confidence": round(1.0 - row["distance"] / 64, 4),
                    "scorer": SCORER,
                }
            )
        best, bits = part["video_clip"][0], int(part["distance"][0])
        more = f", and {part.height - 1} more clip(s)" if part.height > 1 else ""
        result.decisions.append(
            {
                "clip_id": image,
                "shard": shard_of[image],
                "stage": stage,
                "filter": name,
                "passed": not drop,
                "value": float(bits),
                "threshold": threshold,
                "reason": f"frame of {best} ({bits} bits of 64){more}"
                + ("; dropped: dedup.drop_frames_of_videos" if drop else ""),
            }
        )
    result.frames_of_videos = ordered["image_clip"].n_unique()
    for (video,), part in ordered.sort(["video_clip", "distance", "image_clip"]).group_by(
        ["video_clip"], maintain_order=True
    ):
        first = part["image_clip"][0]
        more = f", and {part.height - 1} more image(s)" if part.height > 1 else ""
        result.decisions.append(
            {
                "clip_id": video,
                "shard": shard_of[video],
                "stage": stage,
                "filter": name,
                "passed": True,
                "value": float(part.height),
                "threshold": threshold,
                "reason": f"still image {first} is a frame of this clip{more}",
            }
        )
