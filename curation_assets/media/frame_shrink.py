"""Small frames for the decode pass, shrunk straight from a frame's Y/U/V planes.

Why the code looks the way it does (``benchmarks/decode_once.py``): swscale
(``VideoFrame.reformat``) and OpenCV's general ``INTER_AREA`` each cost about as much as decoding
a 720p frame, while OpenCV's exact 2x2 area halving is ~10x cheaper. So planes are halved until
less than 2x too big and finished with one bilinear step (see ``shrink_into``), written into
reused buffers (``I420Buffer``).
"""

from __future__ import annotations

import av
import cv2
import numpy as np

# 8-bit planar YUV: shrunk straight from the planes (any chroma subsampling). Anything else
# (10-bit, semi-planar, RGB, grey) goes through swscale once, to a small yuv420p frame.
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(width, height))
    return _even(width * scale), _even(height * scale)


def _view(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """A plane as a NumPy view (no copy); rows are ``line_size`` long, so cut the padding."""
    buf = np.frombuffer(plane, dtype=np.uint8)
    return buf.reshape(-1, plane.line_size)[: plane.height, : plane.width]


def shrink_into(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Area-average the 2-D ``src`` down into ``dst`` (written in place, also returned).

    Exact 2x2 halvings (OpenCV's SIMD path for INTER_AREA at factor 2, ~10x cheaper than its
    general INTER_AREA) while ``src`` is at least twice too big, then one bilinear step of less
    than 2x. Every source pixel is averaged in, so nothing aliases; the result is within ~0.5
    grey levels of INTER_AREA on average, a little softer at odd factors (720p -> 144p: Laplacian
    variance ~15% lower), which sharpness thresholds calibrated on these samples absorb.
    """
    h, w = dst.shape
    while src.shape[0] >= 2 * h and src.shape[1] >= 2 * w:
        sh, sw = src.shape
        # odd sides: bilinear at 2x is the same 2x2 average, off by half a pixel
        mode = cv2.INTER_AREA if sh % 2 == 0 and sw % 2 == 0 else cv2.INTER_LINEAR
        src = cv2.resize(src, (sw // 2, sh // 2), interpolation=mode)
    if src.shape == dst.shape:
        np.copyto(dst, src)
        return dst
    return cv2.resize(src, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)


class I420Buffer:
    """A reusable small I420 image: Y (h x w) followed by U and V (h/2 x w/2), one buffer."""

    def __init__(self, size: tuple[int, int]) -> None:
        w, h = size  # both even (see _even)
        self.size = size
        self.packed = np.empty((h * 3 // 2, w), np.uint8)  # what cvtColor(..._I420) reads
        flat = self.packed.reshape(-1)
        quarter = (w // 2) * (h // 2)
        self.y = flat[: w * h].reshape(h, w)
        self.u = flat[w * h : w * h + quarter].reshape(h // 2, w // 2)
        self.v = flat[w * h + quarter :].reshape(h // 2, w // 2)

    def fill(self, frame: av.VideoFrame) -> I420Buffer:
        """Shrink ``frame`` into this buffer: from its planes, or via swscale for odd formats."""
        if frame.format.name not in _PLANAR_8BIT:
            w, h = self.size
            frame = frame.reformat(width=w, height=h, format="yuv420p", interpolation="AREA")
        y, u, v = frame.planes
        shrink_into(_view(y), self.y)
        shrink_into(_view(u), self.u)
        shrink_into(_view(v), self.v)
        return self


def upright_copy(image: np.ndarray, rotation: int) -> np.ndarray:
    """A kept copy in display orientation (``rotation``: counter-clockwise degrees).

    Always a fresh array: the small frames are reused buffers.
    """
    return np.ascontiguousarray(np.rot90(image, k=rotation // 90)) if rotation else image.copy()
