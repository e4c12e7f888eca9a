"""What an export should produce (``ExportSpec``) and what it did (``ExportReport``)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import av

from curation_assets.vocabulary import ExportFailure

DEFAULT_ASPECT_RATIOS: Mapping[str, float] = MappingProxyType(
    {"16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1.0, "3:4": 3 / 4, "9:16": 9 / 16}
)
_SUBSET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_RATIO = re.compile(r"(\d+(?:\.\d+)?):(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class ExportSpec:
    """How a subset becomes training files. Media settings are part of every shard's fingerprint,
    so changing one rebuilds the shards; ``clips_per_tar`` regroups them. Video clips use
    ``short_side``, ``fps`` and the codec settings; still images ``short_side`` and
    ``jpeg_quality``."""

    subset: str
    clips_per_tar: int = 64
    short_side: int | None = None  # output short side; None keeps the source's; never upscales
    fps: float | None = None  # output frame rate; None (or >= source) keeps the source's
    aspect_ratios: Mapping[str, float] = field(default_factory=lambda: DEFAULT_ASPECT_RATIOS)
    codec: str = "libx264"
    crf: int = 18
    preset: str = "veryfast"
    jpeg_quality: int = 95  # still images that must be re-encoded (exports/images.py)
    write_media: bool = True  # False: manifest only, no shards

    def __post_init__(self) -> None:
        if not _SUBSET_NAME.fullmatch(self.subset):
            raise ValueError(f"subset name {self.subset!r} must match [a-z0-9][a-z0-9._-]{{0,63}}")
        if self.clips_per_tar < 1:
            raise ValueError(f"clips_per_tar must be >= 1, got {self.clips_per_tar}")
        if self.short_side is not None and self.short_side < 16:
            raise ValueError(f"short_side must be >= 16 px, got {self.short_side}")
        if self.fps is not None and not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be positive, got {self.fps}")
        try:
            encoder = av.codec.Codec(self.codec, "w")
        except (av.FFmpegError, ValueError) as exc:
            raise ValueError(f"codec {self.codec!r} has no encoder in this FFmpeg") from exc
        if encoder.type != "video":
            raise ValueError(f"codec {self.codec!r} is not a video codec")
        if not 0 <= self.crf <= 51:
            raise ValueError(f"crf must be within 0..51, got {self.crf}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be within 1..100, got {self.jpeg_quality}")
        for name, ratio in self.aspect_ratios.items():
            if not (math.isfinite(ratio) and ratio > 0):
                raise ValueError(f"aspect ratio for {name!r} must be positive, got {ratio}")
        object.__setattr__(self, "aspect_ratios", MappingProxyType(dict(self.aspect_ratios)))

    def aspect_for(self, aspect_bucket: str | None) -> float | None:
        """Target w/h for a bucket: the mapping, else a ``"W:H"`` name, else None (keep)."""
        if not aspect_bucket:
            return None
        if aspect_bucket in self.aspect_ratios:
            return float(self.aspect_ratios[aspect_bucket])
        match = _RATIO.fullmatch(aspect_bucket.strip())
        if match and float(match.group(2)) > 0 and float(match.group(1)) > 0:
            return float(match.group(1)) / float(match.group(2))
        return None

    def media_settings(self) -> dict:
        """The settings that change encoded bytes (fingerprinted per clip)."""
        return {
            "short_side": self.short_side,
            "fps": self.fps,
            "codec": self.codec,
            "crf": self.crf,
            "preset": self.preset,
        }

    def image_settings(self) -> dict:
        """The settings that change a still image's bytes (video settings do not)."""
        return {"short_side": self.short_side, "jpeg_quality": self.jpeg_quality}


@dataclass(frozen=True)
class ClipFailure:
    clip_id: str
    reason: ExportFailure
    detail: str


@dataclass
class ExportReport:
    """Counts are clips. ``exported``: cut and encoded in this run; ``reused``: taken from a
    previous run's shards without re-encoding (encoded bytes, or the recorded failure of an
    unchanged clip); ``skipped``: in shards that were already complete and left untouched."""

    subset: str
    out_dir: Path
    clips_total: int = 0
    exported: int = 0
    reused: int = 0
    skipped: int = 0
    failed: list[ClipFailure] = field(default_factory=list)
    tar_paths: list[Path] = field(default_factory=list)
    tars_written: list[Path] = field(default_factory=list)
    tars_removed: list[Path] = field(default_factory=list)
    tars_moved: list[Path] = field(default_factory=list)  # renamed, content unchanged
    manifest_paths: list[Path] = field(default_factory=list)
    manifest_written: bool = False
    bytes: int = 0  # size of all shards of the export
    bytes_written: int = 0  # shard bytes written by this run
    seconds: float = 0.0
    per_bucket: dict[str, int] = field(default_factory=dict)  # clips in the shards, per bucket

    @property
    def ok(self) -> int:
        return self.clips_total - len(self.failed)

    def summary(self) -> dict:
        return {
            "subset": self.subset,
            "clips_total": self.clips_total,
            "ok": self.ok,
            "exported": self.exported,
            "reused": self.reused,
            "skipped": self.skipped,
            "failed": len(self.failed),
            "failed_by_reason": _count(f.reason.value for f in self.failed),
            "tars": len(self.tar_paths),
            "tars_written": len(self.tars_written),
            "tars_removed": len(self.tars_removed),
            "tars_moved": len(self.tars_moved),
            "bytes": self.bytes,
            "bytes_written": self.bytes_written,
            "seconds": round(self.seconds, 3),
            "per_bucket": dict(self.per_bucket),
        }


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value] = out.get(value, 0) + 1
    return dict(sorted(out.items()))
