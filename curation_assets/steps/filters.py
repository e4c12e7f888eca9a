"""What the per-shard filter steps (``visual_filter``, ``motion_filter``, ``content_filter``)
read from the lineage before scoring, minus Dagster."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FilterInputs:
    videos: list[dict]
    clips: list[dict]
    samples_paths: dict[str, str]


def filter_inputs(store, shard: str) -> FilterInputs:
    """Clips of the shard with their videos' facts and samples files (from lineage only)."""
    clips = store.query(
        "SELECT clip_id, video_id, start_s, end_s, duration_s, coalesce(media, 'video') AS media "
        "FROM clips WHERE shard = ? ORDER BY clip_id",
        [shard],
    ).to_dicts()
    videos = store.query(
        "SELECT v.video_id, v.file_name, v.width, v.height, v.fps, p.samples_path "
        "FROM videos v JOIN decode_passes p USING (video_id) "
        "WHERE v.shard = ? AND p.samples_path IS NOT NULL",
        [shard],
    ).to_dicts()
    return FilterInputs(videos, clips, {v["video_id"]: v["samples_path"] for v in videos})
