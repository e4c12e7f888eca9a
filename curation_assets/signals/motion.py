"""The motion family: dense optical flow on the stored grey samples, no decoding.

Units. Every displacement is divided by the frame width and by the time between the two samples,
so motion is in *frame widths per second* (fw/s) whatever the resolution or sample rate: a pan
that crosses the frame in 5 s reads 0.2 in both x and y (y is also divided by the width, so the
units stay isotropic). Zoom is a relative scale rate (1/s, positive = content grows = zoom in),
rotation a rate in rad/s (positive = clockwise as displayed, image y pointing down).

Speed. Flow runs at a short side of ``work_short_side`` (72 px: half the default 144 px grey
samples) with DIS "fast": about 0.7 ms a pair on 2 cores, against 2 ms at 144 px, with global
motion within a few % of the full-size estimate. A 60 s clip at 8 grey fps (480 pairs) takes about
0.4 s. DIS is deterministic; nothing here draws random numbers.

Global motion. Per pair, a similarity model (tx, ty, zoom, rotation) is fitted by iteratively
reweighted least squares (Tukey weights) on a grid of flow vectors away from the border, so a
moving object does not drag the camera estimate. The residual |flow - model| is what moves on its
own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import cv2
import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Label, Measurement
from curation_assets.vocabulary import CameraMotion

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# -- thresholds of the measurement itself (not of selection; those live in curation.yaml) -------
MOVING_SPEED = 0.025  # fw/s: a pixel "moves" above this (crosses the frame in 40 s)
STILL_SPEED = 0.01  # fw/s: mean global (camera) speed below this is a static camera
FROZEN_MOVING = 0.005  # a pair is frozen when under 0.5% of pixels move ...
FROZEN_LUMA = 1.0  # ... and its mean absolute luma change is under 1 grey level
# A jump pair (hard cut, slideshow change, flash): its luma change is above CUT_LUMA grey levels
# and CUT_LUMA_RATIO times the clip's median, and the camera model explains less than the residual.
CUT_LUMA = 8.0
CUT_LUMA_RATIO = 4.0
OWN_MOTION_SPEED = 0.02  # fw/s: residual above this at a grid point is motion of its own
RIGID_OWN_FRACTION = 0.01  # a moving pair is rigid when under 1% of grid points move on their own
SHAKE_WINDOW_S = 1.0  # shake is the camera path minus its moving average over this window

# -- camera-motion class decision -----------------------------------------------------------------
HANDHELD_SHAKE = 0.004  # shake (frame widths RMS) above which a wandering camera is handheld
HANDHELD_MAX_CONSISTENCY = 0.5  # ... when its translation keeps changing direction
COMPLEX_RESIDUAL = 0.6  # fit_residual above this: independent motion dominates the camera
MIN_DOMINANCE = 0.5  # winner's share of the summed net component speeds
MIN_CONSISTENCY = 0.5  # winner's |mean| / mean(|per pair|): 1 = always the same direction

_GRID_STEP = 4  # px at work size
_TUKEY_C = 4.685  # Tukey biweight cut-off, in robust standard deviations of the residual
_MIN_SCALE = 0.005  # fw/s: the cut-off never goes below this (flow noise of a still frame)


@dataclass(frozen=True)
class _PairStats:
    """Per sample pair (arrays of length pairs), all in fw/s or 1/s."""

    dt: np.ndarray
    mean: np.ndarray  # mean flow magnitude over all pixels
    moving: np.ndarray  # fraction of pixels above MOVING_SPEED
    luma: np.ndarray  # mean absolute luma change, grey levels
    params: np.ndarray  # (pairs, 4): tx, ty, zoom, rotation
    grid_speed: np.ndarray  # mean |flow| over the grid
    model_speed: np.ndarray  # mean |model flow| over the grid
    residual: np.ndarray  # mean |flow - model| over the grid
    own_fraction: np.ndarray  # fraction of grid points with residual > OWN_MOTION_SPEED
    radius: float  # mean distance of the grid points from the centre, frame widths


class OpticalFlowAnalyzer(ClipAnalyzer):
    """Motion amount, camera motion and its class, shake and slideshow score from DIS flow.

    Signals (fw/s unless said):
    - ``motion_mean``, ``motion_p95``: mean and 95th percentile of the flow magnitude over all
      pixels of all pairs; ``moving_fraction``: mean fraction of pixels above 0.025 fw/s.
    - ``global_tx``, ``global_ty`` (content motion: negative tx = content moves left = the camera
      pans right; negative ty = content moves up = the camera tilts down), ``global_zoom`` (1/s),
      ``global_rotation`` (rad/s): means over pairs of the robust similarity fit. Jump pairs (luma
      change > 8 grey levels and > 4x the clip's median, flow not explained by the fit: a cut,
      a slideshow change, a flash) are left out of these, of ``shake`` and of the camera class.
    - ``fit_residual``: summed mean |flow - model| over summed mean |flow| (floored at 0.01 fw/s a
      pair) on the grid, jump pairs left out: 0 = the camera explains all motion, 1 = none of it.
    - ``shake``: RMS (frame widths) of the camera path (integrated global translation) minus its
      1 s moving average; a steady pan or a still camera reads under 0.001, the synthetic
      handheld camera (jitter of ~2.5% of the width a frame) ~0.03.
    - ``shots_per_second``: shots detected per second in the whole source video.
    - ``static_fraction``: fraction of pairs that are frozen (under 0.5% of pixels move and the
      mean luma change is under 1 grey level).
    - ``slideshow``: fraction of pairs with no motion of their own, i.e. frozen, or moved rigidly
      (camera speed >= 0.01 fw/s and under 1% of grid points off the fitted camera model by more
      than 0.02 fw/s). Stills held between cross-fades or jumps score the held fraction (a 2 s
      hold + 0.5 s fade scores ~0.8); a still image under a synthetic pan or zoom scores ~1; real
      footage, where something moves on its own, scores ~0. Rigid pairs count only while the
      camera path is smooth (``shake`` <= 0.004): a shaken camera over a still scene is jitter,
      never a slideshow (real-footage kit: a shaken still photo scored 0.62 before, now 0). A clip
      that is one frozen image also scores 1: it is the degenerate slideshow (the static filter
      reports it too). Real footage
      of a distant, flat scene can look rigid; keep the gate loose.
    - ``flow_pairs``: number of sample pairs measured.

    A clip with fewer than 2 grey samples has no pairs: every motion signal is 0,
    ``static_fraction`` is 1 (nothing was seen to move), ``slideshow`` 0 (no evidence), and the
    camera label is ``static`` with confidence 0.
    """

    name: ClassVar[str] = "optical_flow"
    uses_rgb: ClassVar[bool] = False
    version: ClassVar[str] = "2"
    signals: ClassVar[tuple[str, ...]] = (
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
        "flow_pairs",
    )
    ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "motion_mean": (0.0, None),
        "motion_p95": (0.0, None),
        "moving_fraction": (0.0, 1.0),
        "fit_residual": (0.0, None),
        "shake": (0.0, None),
        "shots_per_second": (0.0, None),
        "static_fraction": (0.0, 1.0),
        "slideshow": (0.0, 1.0),
        "flow_pairs": (0.0, None),
    }

    def __init__(self, preset: str = "fast", work_short_side: int = 72) -> None:
        if preset not in _PRESETS:
            raise ValueError(f"unknown DIS preset {preset!r}; choose from {sorted(_PRESETS)}")
        if not 16 <= work_short_side <= 720:
            raise ValueError(f"work_short_side must be in [16, 720], got {work_short_side}")
        self.preset = preset
        self.work_short_side = work_short_side

    def analyze(self, clip: ClipSamples) -> Measurement:
        grey = np.asarray(clip.grey)
        times = np.asarray(clip.grey_times, np.float64)
        n = min(len(grey), len(times)) if grey.ndim == 3 else 0
        if n < 2 or min(grey.shape[1:]) < 2:
            return self._empty(clip)
        frames = self._shrink(grey[:n])
        stats, magnitudes = self._pairs(frames, times[:n])
        return self._measure(clip, stats, magnitudes)

    # -- flow ---------------------------------------------------------------------------------

    def _shrink(self, grey: np.ndarray) -> list[np.ndarray]:
        h, w = grey.shape[1:]
        scale = min(1.0, self.work_short_side / min(h, w))
        size = (max(16, round(w * scale)), max(16, round(h * scale)))
        if size == (w, h):
            return [np.ascontiguousarray(g) for g in grey]
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        return [cv2.resize(g, size, interpolation=interp) for g in grey]

    def _pairs(self, frames: list[np.ndarray], times: np.ndarray) -> tuple[_PairStats, np.ndarray]:
        h, w = frames[0].shape
        dis = cv2.DISOpticalFlow_create(_PRESETS[self.preset])
        margin = max(1, min(h, w) // 10)
        ys, xs = np.mgrid[margin : h - margin : _GRID_STEP, margin : w - margin : _GRID_STEP]
        ys, xs = ys.ravel(), xs.ravel()
        gx = (xs + 0.5 - w / 2) / w
        gy = (ys + 0.5 - h / 2) / w
        pairs = len(frames) - 1
        dt = np.maximum(np.diff(times), 1e-3)
        mean = np.empty(pairs)
        moving = np.empty(pairs)
        luma = np.empty(pairs)
        grid = np.empty((pairs, xs.size, 2))
        magnitudes = []
        pixels = float(h * w)
        for i in range(pairs):
            flow = dis.calc(frames[i], frames[i + 1], None)
            flow *= 1.0 / (w * dt[i])
            mag = cv2.magnitude(flow[..., 0], flow[..., 1])
            mean[i] = float(mag.mean())
            moving[i] = np.count_nonzero(mag > MOVING_SPEED) / pixels
            luma[i] = cv2.norm(frames[i], frames[i + 1], cv2.NORM_L1) / pixels
            grid[i] = flow[ys, xs]
            magnitudes.append(mag[::2, ::2].ravel())
        params, model = _fit_similarity(grid, gx, gy)
        res = np.hypot(*(grid - model).transpose(2, 0, 1))
        stats = _PairStats(
            dt=dt,
            mean=mean,
            moving=moving,
            luma=luma,
            params=params,
            grid_speed=np.hypot(grid[..., 0], grid[..., 1]).mean(axis=1),
            model_speed=np.hypot(model[..., 0], model[..., 1]).mean(axis=1),
            residual=res.mean(axis=1),
            own_fraction=(res > OWN_MOTION_SPEED).mean(axis=1),
            radius=float(np.hypot(gx, gy).mean()),
        )
        return stats, np.concatenate(magnitudes)

    # -- clip-level signals ---------------------------------------------------------------------

    def _measure(self, clip: ClipSamples, s: _PairStats, mags: np.ndarray) -> Measurement:
        pairs = len(s.dt)
        frozen = (s.moving < FROZEN_MOVING) & (s.luma < FROZEN_LUMA)
        rigid = ~frozen & (s.model_speed >= STILL_SPEED) & (s.own_fraction < RIGID_OWN_FRACTION)
        # Camera motion is measured on continuous pairs only: a jump inside the clip (a cut, a
        # slideshow change, a flash) has no camera motion, and its garbage flow would read as one.
        jump = (s.luma > max(CUT_LUMA, CUT_LUMA_RATIO * float(np.median(s.luma)))) & (
            s.residual > s.model_speed
        )
        camera = _subset(s, ~jump)
        floor = camera.dt.size * STILL_SPEED
        fit_residual = float(
            camera.residual.sum() / max(float(camera.grid_speed.sum()), floor, 1e-12)
        )
        shake = _shake(np.where(jump[:, None], 0.0, s.params[:, :2]), s.dt)
        tx, ty, zoom, rot = camera.params.mean(axis=0) if camera.dt.size else np.zeros(4)
        scores = {
            "motion_mean": float(s.mean.mean()),
            "motion_p95": float(np.percentile(mags, 95)),
            "moving_fraction": float(s.moving.mean()),
            "global_tx": float(tx),
            "global_ty": float(ty),
            "global_zoom": float(zoom),
            "global_rotation": float(rot),
            "fit_residual": min(fit_residual, 10.0),
            "shake": shake,
            "shots_per_second": float(clip.source_shots_per_s),
            "static_fraction": float(frozen.mean()),
            # a shaken camera is jitter, never a slideshow: rigid motion counts only when smooth
            "slideshow": float((frozen | (rigid & (shake <= HANDHELD_SHAKE))).mean()),
            "flow_pairs": float(pairs),
        }
        if camera.dt.size:
            label, confidence, evidence = _camera_class(camera, shake, fit_residual)
        else:
            label, confidence, evidence = CameraMotion.STATIC, 0.0, {}
        evidence["jump_pairs"] = int(jump.sum())
        artifacts = {
            "pair_times": np.asarray(clip.grey_times[1 : pairs + 1], np.float64),
            "global_motion": s.params.astype(np.float32),  # tx, ty, zoom, rotation per pair
            "camera_evidence": evidence,
        }
        return Measurement(
            scores=scores,
            labels=[Label("camera_motion", label.value, round(confidence, 4))],
            artifacts=artifacts,
        )

    def _empty(self, clip: ClipSamples) -> Measurement:
        scores = dict.fromkeys(self.signals, 0.0)
        scores["shots_per_second"] = float(clip.source_shots_per_s)
        scores["static_fraction"] = 1.0
        return Measurement(
            scores=scores,
            labels=[Label("camera_motion", CameraMotion.STATIC.value, 0.0)],
            artifacts={"camera_evidence": {"reason": "fewer than 2 grey samples"}},
        )


def _subset(s: _PairStats, keep: np.ndarray) -> _PairStats:
    """The pairs where ``keep`` is true."""
    values = {f.name: getattr(s, f.name) for f in fields(s)}
    return _PairStats(**{k: v[keep] if isinstance(v, np.ndarray) else v for k, v in values.items()})


def _fit_similarity(
    grid: np.ndarray, gx: np.ndarray, gy: np.ndarray, iterations: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Robust fit of u = tx + z*x - r*y, v = ty + r*x + z*y for every pair at once.

    ``grid`` is (pairs, points, 2); x, y are centred and divided by the width. Starts from the
    median translation and reweights with Tukey's biweight (scale from the median residual,
    floored at ``_MIN_SCALE``): a moving object, and the halo DIS smears around it, get weight 0
    instead of pulling the camera along. Returns the parameters (pairs, 4) and the model flow
    (pairs, points, 2).
    """
    u, v = grid[..., 0], grid[..., 1]
    params = np.zeros((grid.shape[0], 4))
    params[:, 0], params[:, 1] = np.median(u, axis=1), np.median(v, axis=1)
    moments = np.stack([np.ones_like(gx), gx, gy, gx * gx + gy * gy], axis=1)  # (points, 4)
    for _ in range(iterations):
        du, dv = _model(params, gx, gy)
        res = np.hypot(u - du, v - dv)
        scale = np.maximum(_TUKEY_C * 1.4826 * np.median(res, axis=1, keepdims=True), _MIN_SCALE)
        w = np.clip(1.0 - (res / scale) ** 2, 0.0, None) ** 2 + 1e-9
        sw, sx, sy, sr = (w @ moments).T  # weighted sums of 1, x, y, x^2 + y^2
        normal = np.zeros((len(w), 4, 4))
        normal[:, 0, 0] = normal[:, 1, 1] = sw
        normal[:, 2, 2] = normal[:, 3, 3] = sr
        normal[:, 0, 2] = normal[:, 2, 0] = normal[:, 1, 3] = normal[:, 3, 1] = sx
        normal[:, 1, 2] = normal[:, 2, 1] = sy
        normal[:, 0, 3] = normal[:, 3, 0] = -sy
        wu, wv = w * u, w * v
        rhs = np.stack([wu.sum(1), wv.sum(1), wu @ gx + wv @ gy, wv @ gx - wu @ gy], axis=1)
        params = np.linalg.solve(normal, rhs[..., None])[..., 0]
    return params, np.stack(_model(params, gx, gy), axis=-1)


def _model(params: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Model flow (u, v), each (pairs, points), of the similarity parameters at the grid."""
    tx, ty, zoom, rot = (params[:, k : k + 1] for k in range(4))
    return tx + zoom * gx - rot * gy, ty + rot * gx + zoom * gy


def _shake(translation: np.ndarray, dt: np.ndarray) -> float:
    """RMS (frame widths) of the camera path minus its ~1 s moving average."""
    path = np.vstack([np.zeros((1, 2)), np.cumsum(translation * dt[:, None], axis=0)])
    step = float(np.median(dt))
    window = max(3, int(round(SHAKE_WINDOW_S / step)) | 1)
    if len(path) >= window + 2:
        kernel = np.full(window, 1.0 / window)
        half = window // 2
        smooth = np.stack([np.convolve(path[:, k], kernel, mode="valid") for k in range(2)], 1)
        high = path[half : len(path) - half] - smooth
    elif len(path) >= 3:
        t = np.arange(len(path), dtype=np.float64)
        fit = np.polynomial.polynomial.polyfit(t, path, 1)
        high = path - np.polynomial.polynomial.polyval(t, fit).T
    else:
        return 0.0
    return float(np.sqrt(np.mean(np.sum(high**2, axis=1))))


def _camera_class(
    s: _PairStats, shake: float, fit_residual: float
) -> tuple[CameraMotion, float, dict]:
    """The camera-motion class and its confidence from the per-pair global motion.

    1. static: mean camera (model) speed < STILL_SPEED and shake < HANDHELD_SHAKE; confidence
       falls from 1 (no motion) to 0.5 at the threshold.
    2. handheld: shake >= HANDHELD_SHAKE and the translation's consistency (|mean| / mean |.|)
       < HANDHELD_MAX_CONSISTENCY; confidence = min(1, shake / 2 HANDHELD_SHAKE) * (1 -
       consistency).
    3. complex: fit_residual > COMPLEX_RESIDUAL (objects move more than the camera explains).
    4. otherwise the component with the largest net speed wins: pan |tx|, tilt |ty|, zoom
       |zoom| * r, roll |rotation| * r (r = mean grid radius, so all are fw/s at the pixels).
       confidence = dominance (winner's share of the summed net speeds) * consistency (|mean| /
       mean |per pair|); complex when either is under MIN_DOMINANCE / MIN_CONSISTENCY.
    """
    speed = float(s.model_speed.mean())
    t = s.params[:, :2]
    gross_t = float(np.mean(np.hypot(t[:, 0], t[:, 1])))
    t_consistency = float(np.hypot(*t.mean(axis=0)) / gross_t) if gross_t > 0 else 0.0
    evidence: dict = {
        "camera_speed": speed,
        "shake": shake,
        "translation_consistency": t_consistency,
        "fit_residual": fit_residual,
    }
    if speed < STILL_SPEED and shake < HANDHELD_SHAKE:
        return CameraMotion.STATIC, 1.0 - 0.5 * speed / STILL_SPEED, evidence
    if shake >= HANDHELD_SHAKE and t_consistency < HANDHELD_MAX_CONSISTENCY:
        confidence = min(1.0, shake / (2 * HANDHELD_SHAKE)) * (1.0 - t_consistency)
        return CameraMotion.HANDHELD, confidence, evidence
    if fit_residual > COMPLEX_RESIDUAL:
        return CameraMotion.COMPLEX, min(1.0, fit_residual), evidence
    per_pair = s.params * np.array([1.0, 1.0, s.radius, s.radius])
    net = per_pair.mean(axis=0)
    strength = np.abs(net)
    winner = int(np.argmax(strength))
    dominance = float(strength[winner] / max(strength.sum(), 1e-12))
    gross = float(np.abs(per_pair[:, winner]).mean())
    consistency = float(strength[winner] / gross) if gross > 0 else 0.0
    evidence.update(
        dominance=dominance,
        consistency=consistency,
        components=dict(zip(("pan", "tilt", "zoom", "roll"), net.tolist(), strict=True)),
    )
    confidence = dominance * consistency
    if dominance < MIN_DOMINANCE or consistency < MIN_CONSISTENCY:
        return CameraMotion.COMPLEX, 1.0 - confidence, evidence
    sign = net[winner] > 0
    label = {
        0: CameraMotion.PAN_LEFT if sign else CameraMotion.PAN_RIGHT,  # content right: pan left
        1: CameraMotion.TILT_UP if sign else CameraMotion.TILT_DOWN,  # content down: tilt up
        2: CameraMotion.ZOOM_IN if sign else CameraMotion.ZOOM_OUT,
        3: CameraMotion.ROLL,
    }[winner]
    return label, confidence, evidence
