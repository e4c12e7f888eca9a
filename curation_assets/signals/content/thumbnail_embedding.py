"""An OFFLINE stand-in for semantic clip embeddings (layout and colour, no meaning), so concept
clustering runs without model weights.

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").
Vectors go to ``Measurement.artifacts["vectors"]`` as ``{name: 1-D array}``; the runner stores
them per shard for the global near-duplicate and concept assets.

=================  ====================  ======  ==============================================
signal / vector    scorer                range   meaning
=================  ====================  ======  ==============================================
thumbnail_         thumbnail_embedding   unit    OFFLINE stand-in for semantic embeddings:
embedding (vec)                                  16x9 grey thumbnail + coarse HSV histogram
=================  ====================  ======  ==============================================

Measured (``curation_assets_tests/signals/test_content.py``; samples short side 256, 2 cores):
- thumbnail_embedding cosine to the original: copies 0.986-0.999, other scenes 0.18-0.23. ~3 ms.

A clip with no rgb samples gets no scores and no vectors (stored as "not scored").
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from curation_assets.same_bits import norm
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement
from curation_assets.signals.frame_spread import spread

THUMB_SIZE = (16, 9)  # (w, h); portrait frames are squeezed, the vector length stays fixed
HSV_BINS = (8, 3, 3)


def thumbnail_embedding(images: Sequence[np.ndarray]) -> np.ndarray:
    """Unit vector: mean zero-mean/unit-norm 16x9 grey thumbnail (layout) and a Hellinger
    (square-rooted) HSV histogram (colour), each weighted 1/sqrt(2)."""
    layout = np.zeros(THUMB_SIZE[0] * THUMB_SIZE[1], np.float64)
    hist = np.zeros(int(np.prod(HSV_BINS)), np.float64)
    for image in images:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        thumb = cv2.resize(grey, THUMB_SIZE, interpolation=cv2.INTER_AREA).astype(np.float64)
        thumb = thumb.reshape(-1) - thumb.mean()
        length = norm(thumb)
        layout += thumb / length if length > 1e-9 else thumb
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        h = cv2.calcHist([hsv], [0, 1, 2], None, list(HSV_BINS), [0, 180, 0, 256, 0, 256])
        hist += h.reshape(-1) / max(1.0, float(h.sum()))
    parts = []
    for part in (layout, np.sqrt(hist / max(1, len(images)))):
        length = norm(part)
        parts.append(part / length if length > 1e-9 else part)
    vector = np.concatenate(parts) / np.sqrt(2.0)
    length = norm(vector)
    return (vector / length if length > 1e-9 else vector).astype(np.float32)


class ThumbnailEmbeddingAnalyzer(ClipAnalyzer):
    """OFFLINE stand-in for semantic embeddings (layout + colour, no meaning): lets concept
    clustering run without model weights. Stored under its own name, never as CLIP."""

    name = "thumbnail_embedding"
    version = "1:grey16x9+hsv8x3x3"
    order = 20

    def __init__(self, frames: int = 3) -> None:
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames = frames

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        images = [clip.rgb[i] for i in spread(len(clip.rgb), self.frames)]
        return Measurement(
            scores={}, artifacts={"vectors": {"thumbnail_embedding": thumbnail_embedding(images)}}
        )
