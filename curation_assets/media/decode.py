"""The single decode pass: shot boundaries, frame samples and per-frame stats from one read.

Decoding is the physical cost of the whole job (docs/architecture.md, "Decode once"). Each frame
is shrunk once, straight from its Y/U/V planes (``frame_shrink.py``), and that small frame feeds
every PySceneDetect detector; colour and grey samples for the later filters are taken in the same
loop. The detectors are PySceneDetect's, with a frame score computed in two OpenCV calls instead
of NumPy's per-plane arithmetic (``detectors.py``; identical scores), and one HSV conversion and
difference per frame shared by all of them (``HsvDifferences``). Decoding on a helper thread a
few frames ahead was tried and measured (11 interleaved rounds): no difference on 2 cores, so
decoding stays inline.
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

from curation_assets.config.sections import SamplesConfig, ShotsConfig
from curation_assets.media import hw_decode
from curation_assets.media.damaged_packets import DamageLog, frames_past_damage
from curation_assets.media.frame_shrink import I420Buffer, scaled_size, shrink_into, upright_copy
from curation_assets.media.shot_cuts import (
    confirm_cuts,
    inside_transition,
    make_detectors,
    merge_cuts,
)
from curation_assets.media.transitions import ThumbnailRecorder, Transition, TransitionSettings


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
    damage: str | None = None  # set when damaged stretches were skipped (damaged_packets.py)
    # first frame after a skipped stretch -> where the stretch began (end of the frame before)
    gaps: dict[int, float] = field(default_factory=dict)
    # gradual transitions (media/transitions.py); no cut is kept inside one
    transitions: list[Transition] = field(default_factory=list)


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
    # shots.hw_decode: a GPU decoder where asked for and present (media/hw_decode.py)
    container = av.open(
        str(path), metadata_errors="ignore", **hw_decode.open_options(shots.hw_decode)
    )
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
        detectors = list(make_detectors(shots, fps).items())
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
        damage = DamageLog()
        gaps: dict[int, float] = {}
        rgb_step, grey_step = 1.0 / samples.rgb_fps, 1.0 / samples.grey_fps
        thumbs = ThumbnailRecorder(shrink_into) if shots.transitions else None
        try:
            for index, frame in enumerate(frames_past_damage(container, stream, damage)):
                pts = frame.pts
                t = pts * tb_num / tb_den if pts is not None else index / fps
                if damage.resumes and damage.resumes[-1] == index:
                    before = last_ticks * tb_num / tb_den if last_ticks > 0 else 1.0 / fps
                    gaps[index] = times[-1] + before
                last_ticks = frame.duration or 0
                if small is None:
                    t0 = t
                    size = scaled_size(frame.width, frame.height, samples.analysis_short_side)
                    small, prev = I420Buffer(size), I420Buffer(size)
                    bgr = np.empty((size[1], size[0], 3), np.uint8)
                    pixels = float(size[0] * size[1])
                    rgb_small = I420Buffer(
                        scaled_size(frame.width, frame.height, samples.rgb_short_side)
                    )
                    grey_size = scaled_size(frame.width, frame.height, samples.grey_short_side)
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
                    result.grey.append(upright_copy(shrink_into(small.y, grey), rotation))
                    result.grey_times.append(t)
                    next_grey += grey_step * max(1, int((t - next_grey) / grey_step) + 1)
                if t + 1e-6 >= next_rgb:
                    rgb = cv2.cvtColor(rgb_small.fill(frame).packed, cv2.COLOR_YUV2RGB_I420)
                    result.rgb.append(upright_copy(rgb, rotation))
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
            cuts = [c for c in cuts if c in resumes or not inside_transition(c, transitions)]
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
