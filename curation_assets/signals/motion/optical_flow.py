"""The motion family: dense optical flow on the stored grey samples, no decoding.

Units. Every displacement is divided by the frame width and by the time between the two samples,
so motion is in *frame widths per second* (fw/s) whatever the resolution or sample rate: a pan
that crosses the frame in 5 s reads 0.2 in both x and y (y is also divided by the width, so the
units stay isotropic). Zoom is a relative scale rate (1/s, positive = content grows = zoom in),
rotation a rate in rad/s (positive = clockwise as displayed, image y pointing down).

Speed. Flow runs at a short side of ``work_short_side`` (72 px: half the default 144 px grey
samples) with DIS "fast": about 0.7 ms a pair on 2 cores, against 2 ms at 144 px, with global
motion within a few % of the full-size estimate. A 60 s clip at 8 grey fps (480 pairs) takes about
0.4 s of flow and, with the background fit and the camera classes, about 1.2 s in all. DIS is
deterministic; nothing here draws random numbers (the fit's hypotheses use fixed points).

Global motion. Per pair, a similarity model (tx, ty, zoom, rotation) is fitted on the
background of a grid of flow vectors away from the border (``signals/camera.py``: hypotheses
scored by the points they explain, border points first, kept close to the clip's camera path,
then refined by Tukey-weighted least squares), so a moving subject, even a large one, does not
drag the camera estimate. The residual |flow - model| is what moves on its own
(``subject_motion``); the camera-motion classes and their rules are in ``signals/camera.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import cv2
import numpy as np

from curation_assets.same_bits import line_fit
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Label, Measurement, Signal
from curation_assets.signals.camera import (  # noqa: F401 - HANDHELD_SHAKE is re-exported
    HANDHELD_SHAKE,
    OWN_MOTION_SPEED,
    STILL_SPEED,
    classify,
    fit_background,
)
from curation_assets.signals.slideshow import slideshow_score, transitions
from curation_assets.vocabulary import CameraMotion

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# -- thresholds of the measurement itself (not of selection; those live in curation.yaml) -------
MOVING_SPEED = 0.025  # fw/s: a pixel "moves" above this (crosses the frame in 40 s)
FROZEN_MOVING = 0.005  # a pair is frozen when under 0.5% of pixels move ...
FROZEN_LUMA = 1.0  # ... and its mean absolute luma change is under 1 grey level
# A jump pair (hard cut, slideshow change, flash): its luma change is above CUT_LUMA grey levels
# and CUT_LUMA_RATIO times the clip's median, and the camera model explains less than the residual
# (or over UNEXPLAINED of the grid is off it, or the change is CUT_LUMA_RATIO x its neighbours').
CUT_LUMA = 8.0
CUT_LUMA_RATIO = 4.0
RIGID_OWN_FRACTION = 0.05  # a moving pair is rigid when under 5% of grid points move on their own
UNEXPLAINED = 0.7  # share of the grid off the camera fit above which a pair's fit is unreliable
SHAKE_WINDOW_S = 0.375  # shake is the camera path minus its moving average over this window

FLAT_FRAME = 0.05  # a frame with texture at under 5% of the grid points is flat (black, white)
TEXTURE_MIN = 2.0  # grey levels per px (mean |gradient| over 5x5 px): below, a point is flat
_GRID_STEP = 4  # px at work size


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
    own_fraction: np.ndarray  # fraction of grid points moving on their own (camera.py)
    grid: np.ndarray  # (pairs, points, 2): the flow at the grid points
    own: np.ndarray  # (pairs, points): the grid points moving on their own (off the fit)
    textured: np.ndarray  # share of the grid points with texture (not a flat area)
    points: tuple[np.ndarray, np.ndarray]  # grid x, y centred, frame widths (not per pair)


class OpticalFlowAnalyzer(ClipAnalyzer):
    """Motion amount, camera motion and its class, shake and slideshow score from DIS flow.

    Signals (fw/s unless said):
    - ``motion_mean``, ``motion_p95``: mean and 95th percentile of the flow magnitude over all
      pixels of all pairs; ``moving_fraction``: mean fraction of pixels above 0.025 fw/s.
    - ``global_tx``, ``global_ty`` (content motion: negative tx = content moves left = the camera
      pans right; negative ty = content moves up = the camera tilts down), ``global_zoom`` (1/s),
      ``global_rotation`` (rad/s): means over pairs of the background (camera) fit
      (``signals/camera.py``). Jump pairs (luma change > 8 grey levels and > 4x the clip's
      median, and the flow not explained by the fit, over 70% of the grid off it, or a spike of
      4x both neighbours' luma change: a cut, a slideshow change, a flash), dissolve pairs
      between stills (``signals/slideshow.py``) and pairs whose fit leaves over 70% of the grid
      unexplained (unless they are most of the clip) are left out of these and of the camera
      class; jumps and unexplained pairs are bridged over in ``shake``.
    - ``fit_residual``: summed mean |flow - model| over summed mean |flow| (floored at 0.01 fw/s a
      pair) on the grid, jump pairs left out: 0 = the camera explains all motion, 1 = none of it.
    - ``shake``: RMS (frame widths) of the camera path (integrated global translation) minus its
      moving average over 0.375 s (3 samples at 8 fps: jitter changes from sample to sample, a
      real camera's moves do not); a steady pan or a still camera reads under 0.001, real
      handheld street footage (bikes.mp4) up to 0.007, the kit's mild jitter (0.9% of the
      width a frame) 0.0096, strong jitter 0.018-0.031 (the jitter gate is 0.008).
    - ``shots_per_second``: shots detected per second in the whole source video.
    - ``static_fraction``: fraction of pairs that are frozen (under 0.5% of pixels move and the
      mean luma change is under 1 grey level).
    - ``slideshow``: piecewise-still segments (``signals/slideshow.py``). A pair is still when it
      is frozen, or moved rigidly (camera speed >= 0.01 fw/s and under 5% of the grid moving on
      its own) by a smooth camera (``shake`` <= 0.004: a shaken camera over a still scene is
      jitter, never a slideshow), on a frame with texture (a black or white hold is no slide).
      Segments between jumps and dissolves score 0 up to 70% still pairs, 1 from 95%; jumps and
      dissolves joining two still segments count 1. Stills joined by cuts or dissolves, a Ken
      Burns move and one frozen image (the degenerate slideshow) score ~1; continuous footage
      where something moves on its own most of the time scores 0 (real-footage kit: every
      continuous case <= 0.11 but one). A short real shot of a static scene under a smooth camera
      move, where nothing moves on its own (the kit's 1 s parked bicycle), is indistinguishable
      from a Ken Burns move at this resolution and scores 1.
    - ``subject_motion``: mean share of the (textured) grid moving on its own, off the camera
      fit, over the continuous pairs: a fixed camera on a moving subject is a ``static`` camera
      with a high ``subject_motion`` (0.07-0.30 on the kit), a still scene under any camera 0.
    - ``flow_pairs``: number of sample pairs measured.

    A clip with fewer than 2 grey samples has no pairs: every motion signal is 0,
    ``static_fraction`` is 1 (nothing was seen to move), ``slideshow`` 0 (no evidence), and the
    camera label is ``static`` with confidence 0.
    """

    still_images = False
    name: ClassVar[str] = "optical_flow"
    uses_rgb: ClassVar[bool] = False
    version: ClassVar[str] = "4"
    order = 10
    declares = (
        Signal("motion_mean", "mean flow magnitude over all pixels of all sample pairs",
               unit="frame widths / s", range=(0.0, None), gate=(0.005, None),
               plot_in_subsets=True, export=3),
        Signal("motion_p95", "95th percentile of the flow magnitude", unit="frame widths / s",
               range=(0.0, None), gate=(None, 1.0)),
        Signal("moving_fraction", "mean share of pixels moving over 0.025 fw/s",
               unit="share of pixels", range=(0.0, 1.0)),
        Signal("global_tx", "the background's horizontal motion (< 0: the camera pans right)",
               unit="frame widths / s"),
        Signal("global_ty", "the background's vertical motion (< 0: the camera tilts down)",
               unit="frame widths / s"),
        Signal("global_zoom", "the background's scale change (> 0: zoom in)", unit="1 / s"),
        Signal("global_rotation", "the background's rotation", unit="rad / s"),
        Signal("fit_residual", "share of the motion the camera fit leaves unexplained",
               range=(0.0, None)),
        Signal("shake", "RMS of the camera path minus its 0.375 s moving average",
               unit="frame widths", better="lower", range=(0.0, None), gate=(None, 0.008)),
        Signal("shots_per_second", "shots detected per second in the whole source video",
               unit="1 / s", better="lower", range=(0.0, None), gate=(None, 1.5)),
        Signal("static_fraction", "share of sample pairs that are frozen",
               unit="share of pairs", better="lower", range=(0.0, 1.0), gate=(None, 0.9)),
        Signal("slideshow", "how much the clip is still pictures joined by jumps or dissolves",
               unit="0-1", better="lower", range=(0.0, 1.0), gate=(None, 0.5)),
        Signal("flow_pairs", "sample pairs measured", range=(0.0, None)),
        Signal("subject_motion", "mean share of the grid moving on its own, off the camera fit",
               unit="share of grid", range=(0.0, 1.0)),
    )  # fmt: skip

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
        return self._measure(clip, stats, magnitudes, frames)

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
        shape = ys.shape
        ys, xs = ys.ravel(), xs.ravel()
        gx = (xs + 0.5 - w / 2) / w
        gy = (ys + 0.5 - h / 2) / w
        pairs = len(frames) - 1
        dt = np.maximum(np.diff(times), 1e-3)
        mean = np.empty(pairs)
        moving = np.empty(pairs)
        luma = np.empty(pairs)
        grid = np.empty((pairs, xs.size, 2))
        textured = np.empty((pairs, xs.size), bool)
        magnitudes = []
        pixels = float(h * w)
        for i in range(pairs):
            flow = dis.calc(frames[i], frames[i + 1], None)
            flow *= 1.0 / (w * dt[i])
            # not cv2.magnitude: its SIMD body and scalar tail round differently (FMA) and the
            # split depends on where its temporary copies land in memory, so the same flow gave
            # means 1 ulp apart from run to run; NumPy's IEEE ops round the same everywhere
            fx, fy = flow[..., 0], flow[..., 1]
            mag = np.sqrt(fx * fx + fy * fy)
            mean[i] = float(mag.mean())
            moving[i] = np.count_nonzero(mag > MOVING_SPEED) / pixels
            luma[i] = cv2.norm(frames[i], frames[i + 1], cv2.NORM_L1) / pixels
            grid[i] = flow[ys, xs]
            textured[i] = _texture(frames[i])[ys, xs] >= TEXTURE_MIN
            magnitudes.append(mag[::2, ::2].ravel())
        fit = fit_background(grid, gx, gy, dt, textured, shape)
        params, model = fit.params, fit.model
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
            own_fraction=fit.own.mean(axis=1),
            grid=grid,
            own=fit.own,
            textured=textured.mean(axis=1),
            points=(gx, gy),
        )
        return stats, np.concatenate(magnitudes)

    # -- clip-level signals ---------------------------------------------------------------------

    def _measure(
        self, clip: ClipSamples, s: _PairStats, mags: np.ndarray, frames: list[np.ndarray]
    ) -> Measurement:
        pairs = len(s.dt)
        frozen = (s.moving < FROZEN_MOVING) & (s.luma < FROZEN_LUMA)
        rigid = ~frozen & (s.model_speed >= STILL_SPEED) & (s.own_fraction < RIGID_OWN_FRACTION)
        # Camera motion is measured on continuous pairs only: a jump inside the clip (a cut, a
        # slideshow change, a flash) has no camera motion, and its garbage flow would read as one;
        # an isolated spike of luma change is a jump too (camera motion never changes that fast).
        padded = np.pad(s.luma, 1, mode="edge")
        spike = s.luma > CUT_LUMA_RATIO * np.maximum(padded[:-2], padded[2:])
        jump = (s.luma > max(CUT_LUMA, CUT_LUMA_RATIO * float(np.median(s.luma)))) & (
            (s.residual > s.model_speed) | (s.own_fraction > UNEXPLAINED) | spike
        )
        shake = _shake(_bridged(s.params[:, :2], ~jump & (s.own_fraction <= UNEXPLAINED)), s.dt)
        # a shaken camera is jitter, never a slideshow: rigid motion counts only when smooth;
        # a held black or white frame (a fade's hold) is no slide
        still = (frozen | (rigid & (shake <= HANDHELD_SHAKE))) & (s.textured >= FLAT_FRAME)
        blend = transitions(still, jump, frames, s.dt)
        # dissolves have no camera motion either; pairs the background fit cannot explain are
        # left out of the camera too, unless they are most of the clip
        continuous = ~jump & ~blend
        reliable = continuous & (s.own_fraction <= UNEXPLAINED)
        camera = _subset(s, reliable if reliable.sum() >= 0.5 * continuous.sum() else continuous)
        floor = camera.dt.size * STILL_SPEED
        fit_residual = float(
            camera.residual.sum() / max(float(camera.grid_speed.sum()), floor, 1e-12)
        )
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
            "slideshow": slideshow_score(still, jump | blend),
            "subject_motion": float(camera.own_fraction.mean()) if camera.dt.size else 0.0,
            "flow_pairs": float(pairs),
        }
        if camera.dt.size:
            gx, gy = s.points
            label, confidence, evidence = classify(
                camera.params, camera.grid, camera.own, gx, gy, shake
            )
            evidence["fit_residual"] = fit_residual
        else:
            label, confidence, evidence = CameraMotion.STATIC, 0.0, {}
        evidence["jump_pairs"] = int(jump.sum())
        evidence["dissolve_pairs"] = int(blend.sum())
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


def _texture(frame: np.ndarray) -> np.ndarray:
    """Mean absolute gradient (grey levels per px) over 5x5 px around each pixel."""
    gx = cv2.Sobel(frame, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(frame, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.blur(np.abs(gx) + np.abs(gy), (5, 5)) * 0.125


def _bridged(translation: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``translation`` with the pairs not kept (jumps, fits that explain little) replaced by
    the kept pairs' values interpolated over their index: a cut is no camera jerk."""
    if keep.all() or not keep.any():
        return np.where(keep[:, None], translation, 0.0)
    index = np.arange(len(keep))
    return np.stack([np.interp(index, index[keep], translation[keep, k]) for k in range(2)], axis=1)


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
        intercept, slope = line_fit(t, path)
        high = path - (intercept + slope * t[:, None])
    else:
        return 0.0
    return float(np.sqrt(np.mean(np.sum(high**2, axis=1))))
