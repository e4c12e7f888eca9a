"""Visual analyzers on synthetic clips with known truth (samples from the real decode pass).

Every clip shows the same scene (texture seed 3, drifting camera, one ball) unless the test says
otherwise, so a difference in a score comes from the effect alone. Measured values are printed
(``pytest -s``) so curation.yaml thresholds can be chosen from them.
"""

from __future__ import annotations

import time
from dataclasses import replace

import cv2
import numpy as np
import pytest

from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.signals.base import ClipSamples
from curation_assets.signals.ocr_model import det_model_path, input_size, text_detector
from curation_assets.signals.samples import clip_samples_for_file
from curation_assets.signals.visual import image_quality
from curation_assets.signals.visual.borders import BorderAnalyzer, measure_borders
from curation_assets.signals.visual.geometry import GeometryAnalyzer, resolution_tier
from curation_assets.signals.visual.image_quality import (
    QualityAnalyzer,
    TechnicalQualityAnalyzer,
    technical_quality,
)
from curation_assets.signals.visual.text_overlay import TextOverlayAnalyzer

SEED = 3
EFFECTS = {
    "clean": (),
    "letterbox": ("letterbox:0.125",),
    "pillarbox": ("pillarbox:0.1",),
    "blur": ("blur:3",),
    "dark": ("dark:0.15",),
    "dim": ("dark:0.3",),
    "bright": ("bright:3",),
}
TEXT_EFFECTS = {"clean_360": (), "text_360": ("text",), "title_360": ("title",)}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipSamples]:
    folder = tmp_path_factory.mktemp("visual")
    specs = [VideoSpec(n, (Shot(4.5, seed=SEED, effects=e),)) for n, e in EFFECTS.items()]
    specs += [
        VideoSpec(n, (Shot(4.5, seed=SEED, effects=e),), 640, 360) for n, e in TEXT_EFFECTS.items()
    ]
    specs += [
        VideoSpec("portrait", (Shot(4.5, seed=SEED),), 180, 320),
        VideoSpec("square", (Shot(4.5, seed=SEED),), 240, 240),
        VideoSpec("hd", (Shot(4.5, seed=SEED),), 1280, 720),
        # same texture, blurred for the first 2.5 s, sharp after
        VideoSpec(
            "blur_then_sharp", (Shot(2.5, seed=SEED, effects=("blur:4",)), Shot(2.5, seed=SEED))
        ),
    ]
    return {s.name: clip_samples_for_file(write_video(s, folder / f"{s.name}.mp4")) for s in specs}


def _all_scores(clip: ClipSamples) -> dict[str, float]:
    scores: dict[str, float] = {}
    for analyzer in (BorderAnalyzer(), TextOverlayAnalyzer(), QualityAnalyzer()):
        scores.update(analyzer.analyze(clip).scores)
    scores.update(TechnicalQualityAnalyzer().analyze(clip).scores)
    return scores


def _synthetic_clip(frames: list[np.ndarray], width: int = 320, height: int = 180) -> ClipSamples:
    n = len(frames)
    times = np.arange(n, dtype=np.float64) * 0.5
    return ClipSamples(
        clip_id="c",
        video_id="v",
        start_s=0.0,
        end_s=n * 0.5,
        width=width,
        height=height,
        fps=24.0,
        rgb_times=times,
        rgb=frames,
        grey_times=times,
        grey=np.zeros((n, 1, 1), np.uint8),
        frame_times=times,
        luma_delta=np.zeros(n),
        source_shots_per_s=0.0,
    )


def test_measured_table(clips: dict[str, ClipSamples]) -> None:
    """Not a check: prints every score of every synthetic case (run with -s)."""
    keys = [
        "border_area",
        "text_area",
        "text_frames",
        "sharpness",
        "brightness",
        "dark_fraction",
        "clipped_fraction",
        "contrast",
        "colorfulness",
        "technical_quality",
    ]
    print("\n" + "case".ljust(16) + "".join(k[:12].rjust(13) for k in keys))
    for name in [*EFFECTS, *TEXT_EFFECTS]:
        scores = _all_scores(clips[name])
        print(name.ljust(16) + "".join(f"{scores[k]:13.4f}" for k in keys))
        assert set(keys) <= set(scores)


# --- geometry -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "short", "tier", "orientation"),
    [
        pytest.param("clean", 180, "below_256p", "landscape", id="320x180"),
        pytest.param("portrait", 180, "below_256p", "portrait", id="180x320"),
        pytest.param("square", 240, "below_256p", "square", id="240x240"),
        pytest.param("clean_360", 360, "360p", "landscape", id="640x360"),
        pytest.param("hd", 720, "720p", "landscape", id="1280x720"),
    ],
)
def test_geometry(clips, name: str, short: int, tier: str, orientation: str) -> None:
    m = GeometryAnalyzer().analyze(clips[name])
    assert m.scores["short_side_px"] == short
    labels = {label.kind: label.label for label in m.labels}
    assert labels == {"resolution_tier": tier, "orientation": orientation}
    w, h = clips[name].width, clips[name].height
    assert m.scores["aspect_ratio"] == pytest.approx(w / h)


def test_resolution_tier_edges() -> None:
    assert resolution_tier(2160) == "2160p"
    assert resolution_tier(1439) == "1080p"
    assert resolution_tier(256) == "256p"
    assert resolution_tier(255) == "below_256p"


# --- borders ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "vertical", "horizontal"),
    [
        pytest.param("letterbox", 0.125, 0.0, id="letterbox-0.125"),
        pytest.param("pillarbox", 0.0, 0.1, id="pillarbox-0.1"),
        pytest.param("clean", 0.0, 0.0, id="clean"),
        pytest.param("dim", 0.0, 0.0, id="dark-0.3-no-bars"),
        pytest.param("hd", 0.0, 0.0, id="clean-720p"),
    ],
)
def test_borders(clips, name: str, vertical: float, horizontal: float) -> None:
    clip = clips[name]
    m = BorderAnalyzer().analyze(clip)
    print(f"\n{name}: {m.scores} crop={m.artifacts['crop']}")
    for side in ("border_top", "border_bottom"):
        assert m.scores[side] == pytest.approx(vertical, abs=0.015)
    for side in ("border_left", "border_right"):
        assert m.scores[side] == pytest.approx(horizontal, abs=0.015)
    expected_area = 1 - (1 - 2 * vertical) * (1 - 2 * horizontal)
    assert m.scores["border_area"] == pytest.approx(expected_area, abs=0.03)
    x, y, w, h = m.artifacts["crop"]
    assert x == pytest.approx(horizontal * clip.width, abs=0.015 * clip.width)
    assert y == pytest.approx(vertical * clip.height, abs=0.015 * clip.height)
    assert (x + w, y + h) == (clip.width - x, clip.height - y)


def test_dark_but_not_black_edge_is_not_a_bar() -> None:
    """A dark sky (values ~30-60) along the top of every frame is picture, not a letterbox."""
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(6):
        frame = rng.integers(60, 200, (180, 320, 3), dtype=np.uint8)
        frame[:40] = rng.integers(30, 60, (40, 320, 3), dtype=np.uint8)
        frames.append(frame)
    assert measure_borders(frames).area == 0.0


def test_black_frames_are_not_bars() -> None:
    frames = [np.zeros((180, 320, 3), np.uint8) for _ in range(4)]
    m = BorderAnalyzer().analyze(_synthetic_clip(frames))
    assert m.scores["border_area"] == 0.0
    assert m.artifacts["crop"] == (0, 0, 320, 180)


# --- text overlay -------------------------------------------------------------------------------


def test_text_overlay_separates_text_from_clean(clips) -> None:
    analyzer = TextOverlayAnalyzer()
    clean = analyzer.analyze(clips["clean_360"]).scores
    text = analyzer.analyze(clips["text_360"]).scores
    title = analyzer.analyze(clips["title_360"]).scores
    small_clean = analyzer.analyze(clips["clean"]).scores
    print(f"\nclean {clean} text {text} title {title} clean 320x180 {small_clean}")
    assert clean["text_area"] < 0.005 and small_clean["text_area"] < 0.005
    assert clean["text_frames"] == 0.0
    for scores in (text, title):
        assert scores["text_area"] > 0.03
        assert scores["text_frames"] == 1.0


def test_text_overlay_on_bars_and_blur_stays_clean(clips) -> None:
    analyzer = TextOverlayAnalyzer()
    for name in ("letterbox", "pillarbox", "blur", "dark", "bright"):
        assert analyzer.analyze(clips[name]).scores["text_area"] < 0.01, name


def test_text_detector_input_sizes_and_timing(clips) -> None:
    assert det_model_path().name == "ch_PP-OCRv4_det_infer.onnx"
    assert input_size(320, 180) == (320, 192)
    assert input_size(180, 320) == (192, 320)
    assert input_size(240, 240) == (256, 256)
    detector = text_detector(1)
    assert text_detector(1) is detector  # one session per process
    frame = clips["text_360"].rgb[0]
    assert detector.probability(frame).shape == (192, 320)
    runs = 5
    start = time.perf_counter()
    for _ in range(runs):
        detector.probability(frame)
    per_frame = (time.perf_counter() - start) / runs * 1000
    print(f"\nPP-OCR det, 1 thread, 320x192 input: {per_frame:.1f} ms a frame")


def test_text_overlay_frames_are_configurable(clips) -> None:
    one = TextOverlayAnalyzer(frames=1).analyze(clips["text_360"]).scores
    assert one["text_frames"] in (0.0, 1.0)
    with pytest.raises(ValueError, match="frames"):
        TextOverlayAnalyzer(frames=0)


# --- quality ------------------------------------------------------------------------------------


def test_blur_lowers_sharpness(clips) -> None:
    clean = QualityAnalyzer().analyze(clips["clean"]).scores
    blur = QualityAnalyzer().analyze(clips["blur"]).scores
    print(f"\nsharpness clean {clean['sharpness']:.1f} blur:3 {blur['sharpness']:.1f}")
    assert blur["sharpness"] < 0.5 * clean["sharpness"]


def test_exposure(clips) -> None:
    clean = QualityAnalyzer().analyze(clips["clean"]).scores
    dark = QualityAnalyzer().analyze(clips["dark"]).scores
    bright = QualityAnalyzer().analyze(clips["bright"]).scores
    assert dark["brightness"] < 0.1 < clean["brightness"]
    assert dark["dark_fraction"] > 0.5 > clean["dark_fraction"]
    assert bright["clipped_fraction"] > 0.3 > 10 * clean["clipped_fraction"]
    assert bright["brightness"] > clean["brightness"]
    assert 0.0 <= dark["colorfulness"] < clean["colorfulness"] <= 1.0


def test_bars_are_not_counted_as_dark(clips) -> None:
    clean = QualityAnalyzer().analyze(clips["clean"]).scores
    for name in ("letterbox", "pillarbox"):
        boxed = QualityAnalyzer().analyze(clips[name]).scores
        assert boxed["brightness"] == pytest.approx(clean["brightness"], abs=0.02), name
        assert boxed["dark_fraction"] < 0.01, name


def test_sharpness_is_measured_at_a_fixed_scale(clips) -> None:
    """Same footage at 180p and 720p: samples differ in size, sharpness is measured at 256."""
    small = QualityAnalyzer().analyze(clips["clean"]).scores["sharpness"]
    hd = QualityAnalyzer().analyze(clips["hd"]).scores["sharpness"]
    print(f"\nsharpness 320x180 {small:.1f}, 1280x720 {hd:.1f}")
    assert hd > 0 and small > 0


def test_keyframe_is_the_sharpest_sample(clips) -> None:
    clip = clips["blur_then_sharp"]
    m = QualityAnalyzer().analyze(clip)
    t, image = m.artifacts["keyframe"]
    print(f"\nkeyframe_t {m.scores['keyframe_t']} of sample times {list(clip.rgb_times)}")
    assert m.scores["keyframe_t"] == pytest.approx(t - clip.start_s)
    assert t >= 2.5  # the sharp half
    k = list(clip.rgb_times).index(t)
    assert image is clip.rgb[k]

    def laplacian(im: np.ndarray) -> float:
        grey = cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
        grey = cv2.resize(grey, (455, 256), interpolation=cv2.INTER_LINEAR)
        return float(cv2.Laplacian(grey, cv2.CV_64F, ksize=1).var())

    assert laplacian(image) == max(laplacian(im) for im in clip.rgb)


def test_technical_quality(clips) -> None:
    tq = {
        n: TechnicalQualityAnalyzer().analyze(clips[n]).scores["technical_quality"] for n in EFFECTS
    }
    print(f"\ntechnical_quality {tq}")
    assert all(0.0 <= v <= 1.0 for v in tq.values())
    for worse in ("blur", "dark", "bright"):
        assert tq[worse] < 0.5 * tq["clean"], worse


def test_quality_measures_are_shared_not_recomputed(clips, monkeypatch) -> None:
    clip = replace(clips["clean"], rgb=[im.copy() for im in clips["clean"].rgb])
    QualityAnalyzer().analyze(clip)
    computed = []
    real = image_quality._quality_stats
    monkeypatch.setattr(image_quality, "_quality_stats", lambda *a: computed.append(1) or real(*a))
    again = TechnicalQualityAnalyzer().analyze(clip).scores
    assert computed == []  # the second analyzer reused the first one's measures
    fresh = replace(clip, rgb=[im.copy() for im in clip.rgb])
    assert TechnicalQualityAnalyzer().analyze(fresh).scores == again
    assert computed == [1]  # new frames are measured


def test_technical_quality_is_monotone() -> None:
    base = {
        "sharpness": 100.0,
        "brightness": 0.5,
        "dark_fraction": 0.0,
        "clipped_fraction": 0.0,
        "contrast": 0.15,
        "colorfulness": 0.3,
    }
    q = technical_quality(base)
    assert technical_quality({**base, "sharpness": 200.0}) > q
    assert technical_quality({**base, "sharpness": 10.0}) < q
    assert technical_quality({**base, "clipped_fraction": 0.1}) < q
    assert technical_quality({**base, "dark_fraction": 0.3}) < q
    assert technical_quality({**base, "brightness": 0.1}) < q
    assert technical_quality({**base, "contrast": 0.2}) > q
    assert technical_quality({**base, "colorfulness": 0.4}) > q


# --- every analyzer -----------------------------------------------------------------------------

ANALYZERS = [
    GeometryAnalyzer(),
    BorderAnalyzer(),
    TextOverlayAnalyzer(),
    QualityAnalyzer(),
    TechnicalQualityAnalyzer(),
]


@pytest.mark.parametrize("analyzer", ANALYZERS, ids=lambda a: a.name)
def test_deterministic_and_declared(clips, analyzer) -> None:
    first = analyzer.analyze(clips["text_360"])
    second = analyzer.analyze(clips["text_360"])
    assert first.scores == second.scores
    assert set(first.scores) == set(analyzer.signals)
    assert all(isinstance(v, float) and np.isfinite(v) for v in first.scores.values())


@pytest.mark.parametrize("analyzer", ANALYZERS[1:], ids=lambda a: a.name)
def test_no_samples_is_not_scored(analyzer) -> None:
    assert analyzer.analyze(_synthetic_clip([])).scores == {}


def test_timing_per_clip(clips) -> None:
    """Prints ms per 4.5 s clip; each analyzer must stay well inside a per-clip budget."""
    for analyzer in ANALYZERS:
        analyzer.analyze(clips["clean"])  # warm (model load)
        # fresh frames: the quality measures of frames just seen are reused, not recomputed
        clip = replace(clips["clean"], rgb=[im.copy() for im in clips["clean"].rgb])
        start = time.perf_counter()
        analyzer.analyze(clip)
        ms = (time.perf_counter() - start) * 1000
        print(f"\n{analyzer.name}: {ms:.1f} ms for a 4.5 s clip ({len(clip.rgb)} samples)", end="")
