"""Overlays drawn with OpenCV (no third-party marks): watermarks and logos fixed in the frame, and
a shop sign drawn into the scene that moves with it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from curation_assets.media.real_kit.frames import _Seq
from curation_assets.media.real_kit.truth import HEIGHT, WIDTH, Watermark


@dataclass(frozen=True)
class _Layer:
    """Colour and coverage (0-1) of a drawn mark over the whole frame, blended at ``alpha``."""

    colour: np.ndarray  # HEIGHT x WIDTH x 3 float32
    mask: np.ndarray  # HEIGHT x WIDTH float32
    alpha: float

    def apply(self, image: np.ndarray) -> np.ndarray:
        weight = (self.mask * self.alpha)[..., None]
        return (image * (1.0 - weight) + self.colour * weight + 0.5).astype(np.uint8)

    @property
    def box(self) -> tuple[int, int, int, int]:
        ys, xs = np.nonzero(self.mask > 0.05)
        return (
            int(xs.min()),
            int(ys.min()),
            int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1),
        )


def _emblem_patch(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A graphic logo without text: a ring around a play triangle with a dot; white and amber."""
    scale = 4  # drawn large and shrunk: smooth edges
    big = size * scale
    colour = np.zeros((big, big, 3), np.uint8)
    mask = np.zeros((big, big), np.uint8)
    centre = (big // 2, big // 2)
    ring_r, ring_t = int(big * 0.44), max(scale, int(big * 0.08))
    triangle = np.int32(
        [[big * 0.40, big * 0.30], [big * 0.40, big * 0.70], [big * 0.72, big * 0.50]]
    )
    for target, value in ((mask, 255), (colour, (250, 250, 250))):
        cv2.circle(target, centre, ring_r, value, ring_t, cv2.LINE_AA)
    cv2.fillPoly(mask, [triangle], 255, cv2.LINE_AA)
    cv2.fillPoly(colour, [triangle], (255, 176, 32), cv2.LINE_AA)
    dot = (int(big * 0.30), int(big * 0.50))
    cv2.circle(mask, dot, int(big * 0.05), 255, -1, cv2.LINE_AA)
    cv2.circle(colour, dot, int(big * 0.05), (250, 250, 250), -1, cv2.LINE_AA)
    colour = cv2.resize(colour, (size, size), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
    return colour.astype(np.float32), mask.astype(np.float32) / 255.0


def _text_patch(text: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """White text with a dark outline (how logos and stamps are burned in), ``height`` px tall."""
    font = cv2.FONT_HERSHEY_DUPLEX
    scale = height / cv2.getTextSize("X", font, 1.0, 1)[0][1]
    thick = max(1, int(round(height / 9)))
    outline = thick + max(2, int(round(height / 10)))
    (tw, th), base = cv2.getTextSize(text, font, scale, outline)
    pad = outline + 2
    w, h = tw + 2 * pad, th + base + 2 * pad
    colour = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    origin = (pad, pad + th)
    cv2.putText(mask, text, origin, font, scale, 255, outline, cv2.LINE_AA)
    cv2.putText(colour, text, origin, font, scale, (20, 20, 20), outline, cv2.LINE_AA)
    cv2.putText(colour, text, origin, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    ys, xs = np.nonzero(mask)
    crop = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return colour[crop].astype(np.float32), mask[crop].astype(np.float32) / 255.0


def _layer(patch: tuple[np.ndarray, np.ndarray], where: str, alpha: float, margin: int = 14):
    """``patch`` placed in a corner (top_left, top_right, bottom_left, bottom_right) or the
    centre of the frame, as a full-frame ``_Layer``."""
    colour_p, mask_p = patch
    h, w = mask_p.shape
    x = {"left": margin, "right": WIDTH - margin - w}.get(where.split("_")[-1], (WIDTH - w) // 2)
    y = {"top": margin, "bottom": HEIGHT - margin - h}.get(where.split("_")[0], (HEIGHT - h) // 2)
    colour = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    colour[y : y + h, x : x + w] = colour_p
    mask[y : y + h, x : x + w] = mask_p
    return _Layer(colour, mask, alpha)


def _watermarked(seq: _Seq, kind: str, where: str, alpha: float, size: int, text: str = ""):
    patch = _emblem_patch(size) if kind == "emblem" else _text_patch(text, size)
    layer = _layer(patch, where, alpha)
    placement = "centre" if where == "centre" else "corner"
    return seq.overlay(layer), Watermark(layer.box, kind, alpha, placement)


def _scene_sign() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Draws a shop-sign-like plate (emblem + "CAFE") into Big Buck Bunny's scene, fixed to its
    background: it moves with the scene when the camera moves (not a watermark)."""
    emblem_c, emblem_m = _emblem_patch(44)
    text_c, text_m = _text_patch("CAFE", 26)
    h = 56
    w = 10 + 44 + 8 + text_m.shape[1] + 10
    plate = np.zeros((h, w, 3), np.float32)
    plate[:] = (90, 40, 30)
    for c, m, x in ((emblem_c, emblem_m, 10), (text_c, text_m, 62)):
        y = (h - m.shape[0]) // 2
        region = plate[y : y + m.shape[0], x : x + m.shape[1]]
        region[:] = region * (1 - m[..., None]) + c * m[..., None]
    plate = plate.astype(np.uint8)

    def draw(image: np.ndarray, centre: np.ndarray) -> np.ndarray:
        # on the stone at the right of the scene, 150 px right and 20 px below the view centre
        x, y = int(round(centre[0] + 150 - w / 2)), int(round(centre[1] + 20 - h / 2))
        image[y : y + h, x : x + w] = plate
        return image

    return draw
