"""The single decode pass: shot boundaries, frame samples and per-frame stats from one read.

Decoding is the physical cost of the whole job (DESIGN.md "Decode once"). Each frame is shrunk
once, straight from its Y/U/V planes, and that small frame feeds every PySceneDetect detector;
colour and grey samples for the later filters are taken in the same loop.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from scenedetect.common import FrameTimecode
from scenedetect.detectors import AdaptiveDetector, ContentDetector

from curation_assets.config import SamplesConfig, ShotsConfig

_PLANAR_8BIT = {"yuv420p", "yuvj420p"}


@dataclass
class FrameSamples:
    """Small frames kept from the pass for every later step (no step re-opens the video)."""

    rgb: list[np.ndarray] = field(default_factory=list)  # display orientation, HxWx3 uint8
    rgb_times: list[float] = field(default_factory=list)
    grey: list[np.ndarray] = field(default_factory=list)  # shrunken luma, display orientation
    grey_times: list[float] = field(default_factory=list)


@dataclass
class PassResult:
    frames: int
    fps: float
    frame_times: np.ndarray  # presentation time (s) of every decoded frame
    end_s: float  # end of the last frame
    cuts: list[int]  # frame indices that start a new shot (merged over detectors)
    cuts_by_detector: dict[str, list[int]]
    luma_delta: np.ndarray  # mean absolute change of the shrunken luma, per frame
    samples: FrameSamples
    elapsed_s: float
    error: str | None = None  # set when decoding stopped early; what was read is kept


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def _scaled(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(width, height))
    return _even(width * scale), _even(height * scale)


def _make_detectors(cfg: ShotsConfig, fps: float) -> dict[str, object]:
    min_len = max(1, int(round(cfg.min_shot_s * fps)))
    made: dict[str, object] = {}
    for name in cfg.detectors:
        if name == "content":
            made[name] = ContentDetector(threshold=cfg.content_threshold, min_scene_len=min_len)
        elif name == "adaptive":
            made[name] = AdaptiveDetector(
                adaptive_threshold=cfg.adaptive_threshold, min_scene_len=min_len
            )
    return made


def _plane(frame: av.VideoFrame, index: int, width: int, height: int) -> np.ndarray:
    plane = frame.planes[index]
    buf = np.frombuffer(plane, dtype=np.uint8)
    return buf.reshape(-1, plane.line_size)[:height, :width]


class _Shrinker:
    """Shrinks a decoded frame to small BGR/grey images, from the planes when it can."""

    def __init__(self, coded_w: int, coded_h: int, small: tuple[int, int], rotation: int) -> None:
        self.coded_w, self.coded_h = coded_w, coded_h
        self.small = small  # (w, h) in coded orientation
        self.rotation = rotation

    def i420(self, frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray | None:
        if frame.format.name not in _PLANAR_8BIT:
            return None
        w, h = size
        y = cv2.resize(_plane(frame, 0, self.coded_w, self.coded_h), (w, h), interpolation=cv2.INTER_AREA)
        cw, ch = (self.coded_w + 1) // 2, (self.coded_h + 1) // 2
        u = cv2.resize(_plane(frame, 1, cw, ch), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        v = cv2.resize(_plane(frame, 2, cw, ch), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        return np.concatenate([y, u.reshape(-1, w), v.reshape(-1, w)])

    def bgr(self, frame: av.VideoFrame, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(bgr, grey) at ``size``; falls back to swscale for formats other than 8-bit 4:2:0."""
        packed = self.i420(frame, size)
        if packed is not None:
            h = size[1]
            return cv2.cvtColor(packed, cv2.COLOR_YUV2BGR_I420), packed[:h]
        bgr = frame.reformat(width=size[0], height=size[1], format="bgr24").to_ndarray()
        return bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)

    def upright(self, image: np.ndarray) -> np.ndarray:
        if self.rotation == 0:
            return image
        return np.ascontiguousarray(np.rot90(image, k=self.rotation // 90))


def single_pass(
    path: Path | str,
    shots: ShotsConfig,
    samples: SamplesConfig,
    rotation: int = 0,
) -> PassResult:
    """Decode ``path`` once. Raises only when the file cannot be opened at all."""
    started = time.perf_counter()
    container = av.open(str(path), metadata_errors="ignore")
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        if shots.decode_threads:
            stream.thread_count = shots.decode_threads
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        fps = float(rate)
        timecode_rate = Fraction(rate.numerator, rate.denominator)
        detectors = _make_detectors(shots, fps)
        found = {name: [] for name in detectors}
        result = FrameSamples()
        times: list[float] = []
        deltas: list[float] = []
        shrinker: _Shrinker | None = None
        rgb_size = (0, 0)
        next_rgb = next_grey = 0.0
        prev_grey: np.ndarray | None = None
        error = None
        rgb_step, grey_step = 1.0 / samples.rgb_fps, 1.0 / samples.grey_fps
        try:
            for index, frame in enumerate(container.decode(stream)):
                t = float(frame.pts * stream.time_base) if frame.pts is not None else index / fps
                if shrinker is None:
                    t0 = t
                    short = samples.analysis_short_side
                    shrinker = _Shrinker(
                        frame.width, frame.height, _scaled(frame.width, frame.height, short), rotation
                    )
                    rgb_size = _scaled(frame.width, frame.height, samples.rgb_short_side)
                t -= t0  # clip times are relative to the first frame
                bgr, grey = shrinker.bgr(frame, shrinker.small)
                code = FrameTimecode(index, timecode_rate)
                for name, detector in detectors.items():
                    found[name].extend(tc.frame_num for tc in detector.process_frame(code, bgr))
                deltas.append(
                    0.0 if prev_grey is None else float(cv2.absdiff(grey, prev_grey).mean())
                )
                prev_grey = grey
                times.append(t)
                if t + 1e-6 >= next_grey:
                    result.grey.append(shrinker.upright(grey))
                    result.grey_times.append(t)
                    next_grey += grey_step * max(1, int((t - next_grey) / grey_step) + 1)
                if t + 1e-6 >= next_rgb:
                    rgb, _ = shrinker.bgr(frame, rgb_size)
                    result.rgb.append(shrinker.upright(cv2.cvtColor(rgb, cv2.COLOR_BGR2RGB)))
                    result.rgb_times.append(t)
                    next_rgb += rgb_step * max(1, int((t - next_rgb) / rgb_step) + 1)
        except (av.FFmpegError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        frames = len(times)
        if frames:
            last = FrameTimecode(frames - 1, timecode_rate)
            for name, detector in detectors.items():
                found[name].extend(tc.frame_num for tc in detector.post_process(last))
        frame_times = np.asarray(times, dtype=np.float64)
        end_s = float(frame_times[-1] + 1.0 / fps) if frames else 0.0
        min_gap = max(1, int(round(shots.min_shot_s * fps)))
        by_detector = {k: sorted({c for c in v if 0 < c < frames}) for k, v in found.items()}
        return PassResult(
            frames=frames,
            fps=fps,
            frame_times=frame_times,
            end_s=end_s,
            cuts=merge_cuts(by_detector.values(), min_gap),
            cuts_by_detector=by_detector,
            luma_delta=np.asarray(deltas, dtype=np.float32),
            samples=result,
            elapsed_s=time.perf_counter() - started,
            error=error,
        )
    finally:
        container.close()


def merge_cuts(cut_lists, min_gap: int) -> list[int]:
    """Union of several detectors' cuts; cuts closer than ``min_gap`` frames count once."""
    merged: list[int] = []
    for cut in sorted({c for cuts in cut_lists for c in cuts}):
        if not merged or cut - merged[-1] >= min_gap:
            merged.append(cut)
    return merged


def save_samples(target: Path, result: PassResult, jpeg_quality: int) -> None:
    """One file per video; written aside and renamed so a reader never sees half of it."""
    samples = result.samples
    encoded = [
        cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])[1]
        for img in samples.rgb
    ]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    grey = np.stack(samples.grey) if samples.grey else np.zeros((0, 0, 0), np.uint8)
    target.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        rgb_jpeg=np.concatenate(encoded) if encoded else np.zeros(0, np.uint8),
        rgb_offsets=offsets,
        rgb_times=np.asarray(samples.rgb_times, np.float64),
        grey=grey,
        grey_times=np.asarray(samples.grey_times, np.float64),
        frame_times=result.frame_times,
        luma_delta=result.luma_delta,
        cuts=np.asarray(result.cuts, np.int64),
    )
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, target)


@dataclass
class StoredSamples:
    rgb_times: np.ndarray
    grey: np.ndarray
    grey_times: np.ndarray
    frame_times: np.ndarray
    luma_delta: np.ndarray
    cuts: np.ndarray
    _jpeg: np.ndarray
    _offsets: np.ndarray

    def rgb(self, index: int) -> np.ndarray:
        chunk = self._jpeg[self._offsets[index] : self._offsets[index + 1]]
        return cv2.cvtColor(cv2.imdecode(chunk, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def rgb_between(self, start_s: float, end_s: float) -> list[tuple[float, np.ndarray]]:
        picks = np.flatnonzero((self.rgb_times >= start_s) & (self.rgb_times < end_s))
        return [(float(self.rgb_times[i]), self.rgb(int(i))) for i in picks]


def load_samples(path: Path) -> StoredSamples:
    with np.load(path) as data:
        return StoredSamples(
            rgb_times=data["rgb_times"],
            grey=data["grey"],
            grey_times=data["grey_times"],
            frame_times=data["frame_times"],
            luma_delta=data["luma_delta"],
            cuts=data["cuts"],
            _jpeg=data["rgb_jpeg"],
            _offsets=data["rgb_offsets"],
        )
