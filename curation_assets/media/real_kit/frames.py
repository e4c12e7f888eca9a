"""Frames of the kit: a crop window over a real image (ramps, jitter, noise), sequences of frames
and how they join (cuts, dissolves, fades, wipes), and the real shots the cases are made of."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from curation_assets.media.real_kit.sources import _Sources
from curation_assets.media.real_kit.truth import HEIGHT, WIDTH, Transition
from curation_assets.same_bits import matmul

if TYPE_CHECKING:
    from curation_assets.media.real_kit.overlays import _Layer


# -- frames: a crop window over a real image ---------------------------------------------------


def _view(image: np.ndarray, cx: float, cy: float, w: float, angle: float = 0.0) -> np.ndarray:
    """The WIDTH x HEIGHT view of a window ``w`` source px wide (16:9) centred at (cx, cy),
    turned ``angle`` degrees. The window must lie inside the image: no invented pixels."""
    s = w / WIDTH
    a = math.radians(angle)
    c, si = math.cos(a) * s, math.sin(a) * s
    matrix = np.float64(
        [
            [c, -si, cx - c * WIDTH / 2 + si * HEIGHT / 2],
            [si, c, cy - si * WIDTH / 2 - c * HEIGHT / 2],
        ]
    )
    corners = matmul(
        matrix, np.float64([[0, WIDTH - 1, 0, WIDTH - 1], [0, 0, HEIGHT - 1, HEIGHT - 1], [1] * 4])
    )
    h, wi = image.shape[:2]
    if corners.min() < -1.0 or corners[0].max() > wi or corners[1].max() > h:
        raise ValueError(
            f"window {w:.0f} px at ({cx:.1f}, {cy:.1f}), {angle:.2f} deg leaves the {wi}x{h} image"
        )
    return cv2.warpAffine(
        image,
        matrix.astype(np.float32),
        (WIDTH, HEIGHT),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _ramp(i: int, n: int, start: float, end: float, geometric: bool = False) -> float:
    p = i / max(1, n - 1)
    if geometric:
        return start * (end / start) ** p
    return start + (end - start) * p


def _jitter(n: int, sigma: float, rot_sigma: float, seed: int) -> np.ndarray:
    """(n, 3) handheld shake: dx, dy (fractions of the window width) and roll (degrees),
    zero-mean normal steps lightly smoothed over time (like ``synthetic``'s shake)."""
    raw = np.random.default_rng(seed).normal(0.0, 1.0, (n + 2, 3)) * [sigma, sigma, rot_sigma]
    return 0.25 * raw[:-2] + 0.5 * raw[1:-1] + 0.25 * raw[2:]


def _noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    noise *= sigma
    noise += image
    return np.clip(noise, 0, 255, out=noise).astype(np.uint8)


def _pan_offset(n: int, travel: float, sign: int) -> Callable[[int], tuple[float, float]]:
    return lambda k: (sign * _ramp(k, n, -travel / 2, travel / 2), 0.0)


# -- sequences and how they join ----------------------------------------------------------------


@dataclass(frozen=True)
class _Seq:
    """``n`` frames made on demand by ``frame(i)``, with the cuts and transitions inside."""

    n: int
    frame: Callable[[int], np.ndarray]
    cuts: tuple[int, ...] = ()
    transitions: tuple[Transition, ...] = ()

    def frames(self) -> Iterable[np.ndarray]:
        return (self.frame(i) for i in range(self.n))

    def then(self, nxt: _Seq, kind: str = "cut", d: int = 0, hold: int = 0) -> _Seq:
        """This sequence followed by ``nxt``: a hard cut, a ``dissolve`` or ``wipe`` over ``d``
        frames (both shots overlap), or a ``fade_black`` / ``fade_white``: ``d`` frames out,
        ``hold`` frames of the colour, ``d`` frames in."""
        a, b = self, nxt
        if kind == "cut":
            return _Seq(
                a.n + b.n,
                lambda i: a.frame(i) if i < a.n else b.frame(i - a.n),
                a.cuts + (a.n,) + tuple(c + a.n for c in b.cuts),
                a.transitions + _shift(b.transitions, a.n),
            )
        if not 0 < d <= min(a.n, b.n):
            raise ValueError(f"transition of {d} frames between shots of {a.n} and {b.n}")
        if kind in ("dissolve", "wipe"):
            start = a.n - d

            def mixed(i: int) -> np.ndarray:
                if i < start:
                    return a.frame(i)
                if i >= a.n:
                    return b.frame(i - start)
                k = i - start
                alpha = (k + 1) / (d + 1)
                first, second = a.frame(i), b.frame(k)
                if kind == "dissolve":
                    return cv2.addWeighted(first, 1 - alpha, second, alpha, 0)
                edge = int(round(WIDTH * alpha))  # the next shot slides in from the left
                out = first.copy()
                out[:, :edge] = second[:, :edge]
                return out

            return _Seq(
                a.n + b.n - d,
                mixed,
                a.cuts + tuple(c + start for c in b.cuts),
                a.transitions + (Transition(start, a.n, kind),) + _shift(b.transitions, start),
            )
        if kind in ("fade_black", "fade_white"):
            colour = np.full((HEIGHT, WIDTH, 3), 0 if kind == "fade_black" else 255, np.uint8)
            start, offset = a.n - d, a.n + hold

            def faded(i: int) -> np.ndarray:
                if i < start:
                    return a.frame(i)
                if i < a.n:
                    alpha = (i - start + 1) / (d + 1)
                    return cv2.addWeighted(a.frame(i), 1 - alpha, colour, alpha, 0)
                if i < offset:
                    return colour.copy()
                k = i - offset
                if k < d:
                    alpha = (d - k) / (d + 1)
                    return cv2.addWeighted(b.frame(k), 1 - alpha, colour, alpha, 0)
                return b.frame(k)

            return _Seq(
                a.n + hold + b.n,
                faded,
                a.cuts + tuple(c + offset for c in b.cuts),
                a.transitions
                + (Transition(start, offset + d, kind),)
                + _shift(b.transitions, offset),
            )
        raise ValueError(f"unknown join {kind!r}")

    def overlay(self, layer: _Layer) -> _Seq:
        return replace(self, frame=lambda i: layer.apply(self.frame(i)))


def _shift(transitions: tuple[Transition, ...], by: int) -> tuple[Transition, ...]:
    return tuple(Transition(t.start + by, t.end + by, t.kind) for t in transitions)


def _chain(first: _Seq, *steps: tuple) -> _Seq:
    """``first`` then each (kind, d, hold, seq) / (seq,) step in turn."""
    out = first
    for step in steps:
        if len(step) == 1:
            out = out.then(step[0])
        else:
            kind, d, hold, seq = step
            out = out.then(seq, kind, d, hold)
    return out


# -- real shots ---------------------------------------------------------------------------------


def _bunny(
    src: _Sources,
    start: int = 0,
    stop: int = 132,
    w: float | Callable[[int], float] = 576,
    offset: Callable[[int], tuple[float, float]] = lambda k: (0.0, 0.0),
    angle: Callable[[int], float] = lambda k: 0.0,
    scene: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> _Seq:
    """Big Buck Bunny frames start..stop-1 through a window that follows its background (a
    static camera), moved by ``offset(k)`` px and sized ``w`` px (640x360 source), frame k of
    the sequence. ``scene(image, centre)`` draws into the scene before the window."""

    def frame(k: int) -> np.ndarray:
        i = start + k
        centre = src.bunny_centres[i]
        image = src.bunny[i] if scene is None else scene(src.bunny[i].copy(), centre)
        dx, dy = offset(k)
        width = w(k) if callable(w) else w
        return _view(image, centre[0] + dx, centre[1] + dy, width, angle(k))

    return _Seq(stop - start, frame)


def _bikes(src: _Sources, start: int, stop: int, cx: float = 320, w: float = 480) -> _Seq:
    """bikes.mp4 frames start..stop-1 through a fixed window (480 px wide: a 1:1 crop)."""
    return _Seq(stop - start, lambda k: _view(src.bikes[start + k], cx, 136, w))


def _bikes_pan(src: _Sources, w: float = 448, jitter: np.ndarray | None = None) -> _Seq:
    """bikes.mp4's shot 187-241 as filmed (the camera moves right), optionally shaken."""

    def frame(k: int) -> np.ndarray:
        cx, cy, angle = 320.0, 136.0, 0.0
        if jitter is not None:
            cx, cy, angle = cx + jitter[k, 0] * w, cy + jitter[k, 1] * w, jitter[k, 2]
        return _view(src.bikes[187 + k], cx, cy, w, angle)

    return _Seq(55, frame)


def _carphone(src: _Sources, start: int = 0, stop: int = 100) -> _Seq:
    """The carphone sequence (25 fps), a 16:9 band around the face, upscaled 2.7x."""

    def frame(k: int) -> np.ndarray:
        image = src.carphone[start + k]
        band = image[6:105]  # 176x99: hair to bow tie
        return cv2.resize(band, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)

    return _Seq(stop - start, frame)


def _photo(
    src: _Sources,
    name: str,
    n: int,
    first: tuple[float, float, float],
    last: tuple[float, float, float] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    geometric: bool = True,
    jitter: np.ndarray | None = None,
) -> _Seq:
    """A still (covering 560x315) seen through a window moving from ``first`` to ``last``
    (cx, cy, w); ``noise``: sensor noise sigma (grey levels), seeded per frame."""
    last = last or first

    def frame(k: int) -> np.ndarray:
        cx = _ramp(k, n, first[0], last[0])
        cy = _ramp(k, n, first[1], last[1])
        w = _ramp(k, n, first[2], last[2], geometric)
        angle = 0.0
        if jitter is not None:
            cx, cy, angle = cx + jitter[k, 0] * w, cy + jitter[k, 1] * w, jitter[k, 2]
        image = _view(src.still(name), cx, cy, w, angle)
        if noise:
            image = _noisy(image, noise, np.random.default_rng([seed, k]))
        return image

    return _Seq(n, frame)


def _held(src: _Sources, name: str, n: int) -> _Seq:
    """A still held for ``n`` frames (a slideshow slide): the centred 480 px crop."""
    image = src.still(name)
    view = _view(image, image.shape[1] / 2, image.shape[0] / 2, 480)
    return _Seq(n, lambda k: view)
