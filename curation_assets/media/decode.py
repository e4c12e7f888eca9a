"""The single decode pass: shot boundaries, frame samples and per-frame stats from one read.

Decoding is the physical cost of the whole job (docs/architecture.md, "Decode once"). Each frame
is shrunk once, straight from its Y/U/V planes, and that small frame feeds every PySceneDetect
detector; colour and grey samples for the later filters are taken in the same loop.

Why the loop looks the way it does (``benchmarks/decode_once.py``): swscale
(``VideoFrame.reformat``) and OpenCV's general ``INTER_AREA`` each cost about as much as decoding
a 720p frame, while OpenCV's exact 2x2 area halving is ~10x cheaper. So planes are halved until
less than 2x too big and finished with one bilinear step (see ``shrink_into``), written into
reused buffers. The detectors are PySceneDetect's, with a frame score computed in two OpenCV calls
instead of NumPy's per-plane arithmetic (``detectors.py``; identical scores), and one HSV
conversion and difference per frame shared by all of them (``HsvDifferences``). Decoding on a
helper thread a few frames ahead was tried and measured (11 interleaved rounds): no difference on
2 cores, so decoding stays inline.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from scenedetect.common import FrameTimecode

from curation_assets.config import SamplesConfig, ShotsConfig
from curation_assets.media.detectors import (
    FastAdaptiveDetector,
    FastContentDetector,
    HsvDifferences,
)
from curation_assets.media.transitions import ThumbnailRecorder, Transition, TransitionSettings
from curation_assets.storage.files import atomic_output

# 8-bit planar YUV: shrunk straight from the planes (any chroma subsampling). Anything else
# (10-bit, semi-planar, RGB, grey) goes through swscale once, to a small yuv420p frame.
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


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
    damage: str | None = None  # set when damaged stretches were skipped (see ``_frames``)
    # first frame after a skipped stretch -> where the stretch began (end of the frame before)
    gaps: dict[int, float] = field(default_factory=dict)
    # gradual transitions (media/transitions.py); no cut is kept inside one
    transitions: list[Transition] = field(default_factory=list)


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def _scaled(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(width, height))
    return _even(width * scale), _even(height * scale)


# A file with more damaged packets than this is not worth reading on: the pass stops there.
_MAX_DAMAGED_PACKETS = 50


@dataclass
class _Damage:
    packets: int = 0
    frames_dropped: int = 0
    resumes: list[int] = field(default_factory=list)  # first frame index after each gap
    first_error: str | None = None

    def note(self) -> str | None:
        if not self.packets:
            return None
        return (
            f"skipped {self.packets} damaged packet(s) and {self.frames_dropped} frame(s) up to "
            f"the next keyframe, {len(self.resumes)} resume(s) made cuts; {self.first_error}"
        )


def _frames(container, stream, damage: _Damage):
    """Decoded frames of ``stream``, going on past damage instead of ending the pass there.

    A packet the decoder rejects as invalid data (a bad sector, a botched copy) is skipped, and
    so is every frame up to the next keyframe, since they would show the damage. The first frame
    after such a gap starts a new shot, so no clip spans it.
    """
    yielded, skipping = 0, False
    for packet in container.demux(stream):
        try:
            decoded = packet.decode()
        except av.error.InvalidDataError as exc:
            damage.packets += 1
            damage.first_error = damage.first_error or f"{type(exc).__name__}: {exc}"[:300]
            if damage.packets > _MAX_DAMAGED_PACKETS:
                raise
            skipping = True
            continue
        for frame in decoded:
            if skipping:
                if not frame.key_frame:
                    damage.frames_dropped += 1
                    continue
                skipping = False
                if yielded:
                    damage.resumes.append(yielded)
            yield frame
            yielded += 1


def _make_detectors(cfg: ShotsConfig, fps: float) -> dict[str, object]:
    min_len = max(1, int(round(cfg.min_shot_s * fps)))
    shared = HsvDifferences()  # one HSV conversion and difference per frame for all of them
    made: dict[str, object] = {}
    for name in cfg.detectors:
        if name == "content":
            made[name] = FastContentDetector(threshold=cfg.content_threshold, min_scene_len=min_len)
        elif name == "adaptive":
            made[name] = FastAdaptiveDetector(
                adaptive_threshold=cfg.adaptive_threshold, min_scene_len=min_len
            )
        if name in made:
            made[name].differences = shared
    return made


def _view(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A plane as a NumPy view (no copy); rows are ``line_size`` long, so cut the padding."""
    buf = np.frombuffer(plane, dtype=np.uint8)
    return buf.reshape(-1, plane.line_size)[: plane.height, : plane.width]


def shrink_into(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Area-average the 2-D ``src`` down into ``dst`` (written in place, also returned).

    Exact 2x2 halvings (OpenCV's SIMD path for INTER_AREA at factor 2, ~10x cheaper than its
    general INTER_AREA) while ``src`` is at least twice too big, then one bilinear step of less
    than 2x. Every source pixel is averaged in, so nothing aliases; the result is within ~0.5
    grey levels of INTER_AREA on average, a little softer at odd factors (720p -> 144p: Laplacian
    variance ~15% lower), which sharpness thresholds calibrated on these samples absorb.
    """
    h, w = dst.shape
    while src.shape[0] >= 2 * h and src.shape[1] >= 2 * w:
        sh, sw = src.shape
        # odd sides: bilinear at 2x is the same 2x2 average, off by half a pixel
        mode = cv2.INTER_AREA if sh % 2 == 0 and sw % 2 == 0 else cv2.INTER_LINEAR
        src = cv2.resize(src, (sw // 2, sh // 2), interpolation=mode)
    if src.shape == dst.shape:
        np.copyto(dst, src)
        return dst
    return cv2.resize(src, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)


class _I420:
    """A reusable small I420 image: Y (h x w) followed by U and V (h/2 x w/2), one buffer."""

    def __init__(self, size: tuple[int, int]) -> None:
        w, h = size  # both even (see _even)
        self.size = size
        self.packed = np.empty((h * 3 // 2, w), np.uint8)  # what cvtColor(..._I420) reads
        flat = self.packed.reshape(-1)
        quarter = (w // 2) * (h // 2)
        self.y = flat[: w * h].reshape(h, w)
        self.u = flat[w * h : w * h + quarter].reshape(h // 2, w // 2)
        self.v = flat[w * h + quarter :].reshape(h // 2, w // 2)

    def fill(self, frame: av.VideoFrame) -> _I420:
        """Shrink ``frame`` into this buffer: from its planes, or via swscale for odd formats."""
        if frame.format.name not in _PLANAR_8BIT:
            w, h = self.size
            frame = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
        y, u, v = frame.planes
        shrink_into(_view(y), self.y)
        shrink_into(_view(u), self.u)
        shrink_into(_view(v), self.v)
        return self


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """A kept copy in display orientation (``rotation``: counter-clockwise degrees).

    Always a fresh array: the small frames are reused buffers.
    """
    return np.ascontiguousarray(np.rot90(image, k=rotation // 90)) if rotation else image.copy()


@contextmanager
def _opencv_single_threaded():
    """OpenCV's own thread pool only adds wake-up and hand-off cost on these small images while
    FFmpeg's decoder threads already keep the cores busy (measured 5-10% of the pass, 2 cores).
    The setting is process-wide, so it is put back afterwards."""
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(before)


@_opencv_single_threaded()
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
        # pts * num / den on ints is correctly rounded: the same float as float(pts * time_base)
        tb_num, tb_den = stream.time_base.numerator, stream.time_base.denominator
        detectors = list(_make_detectors(shots, fps).items())
        found: dict[str, list[int]] = {name: [] for name, _ in detectors}
        result = FrameSamples()
        times: list[float] = []
        deltas: list[float] = []
        # Two small frames, swapped each frame: the previous one is needed for luma_delta.
        small = prev = rgb_small = None
        bgr = None
        next_rgb = next_grey = 0.0
        t0 = 0.0
        last_ticks = 0  # the last frame's own duration, in time-base ticks (0: unknown)
        error = None
        damage = _Damage()
        gaps: dict[int, float] = {}
        rgb_step, grey_step = 1.0 / samples.rgb_fps, 1.0 / samples.grey_fps
        thumbs = ThumbnailRecorder(shrink_into) if shots.transitions else None
        try:
            for index, frame in enumerate(_frames(container, stream, damage)):
                pts = frame.pts
                t = pts * tb_num / tb_den if pts is not None else index / fps
                if damage.resumes and damage.resumes[-1] == index:
                    before = last_ticks * tb_num / tb_den if last_ticks > 0 else 1.0 / fps
                    gaps[index] = times[-1] + before
                last_ticks = frame.duration or 0
                if small is None:
                    t0 = t
                    size = _scaled(frame.width, frame.height, samples.analysis_short_side)
                    small, prev = _I420(size), _I420(size)
                    bgr = np.empty((size[1], size[0], 3), np.uint8)
                    pixels = float(size[0] * size[1])
                    rgb_small = _I420(_scaled(frame.width, frame.height, samples.rgb_short_side))
                    grey_size = _scaled(frame.width, frame.height, samples.grey_short_side)
                t -= t0  # clip times are relative to the first frame
                small.fill(frame)
                if thumbs is not None:
                    thumbs.add(small.y, small.u, small.v)
                cv2.cvtColor(small.packed, cv2.COLOR_YUV2BGR_I420, dst=bgr)
                code = FrameTimecode(index, timecode_rate)
                for name, detector in detectors:
                    cuts = detector.process_frame(code, bgr)
                    if cuts:
                        found[name].extend(tc.frame_num for tc in cuts)
                # mean absolute luma change, without a temporary difference image
                deltas.append(cv2.norm(small.y, prev.y, cv2.NORM_L1) / pixels if index else 0.0)
                times.append(t)
                if t + 1e-6 >= next_grey:
                    grey = np.empty((grey_size[1], grey_size[0]), np.uint8)
                    result.grey.append(_upright(shrink_into(small.y, grey), rotation))
                    result.grey_times.append(t)
                    next_grey += grey_step * max(1, int((t - next_grey) / grey_step) + 1)
                if t + 1e-6 >= next_rgb:
                    rgb = cv2.cvtColor(rgb_small.fill(frame).packed, cv2.COLOR_YUV2RGB_I420)
                    result.rgb.append(_upright(rgb, rotation))
                    result.rgb_times.append(t)
                    next_rgb += rgb_step * max(1, int((t - next_rgb) / rgb_step) + 1)
                small, prev = prev, small
        except (av.FFmpegError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        frames = len(times)
        if frames:
            last = FrameTimecode(frames - 1, timecode_rate)
            for name, detector in detectors:
                found[name].extend(tc.frame_num for tc in detector.post_process(last))
        frame_times = np.asarray(times, dtype=np.float64)
        # Variable frame rate: the last frame lasts what the container says, not 1 / mean rate.
        last_s = last_ticks * tb_num / tb_den if last_ticks > 0 else 1.0 / fps
        end_s = float(frame_times[-1] + last_s) if frames else 0.0
        min_gap = max(1, int(round(shots.min_shot_s * fps)))
        by_detector = {k: sorted({c for c in v if 0 < c < frames}) for k, v in found.items()}
        luma_delta = np.asarray(deltas, dtype=np.float32)
        cuts = merge_cuts(by_detector.values(), min_gap)
        if shots.confirm_ratio:
            cuts = confirm_cuts(cuts, luma_delta, shots.confirm_ratio)
        # a resume after damage is always a cut; a detector's cut next to it is the same edge
        resumes = [c for c in damage.resumes if 0 < c < frames]
        cuts = sorted({*resumes, *(c for c in cuts if all(abs(c - r) >= min_gap for r in resumes))})
        transitions: list[Transition] = []
        if thumbs is not None and frames:
            settings = TransitionSettings(
                max_frames=max(4, int(round(shots.transition_max_s * fps)))
            )
            transitions = thumbs.detect(settings)
            # a transition is the boundary: a cut inside it (or at its edges) would split it
            cuts = [c for c in cuts if c in resumes or not _inside(c, transitions)]
        return PassResult(
            frames=frames,
            fps=fps,
            frame_times=frame_times,
            end_s=end_s,
            cuts=cuts,
            cuts_by_detector=by_detector,
            luma_delta=luma_delta,
            samples=result,
            elapsed_s=time.perf_counter() - started,
            error=error,
            damage=damage.note(),
            gaps={i: g for i, g in gaps.items() if i in cuts},
            transitions=transitions,
        )
    finally:
        container.close()


def _inside(cut: int, transitions: list[Transition]) -> bool:
    return any(t.start - 1 <= cut <= t.end + 1 for t in transitions)


def merge_cuts(cut_lists, min_gap: int) -> list[int]:
    """Union of several detectors' cuts; cuts closer than ``min_gap`` frames count once."""
    merged: list[int] = []
    for cut in sorted({c for cuts in cut_lists for c in cuts}):
        if not merged or cut - merged[-1] >= min_gap:
            merged.append(cut)
    return merged


def confirm_cuts(
    cuts: list[int], luma_delta: np.ndarray, ratio: float, window: int = 2
) -> list[int]:
    """Keep a cut only if its frame's luma change stands out from its neighbours'.

    A hard cut changes far more between two frames than the frames around it do; fast camera
    motion or shake changes a lot on every frame, which fools a fixed content threshold. This is
    AdaptiveDetector's idea applied to the luma change the pass computes anyway (free).
    """
    kept = []
    n = len(luma_delta)
    for cut in cuts:
        around = [
            float(luma_delta[i])
            for i in range(cut - window, cut + window + 1)
            if 0 < i < n and i != cut
        ]
        base = sum(around) / len(around) if around else 0.0
        if float(luma_delta[cut]) >= ratio * max(base, 0.5):
            kept.append(cut)
    return kept


def save_samples(target: Path, result: PassResult, jpeg_quality: int) -> None:
    """One file per video; written aside and renamed so a reader never sees half of it."""
    samples = result.samples
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    encoded = [
        cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)[1] for img in samples.rgb
    ]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    grey = np.stack(samples.grey) if samples.grey else np.zeros((0, 0, 0), np.uint8)
    # Uncompressed: these samples barely compress (grain, JPEG) and zlib cost ~0.2x a decode.
    with atomic_output(target) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            rgb_jpeg=np.concatenate(encoded) if encoded else np.zeros(0, np.uint8),
            rgb_offsets=offsets,
            rgb_times=np.asarray(samples.rgb_times, np.float64),
            grey=grey,
            grey_times=np.asarray(samples.grey_times, np.float64),
            frame_times=result.frame_times,
            luma_delta=result.luma_delta,
            cuts=np.asarray(result.cuts, np.int64),
        )


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
