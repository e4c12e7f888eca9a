"""Cut a video's stored samples into per-clip ``ClipSamples`` (no decoding of the video)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from curation_assets.config import CurationConfig
from curation_assets.media.decode import single_pass
from curation_assets.media.image import image_pass, probe_media
from curation_assets.media.probe import probe_file
from curation_assets.media.stored_samples import StoredSamples, load_samples, save_samples
from curation_assets.signals.base import ClipSamples
from curation_assets.vocabulary import Media


def clip_samples(
    stored: StoredSamples, clip: dict, video: dict, with_rgb: bool = True
) -> ClipSamples:
    """``clip`` needs clip_id, video_id, start_s, end_s; ``video`` width, height, fps.

    ``with_rgb=False`` leaves ``rgb`` empty (times kept): grey-only analyzers skip JPEG decoding.
    """
    start, end = float(clip["start_s"]), float(clip["end_s"])
    eps = 1e-6
    # an image's one sample sits at t = 0; its clip has no time span
    until = 1.0 if clip.get("media") == Media.IMAGE else end
    rgb_idx = np.flatnonzero((stored.rgb_times >= start - eps) & (stored.rgb_times < until - eps))
    grey_idx = np.flatnonzero(
        (stored.grey_times >= start - eps) & (stored.grey_times < until - eps)
    )
    frame_idx = np.flatnonzero(
        (stored.frame_times >= start - eps) & (stored.frame_times < until - eps)
    )
    fps = float(video["fps"] or 0.0) or 25.0
    total = float(stored.frame_times[-1]) + 1.0 / fps if len(stored.frame_times) else 0.0
    shots = len(stored.cuts) + 1
    return ClipSamples(
        clip_id=clip["clip_id"],
        video_id=clip["video_id"],
        start_s=start,
        end_s=end,
        width=int(video["width"]),
        height=int(video["height"]),
        fps=fps,
        rgb_times=stored.rgb_times[rgb_idx],
        rgb=[stored.rgb(int(i)) for i in rgb_idx] if with_rgb else [],
        grey_times=stored.grey_times[grey_idx],
        grey=stored.grey[grey_idx] if len(grey_idx) else np.zeros((0, 1, 1), np.uint8),
        frame_times=stored.frame_times[frame_idx],
        luma_delta=stored.luma_delta[frame_idx],
        source_shots_per_s=shots / total if total > 0 else 0.0,
    )


def decode_file(path: Path | str, cfg: CurationConfig):
    """(probe, pass result, stored samples) of one file, as shot_clips makes and stores them:
    the samples go through the same save and load, JPEG round trip included."""
    probe = probe_file(path)
    result = single_pass(path, cfg.shots, cfg.samples, probe.rotation)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "samples.npz"
        save_samples(target, result, cfg.samples.rgb_jpeg_quality)
        stored = load_samples(target)
    return probe, result, stored


def clip_samples_for_file(
    path: Path | str,
    start_s: float | None = None,
    end_s: float | None = None,
    cfg: CurationConfig | None = None,
) -> ClipSamples:
    """One decode pass over a file and the window [start_s, end_s) as a clip (tests, benchmarks)."""
    probe, result, stored = decode_file(path, cfg or CurationConfig())
    start = 0.0 if start_s is None else start_s
    end = result.end_s if end_s is None else end_s
    clip = {
        "clip_id": f"{Path(path).stem}-clip",
        "video_id": Path(path).stem,
        "start_s": start,
        "end_s": end,
    }
    return clip_samples(
        stored, clip, {"width": probe.width, "height": probe.height, "fps": probe.fps}
    )


def image_samples_for_file(path: Path | str, cfg: CurationConfig | None = None) -> ClipSamples:
    """A still image as shot_clips stores it (image pass, samples file round trip, JPEG
    included) and the analyzers see it: its one clip (tests, benchmarks)."""
    cfg = cfg or CurationConfig()
    probe = probe_media(path, cfg.admission.image_max_pixels)
    result = image_pass(path, cfg.samples.rgb_short_side, cfg.samples.grey_short_side)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "samples.npz"
        save_samples(target, result, cfg.samples.rgb_jpeg_quality)
        stored = load_samples(target)
    name = Path(path).name
    clip = {"clip_id": name, "video_id": name, "start_s": 0.0, "end_s": 0.0, "media": "image"}
    return clip_samples(stored, clip, {"width": probe.width, "height": probe.height, "fps": None})
