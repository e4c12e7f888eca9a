"""Frames of one synthetic shot (``synthetic.Shot``), rendered deterministically.

Every shot is a crop window moving over its own random texture; by default consecutive shots use
far-apart hues and brightness, so a hard cut is unambiguous while motion inside a shot stays smooth.
A shot may pin its ``hue`` and ``value`` (brightness) to look like its neighbour: the cut is still a
real hard cut (a different texture), only harder to see for a colour-based detector.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from curation_assets.same_bits import matvec

if TYPE_CHECKING:
    from curation_assets.media.synthetic import Shot


@contextlib.contextmanager
def baseline_opencv() -> Iterator[None]:
    """OpenCV's plain code paths only: its SIMD kernels are chosen per CPU (AVX2, AVX-512 ...)
    and round differently (cubic resize, HSV->RGB and blends differ by 1 level between them), so
    the same spec rendered on another machine gave other pixels, other files and other lineage.
    Process-wide in OpenCV, so it is put back afterwards."""
    optimized, ipp = cv2.useOptimized(), cv2.ipp.useIPP()
    cv2.setUseOptimized(False)
    cv2.ipp.setUseIPP(False)
    try:
        yield
    finally:
        cv2.ipp.setUseIPP(ipp)
        cv2.setUseOptimized(optimized)


@dataclass
class _Scene:
    texture: np.ndarray
    motion: str
    rng: np.random.Generator = field(repr=False)
    stills: list[np.ndarray] = field(default_factory=list)  # slideshow only
    shake: np.ndarray | None = None  # per-frame (dx, dy) offsets, shake only


def make_texture(
    seed: int, width: int, height: int, hue: int | None = None, value: int | None = None
) -> np.ndarray:
    """A smooth, contrasty texture of one dominant hue, 2x the frame so a window can move."""
    with baseline_opencv():
        return _texture(seed, width, height, hue, value)


def _texture(seed: int, width: int, height: int, hue: int | None, value: int | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    big_w, big_h = width * 2, height * 2
    coarse = rng.random((max(4, big_h // 24), max(4, big_w // 24), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    if hue is None:
        hue = (seed * 47) % 180  # OpenCV hue range; neighbouring seeds land far apart
    hsv = np.empty((big_h, big_w, 3), np.uint8)
    hsv[..., 0] = (hue + smooth[..., 0] * 20).astype(np.uint8) % 180
    hsv[..., 1] = (120 + smooth[..., 1] * 135).clip(0, 255).astype(np.uint8)
    base_value = 60 + (seed * 71) % 140 if value is None else value
    hsv[..., 2] = (base_value + (smooth[..., 2] - 0.5) * 110).clip(10, 255).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    # A few hard-edged shapes give texture detail for sharpness and flow.
    for _ in range(12):
        x, y = int(rng.integers(0, big_w)), int(rng.integers(0, big_h))
        r = int(rng.integers(4, max(6, min(width, height) // 6)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(rgb, (x, y), r, colour, -1)
    return rgb


def _camera(scene: _Scene, i: int, n: int, width: int, height: int):
    """(centre x, centre y, window scale, rotation deg) on the 2x texture for frame ``i``."""
    p = i / max(1, n - 1)
    cx, cy, scale, angle = float(width), float(height), 1.0, 0.0
    m = scene.motion
    if m == "drift":
        cx, cy = width * (0.5 + 0.4 * p), height * (0.5 + 0.4 * p)
    elif m in ("pan_right", "pan_left"):
        cx = width * (0.5 + (p if m == "pan_right" else 1 - p))
    elif m in ("tilt_down", "tilt_up"):
        cy = height * (0.5 + (p if m == "tilt_down" else 1 - p))
    elif m in ("zoom_in", "zoom_out"):
        scale = 1.8 - 0.8 * p if m == "zoom_in" else 1.0 + 0.8 * p
    elif m == "roll":
        scale, angle = 1.3, 30.0 * p
    elif m == "shake" and scene.shake is not None:
        cx, cy = cx + scene.shake[i, 0] * width, cy + scene.shake[i, 1] * height
    return cx, cy, scale, angle


def _view(texture: np.ndarray, camera, width: int, height: int) -> np.ndarray:
    cx, cy, scale, angle = camera
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * scale
    offset = np.array([cx, cy]) - matvec(rot, np.array([width / 2.0, height / 2.0]))
    matrix = np.hstack([rot, offset[:, None]])
    return cv2.warpAffine(
        texture,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def _slideshow_frame(scene: _Scene, i: int, n: int, width: int, height: int, fps: int):
    hold, fade = 2.0 * fps, 0.5 * fps
    period = hold + fade
    k = int(i // period)
    into = i - k * period
    window = (slice(height // 2, height // 2 + height), slice(width // 2, width // 2 + width))
    frame = scene.stills[min(k, len(scene.stills) - 1)][window]
    if into < hold or k + 1 >= len(scene.stills):
        return frame
    second = scene.stills[k + 1][window]
    alpha = (into - hold) / fade
    return cv2.addWeighted(frame, 1 - alpha, second, alpha, 0)


def _ball(image: np.ndarray, i: int, n: int, k: int) -> None:
    h, w = image.shape[:2]
    p = i / max(1, n - 1)
    x = int(w * (0.15 + 0.7 * p))
    y = int(h * (0.5 + 0.3 * math.sin(2 * math.pi * (p + k / 3))))
    cv2.circle(image, (x, y), max(3, min(w, h) // 10), (250, 250, 240), -1)
    cv2.circle(image, (x, y), max(2, min(w, h) // 20), (200, 30, 30), -1)


def _apply_effects(image: np.ndarray, effects: tuple[str, ...], i: int) -> np.ndarray:
    h, w = image.shape[:2]
    for effect in effects:
        name, _, arg = effect.partition(":")
        if name == "text":
            scale = h / 180
            for row, line in enumerate(("BREAKING NEWS 24/7", "SUBTITLE TEXT HERE")):
                y = int(h * (0.78 + 0.11 * row))
                # white subtitle text with a black outline, as broadcasters draw it
                for colour, thickness in (
                    ((0, 0, 0), max(2, int(5 * scale))),
                    ((255, 255, 255), max(1, int(2 * scale))),
                ):
                    cv2.putText(
                        image,
                        line,
                        (int(w * 0.06), y),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.62 * scale,
                        colour,
                        thickness,
                        cv2.LINE_AA,
                    )
        elif name == "title":
            scale = h / 180
            cv2.putText(
                image,
                "TITLE",
                (int(w * 0.12), int(h * 0.6)),
                cv2.FONT_HERSHEY_DUPLEX,
                2.6 * scale,
                (255, 255, 255),
                max(2, int(6 * scale)),
                cv2.LINE_AA,
            )
        elif name == "letterbox":
            bar = int(round(h * float(arg)))
            image[:bar] = 0
            image[h - bar :] = 0
        elif name == "pillarbox":
            bar = int(round(w * float(arg)))
            image[:, :bar] = 0
            image[:, w - bar :] = 0
        elif name == "blur":
            image = cv2.GaussianBlur(image, (0, 0), float(arg))
        elif name in ("dark", "bright"):
            image = cv2.convertScaleAbs(image, alpha=float(arg))
        elif name == "noise":
            rng = np.random.default_rng(i)
            noise = rng.normal(0, float(arg), image.shape)
            image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        else:
            raise ValueError(f"unknown effect {effect!r}")
    return image


def render_shot(shot: Shot, seed: int, count: int, width: int, height: int, fps: int):
    """Yield the RGB frames of one shot (deterministic: the same pixels on any machine)."""
    with baseline_opencv():
        texture = make_texture(seed, width, height, shot.hue, shot.value)
        scene = _Scene(texture, shot.motion, np.random.default_rng(seed))
        if shot.motion == "slideshow":
            stills = 1 + int(count / (2.5 * fps)) + 1
            scene.stills = [make_texture(seed * 31 + k, width, height) for k in range(stills)]
    if shot.motion == "shake":
        # handheld: zero-mean jitter of a few % of the frame, lightly smoothed over time
        raw = scene.rng.normal(0, 0.04, (count + 2, 2))
        scene.shake = 0.25 * raw[:-2] + 0.5 * raw[1:-1] + 0.25 * raw[2:]
    for i in range(count):
        with baseline_opencv():  # not across the yield: the caller's OpenCV stays as it was
            if shot.motion == "slideshow":
                image = np.array(_slideshow_frame(scene, i, count, width, height, fps))
            else:
                image = _view(texture, _camera(scene, i, count, width, height), width, height)
                for k in range(shot.objects):
                    _ball(image, i, count, k)
            frame = np.ascontiguousarray(_apply_effects(image, shot.effects, i))
        yield frame
