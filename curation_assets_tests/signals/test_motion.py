"""Motion analyzers against synthetic videos whose camera motion is known.

Each case is written with ``write_video`` (5 s, 320x180, 24 fps) and read back through the real
single decode pass (``clip_samples_for_file``), so the flow sees what the pipeline stores: 8 fps
grey samples shrunk to 256x144. Run with ``-s`` to see the table of measured values.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.signals.base import ClipSamples, Measurement
from curation_assets.signals.motion.optical_flow import HANDHELD_SHAKE, OpticalFlowAnalyzer
from curation_assets.signals.samples import clip_samples_for_file
from curation_assets.vocabulary import CameraMotion

SECONDS = 5.0
FPS = 24
# The synthetic camera covers its path in (frames - 1) / fps seconds.
SPAN_S = (SECONDS * FPS - 1) / FPS

TABLE_SIGNALS = (
    "motion_mean",
    "motion_p95",
    "moving_fraction",
    "global_tx",
    "global_ty",
    "global_zoom",
    "global_rotation",
    "fit_residual",
    "shake",
    "shots_per_second",
    "static_fraction",
    "slideshow",
)


@dataclass(frozen=True)
class Case:
    motion: str
    objects: int = 1
    width: int = 320
    height: int = 180

    @property
    def key(self) -> str:
        return f"{self.motion}-obj{self.objects}-{self.width}x{self.height}"


class _Measured:
    """Writes, decodes and measures each case once per module (the slow part is the video)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.samples: dict[Case, ClipSamples] = {}
        self.results: dict[Case, Measurement] = {}

    def clip(self, case: Case) -> ClipSamples:
        if case not in self.samples:
            spec = VideoSpec(
                f"{case.key}.mp4",
                (Shot(SECONDS, case.motion, seed=3, objects=case.objects),),
                case.width,
                case.height,
                FPS,
            )
            path = write_video(spec, self.folder / spec.name)
            self.samples[case] = clip_samples_for_file(path)
        return self.samples[case]

    def __call__(self, case: Case) -> Measurement:
        if case not in self.results:
            self.results[case] = OpticalFlowAnalyzer().analyze(self.clip(case))
        return self.results[case]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> _Measured:
    return _Measured(tmp_path_factory.mktemp("motion"))


def _camera(m: Measurement) -> tuple[str, float]:
    (label,) = [lab for lab in m.labels if lab.kind == "camera_motion"]
    return label.label, float(label.confidence)


CAMERA_CASES = [
    pytest.param("pan_right", CameraMotion.PAN_RIGHT, id="pan_right"),
    pytest.param("pan_left", CameraMotion.PAN_LEFT, id="pan_left"),
    pytest.param("tilt_down", CameraMotion.TILT_DOWN, id="tilt_down"),
    pytest.param("tilt_up", CameraMotion.TILT_UP, id="tilt_up"),
    pytest.param("zoom_in", CameraMotion.ZOOM_IN, id="zoom_in"),
    pytest.param("zoom_out", CameraMotion.ZOOM_OUT, id="zoom_out"),
    pytest.param("roll", CameraMotion.ROLL, id="roll"),
    pytest.param("shake", CameraMotion.HANDHELD, id="shake-is-handheld"),
]


@pytest.mark.parametrize(("motion", "expected"), CAMERA_CASES)
def test_camera_class_of_each_synthetic_motion(
    measured: _Measured, motion: str, expected: CameraMotion
) -> None:
    label, confidence = _camera(measured(Case(motion)))
    assert label == expected
    assert confidence > 0.5


# Truth from synthetic_frames._camera, in the analyzer's units (content motion, frame widths/s).
TRUTH_CASES = [
    pytest.param("pan_right", "global_tx", -1.0 / SPAN_S, id="pan_right-content-left"),
    pytest.param("pan_left", "global_tx", 1.0 / SPAN_S, id="pan_left-content-right"),
    pytest.param("tilt_down", "global_ty", -(180 / 320) / SPAN_S, id="tilt_down-content-up"),
    pytest.param("tilt_up", "global_ty", (180 / 320) / SPAN_S, id="tilt_up-content-down"),
    pytest.param("zoom_in", "global_zoom", math.log(1.8) / SPAN_S, id="zoom_in-grows"),
    pytest.param("zoom_out", "global_zoom", -math.log(1.8) / SPAN_S, id="zoom_out-shrinks"),
    # the window turns +30 deg, so the content turns counter-clockwise: negative rotation
    pytest.param("roll", "global_rotation", -math.radians(30) / SPAN_S, id="roll-ccw"),
]


@pytest.mark.parametrize(("motion", "signal", "truth"), TRUTH_CASES)
def test_global_motion_matches_the_synthetic_camera(
    measured: _Measured, motion: str, signal: str, truth: float
) -> None:
    value = measured(Case(motion)).scores[signal]
    assert value == pytest.approx(truth, rel=0.15)


def test_still_image_is_static(measured: _Measured) -> None:
    m = measured(Case("static", objects=0))
    assert _camera(m) == (CameraMotion.STATIC, pytest.approx(1.0, abs=0.05))
    assert m.scores["motion_mean"] < 0.002
    assert m.scores["motion_p95"] < 0.005
    assert m.scores["static_fraction"] > 0.9
    assert m.scores["shake"] < 0.001


def test_static_camera_with_a_moving_ball_is_still_a_static_camera(measured: _Measured) -> None:
    m = measured(Case("static", objects=1))
    label, _ = _camera(m)
    assert label == CameraMotion.STATIC
    # The ball covers ~3% of the frame; DIS smears its flow over a halo, still a minority.
    assert 0.0 < m.scores["moving_fraction"] < 0.3
    assert abs(m.scores["global_tx"]) < 0.005 and abs(m.scores["global_ty"]) < 0.005
    assert m.scores["static_fraction"] < 0.1  # something moves in every pair


def test_shake_is_far_above_steady_pans(measured: _Measured) -> None:
    pans = [measured(Case(m)).scores["shake"] for m in ("pan_right", "pan_left", "tilt_down")]
    shaky = measured(Case("shake")).scores["shake"]
    assert shaky > 3 * max(pans)
    assert shaky > 0.01


def test_slideshow_scores(measured: _Measured) -> None:
    # Slideshow: stills held ~2 s joined by 0.5 s cross-fades -> the held fraction, ~0.8.
    slideshow = measured(Case("slideshow")).scores
    assert slideshow["slideshow"] > 0.5
    assert slideshow["static_fraction"] > 0.5
    # A still image under a synthetic pan (objects=0): everything moves rigidly -> high.
    assert measured(Case("pan_right", objects=0)).scores["slideshow"] > 0.5
    # A normal pan with an independently moving ball (objects=1) -> low.
    assert measured(Case("pan_right", objects=1)).scores["slideshow"] < 0.2


def test_a_shaken_still_is_jitter_never_a_slideshow(measured: _Measured) -> None:
    """A handheld camera over a still scene moves it rigidly, as a Ken Burns pan does; the
    erratic path is what tells them apart, so rigid pairs count only under a smooth camera."""
    shaken = measured(Case("shake", objects=0)).scores
    assert shaken["shake"] > HANDHELD_SHAKE
    assert shaken["slideshow"] < 0.2
    assert measured(Case("pan_right", objects=0)).scores["slideshow"] > 0.5  # smooth: still one


def test_stills_joined_by_hard_jumps_are_a_slideshow_with_a_static_camera(tmp_path: Path) -> None:
    # Three still images (objects=0), 2 s each, hard jumps between them, read as one clip.
    still = Shot(2.0, "static", objects=0)
    spec = VideoSpec("jumps.mp4", (still, still, still), 320, 180, FPS)
    m = OpticalFlowAnalyzer().analyze(
        clip_samples_for_file(write_video(spec, tmp_path / spec.name))
    )
    assert m.scores["slideshow"] > 0.9
    assert m.scores["static_fraction"] > 0.9
    assert m.artifacts["camera_evidence"]["jump_pairs"] == 2
    assert _camera(m)[0] == CameraMotion.STATIC  # the jumps are not camera motion


def test_normalised_motion_does_not_depend_on_resolution(measured: _Measured) -> None:
    for motion in ("pan_right", "zoom_in"):
        small = measured(Case(motion)).scores["motion_mean"]
        large = measured(Case(motion, width=640, height=360)).scores["motion_mean"]
        assert large == pytest.approx(small, rel=0.2), motion


def test_rerun_gives_identical_scores(measured: _Measured, tmp_path: Path) -> None:
    case = Case("zoom_in")
    first = measured(case)
    again = OpticalFlowAnalyzer().analyze(measured.clip(case))
    assert again.scores == first.scores
    assert again.labels == first.labels
    # a second decode of a second copy of the same video too
    spec = VideoSpec("again.mp4", (Shot(SECONDS, "zoom_in", seed=3),), 320, 180, FPS)
    redecoded = OpticalFlowAnalyzer().analyze(
        clip_samples_for_file(write_video(spec, tmp_path / spec.name))
    )
    assert redecoded.scores == first.scores


def _with_grey(clip: ClipSamples, count: int) -> ClipSamples:
    return replace(clip, grey=clip.grey[:count], grey_times=clip.grey_times[:count])


@pytest.mark.parametrize("count", [pytest.param(0, id="no-sample"), pytest.param(1, id="one")])
def test_fewer_than_two_samples_give_documented_defaults(measured: _Measured, count: int) -> None:
    clip = _with_grey(measured.clip(Case("pan_right")), count)
    if count == 0:
        clip = replace(clip, grey=np.zeros((0, 1, 1), np.uint8))
    m = OpticalFlowAnalyzer().analyze(clip)
    assert set(m.scores) == set(OpticalFlowAnalyzer.signals)
    assert all(math.isfinite(v) for v in m.scores.values())
    assert m.scores["flow_pairs"] == 0.0
    assert m.scores["motion_mean"] == 0.0
    assert m.scores["static_fraction"] == 1.0
    assert m.scores["slideshow"] == 0.0
    assert m.scores["shots_per_second"] == clip.source_shots_per_s
    assert _camera(m) == (CameraMotion.STATIC, 0.0)


def test_two_samples_and_tiny_frames_still_measure(measured: _Measured) -> None:
    clip = _with_grey(measured.clip(Case("pan_right")), 2)
    tiny = replace(clip, grey=np.ascontiguousarray(clip.grey[:, ::16, ::16]))  # 16x9 px
    for c in (clip, tiny):
        m = OpticalFlowAnalyzer().analyze(c)
        assert m.scores["flow_pairs"] == 1.0
        assert all(math.isfinite(v) for v in m.scores.values())


def test_every_declared_signal_is_emitted_and_finite(measured: _Measured) -> None:
    m = measured(Case("drift"))
    assert set(m.scores) == set(OpticalFlowAnalyzer.signals)
    assert all(math.isfinite(v) for v in m.scores.values())
    assert m.scores["shots_per_second"] == measured.clip(Case("drift")).source_shots_per_s


def test_a_minute_of_samples_gives_a_flow_pair_per_sample_step(measured: _Measured) -> None:
    clip = measured.clip(Case("pan_right"))
    grey = np.concatenate([clip.grey] * 12)  # 480 samples = 60 s at 8 fps
    minute = replace(clip, grey=grey, grey_times=np.arange(len(grey)) / 8.0, end_s=60.0)
    analyzer = OpticalFlowAnalyzer()
    started = time.perf_counter()
    m = analyzer.analyze(minute)
    elapsed = time.perf_counter() - started
    print(f"\n60 s clip, {int(m.scores['flow_pairs'])} pairs: {elapsed:.3f} s")
    assert m.scores["flow_pairs"] == 479  # its speed is benchmarks/analysis_cost.py's to measure


@pytest.mark.parametrize(
    ("preset", "side"), [pytest.param("slow", 72, id="preset"), pytest.param("fast", 8, id="side")]
)
def test_bad_settings_raise(preset: str, side: int) -> None:
    with pytest.raises(ValueError, match="preset|work_short_side"):
        OpticalFlowAnalyzer(preset=preset, work_short_side=side)


TABLE_CASES = [
    Case("static", objects=0),
    Case("static"),
    Case("drift"),
    Case("pan_right"),
    Case("pan_right", objects=0),
    Case("pan_left"),
    Case("tilt_up"),
    Case("tilt_down"),
    Case("zoom_in"),
    Case("zoom_in", objects=0),
    Case("zoom_out"),
    Case("roll"),
    Case("shake"),
    Case("slideshow"),
    Case("pan_right", width=640, height=360),
]


def test_table_of_measured_values(measured: _Measured) -> None:
    """Prints every signal per case (``pytest -s``); the numbers behind the default gates."""
    header = f"{'case':28s}" + "".join(f"{s[:10]:>11s}" for s in TABLE_SIGNALS) + "  camera"
    lines = [header]
    for case in TABLE_CASES:
        m = measured(case)
        label, confidence = _camera(m)
        row = "".join(f"{m.scores[s]:11.4f}" for s in TABLE_SIGNALS)
        lines.append(f"{case.key:28s}{row}  {label} ({confidence:.2f})")
        assert all(math.isfinite(v) for v in m.scores.values())
    print("\n" + "\n".join(lines))
