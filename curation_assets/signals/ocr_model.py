"""PP-OCR v4 text *detection*, run straight through onnxruntime on small frames.

The model ships inside the ``rapidocr_onnxruntime`` wheel, so it works offline. RapidOCR's own
pipeline resizes every frame to >= 736 px and also recognises the text (~290 ms a frame); a
filter only needs to know how much of the frame is text, so the detector alone is run on a
~320x192 input (docs/architecture.md "Performance notes": ~21-30 ms a frame on this machine).
"""

from __future__ import annotations

import math
import threading
from functools import cache
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

DET_MODEL = "models/ch_PP-OCRv4_det_infer.onnx"
# ImageNet statistics, RGB order (PaddleOCR's detector normalisation). Measured on the synthetic
# clips: clean frames give exactly 0 text pixels this way, RapidOCR's 0.5/0.5 leaves a few.
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)
_lock = threading.Lock()


def det_model_path() -> Path:
    """The detection model file inside the installed ``rapidocr_onnxruntime`` package."""
    path = Path(str(resources.files("rapidocr_onnxruntime").joinpath(DET_MODEL)))
    if not path.is_file():
        raise FileNotFoundError(f"PP-OCR detection model not found at {path}")
    return path


def input_size(width: int, height: int, area: int = 320 * 192) -> tuple[int, int]:
    """(w, h), multiples of 32, about ``area`` pixels, about the frame's aspect ratio.

    16:9 -> 320x192, 9:16 -> 192x320, 1:1 -> 256x256 for the default area.
    """
    aspect = width / height
    w = max(32, int(round(math.sqrt(area * aspect) / 32)) * 32)
    h = max(32, int(round(math.sqrt(area / aspect) / 32)) * 32)
    return w, h


class TextDetector:
    """One onnxruntime session; ``probability(rgb)`` -> per-pixel text probability map."""

    def __init__(self, threads: int = 1, model_path: Path | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(model_path or det_model_path()), options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def probability(self, rgb: np.ndarray, area: int = 320 * 192) -> np.ndarray:
        """Text probability (0-1) per pixel of the resized input, shape (h, w)."""
        h, w = rgb.shape[:2]
        size = input_size(w, h, area)
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        x = (small.astype(np.float32) / 255.0 - _MEAN) / _STD
        x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        return self.session.run(None, {self.input_name: x})[0][0, 0]


@cache
def _cached(threads: int) -> TextDetector:
    return TextDetector(threads)


def text_detector(threads: int = 1) -> TextDetector:
    """The process-wide detector for ``threads`` (created on first use, then reused)."""
    with _lock:
        return _cached(threads)
