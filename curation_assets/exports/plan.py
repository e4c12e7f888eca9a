"""Members -> planned shards: one ``Clip`` per member (its key, crop, fingerprint and the JSON
written beside it), sorted by bucket then clip id, each bucket cut into ``clips_per_tar``.

A member is a video clip (a range on its decode pass's time axis, exported as ``<key>.mp4``) or,
with ``media = image``, a still image (no time span, exported as ``<key>.jpg``; see
``exports/images.py``). A missing ``media`` column or a null means video.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass

import polars as pl

from curation_assets.exports.spec import ExportSpec
from curation_assets.storage.access import SourceAccess, SourceStat
from curation_assets.vocabulary import Media

TRANSCODE_VERSION = 2  # bump when transcode output changes for the same settings
IMAGE_VERSION = 1  # bump when image output changes for the same settings

REQUIRED_COLUMNS = (
    "clip_id", "video_id", "uri", "start_s", "end_s", "duration_s", "start_frame", "end_frame",
    "fps", "width", "height", "bucket", "duration_bucket", "aspect_bucket", "weight", "caption",
    "fields_json",
)  # fmt: skip
CROP_COLUMNS = ("crop_x", "crop_y", "crop_w", "crop_h")
MEDIA_EXTENSION = {Media.VIDEO.value: "mp4", Media.IMAGE.value: "jpg"}
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def sample_key(clip_id: str) -> str:
    """A WebDataset key (no dots, no slashes) that stays unique when the id had to be changed."""
    key = _KEY_UNSAFE.sub("_", clip_id)
    if key != clip_id:
        key += "_" + hashlib.sha1(clip_id.encode()).hexdigest()[:8]
    return key


def digest(value) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def with_media(members: pl.DataFrame) -> pl.DataFrame:
    """``media`` on every row: video where the column is missing or null (older lineage)."""
    if "media" not in members.columns:
        return members.with_columns(pl.lit(Media.VIDEO.value, pl.String).alias("media"))
    return members.with_columns(pl.col("media").cast(pl.String).fill_null(Media.VIDEO.value))


@dataclass
class Clip:
    row: dict
    key: str
    crop: tuple[int, int, int, int] | None
    aspect: float | None
    scores: dict[str, float | None]
    source_stat: tuple[int, int] | None  # (size, mtime_ns) or None when missing
    fingerprint: str  # what decides the encoded bytes
    metadata: dict  # what goes into <key>.json (without the output fields)

    @property
    def is_image(self) -> bool:
        return self.row.get("media") == Media.IMAGE.value

    @property
    def extension(self) -> str:
        return "jpg" if self.is_image else "mp4"


@dataclass
class Shard:
    name: str
    bucket: str
    clips: list[Clip]
    fingerprint: str


def _fields(value: str | None):
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value  # kept as text: a broken fields_json is the caption step's business


def finite(value):
    """NaN/inf become null: they are not JSON, and a loader should not meet them as numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _clip(
    row: dict, spec: ExportSpec, score_cols: list[str], has_crop: bool, stat: SourceStat | None
) -> Clip:
    crop = None
    if has_crop and all(row.get(c) is not None for c in CROP_COLUMNS):
        crop = tuple(int(row[c]) for c in CROP_COLUMNS)
    aspect = spec.aspect_for(row["aspect_bucket"])
    scores = {c.removeprefix("score_"): finite(row[c]) for c in score_cols}
    image = row.get("media") == Media.IMAGE.value
    if image:
        what = {"v": IMAGE_VERSION, "media": "image", "image": spec.image_settings()}
    else:  # unchanged from before images, so existing video shards stay valid
        what = {"v": TRANSCODE_VERSION, "range": [row["start_s"], row["end_s"]]}
        what["media"] = spec.media_settings()
    fingerprint = digest(
        {**what, "uri": row["uri"], "source": stat, "crop": crop, "aspect": aspect}
    )
    metadata = {
        "clip_id": row["clip_id"],
        "video_id": row["video_id"],
        "uri": row["uri"],
        "start_s": row["start_s"],
        "end_s": row["end_s"],
        "duration_s": row["duration_s"],
        "start_frame": row["start_frame"],
        "end_frame": row["end_frame"],
        "source": {"fps": row["fps"], "width": row["width"], "height": row["height"]},
        "crop": list(crop) if crop else None,
        "bucket": row["bucket"],
        "duration_bucket": row["duration_bucket"],
        "aspect_bucket": row["aspect_bucket"],
        "weight": finite(row["weight"]),
        "caption": row["caption"],
        "fields": _fields(row["fields_json"]),
        "scores": scores,
    }
    if image:  # a video's JSON keeps its old keys (and bytes)
        metadata["media"] = Media.IMAGE.value
    return Clip(row, sample_key(row["clip_id"]), crop, aspect, scores, stat, fingerprint, metadata)


def _check(members: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in members.columns]
    if missing:
        raise ValueError(f"members lack columns: {', '.join(missing)}")
    video = pl.col("media") != Media.IMAGE.value  # an image clip has no time span
    bad = members.filter(
        pl.any_horizontal(pl.col("clip_id", "uri", "start_s", "end_s").is_null())
        | (video & (pl.col("end_s") <= pl.col("start_s")))
    )
    if bad.height:
        raise ValueError(
            f"{bad.height} member(s) without clip_id/uri or with an empty range, e.g. "
            f"{bad.select('clip_id', 'uri', 'start_s', 'end_s').row(0)}"
        )
    unknown = set(members["media"].unique().to_list()) - set(MEDIA_EXTENSION)
    if unknown:
        raise ValueError(f"unknown media {sorted(unknown)}: expected video or image")
    dupes = members.filter(pl.col("clip_id").is_duplicated())["clip_id"].unique().to_list()
    if dupes:
        raise ValueError(f"clip ids selected more than once: {sorted(dupes)[:5]}")


def plan_shards(
    members: pl.DataFrame, spec: ExportSpec, sources: SourceAccess | None = None
) -> list[Shard]:
    """Sorted by bucket then clip id; each bucket cut into shards of ``clips_per_tar``."""
    members = with_media(members)
    _check(members)
    score_cols = sorted(c for c in members.columns if c.startswith("score_"))
    has_crop = all(c in members.columns for c in CROP_COLUMNS)
    rows = members.with_columns(pl.col("bucket").fill_null("")).sort(["bucket", "clip_id"])
    stats = (sources or SourceAccess()).stat(rows["uri"])
    clips = [
        _clip(row, spec, score_cols, has_crop, stats[row["uri"]])
        for row in rows.iter_rows(named=True)
    ]
    keys = [c.key for c in clips]
    if len(set(keys)) != len(keys):
        raise ValueError("two clip ids map to the same WebDataset key")
    shards: list[Shard] = []
    start = 0
    while start < len(clips):
        bucket = clips[start].row["bucket"]
        stop = start
        while (
            stop < len(clips)
            and clips[stop].row["bucket"] == bucket
            and stop - start < spec.clips_per_tar
        ):
            stop += 1
        group = clips[start:stop]
        name = f"{spec.subset}-{len(shards):06d}.tar"
        fingerprint = digest([[c.key, c.fingerprint, c.metadata] for c in group])
        shards.append(Shard(name, bucket, group, fingerprint))
        start = stop
    return shards
