"""Burned-in text of a clip (subtitles, titles, watermarks), from the PP-OCR v4 detector.

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").
Measured on the synthetic clips of ``curation_assets_tests/signals/test_visual.py`` (4.5 s;
samples of 2 fps, short side <= 256):

==================  ===============  =========  ===================================================
signal              scorer           range      meaning; measured
==================  ===============  =========  ===================================================
text_area           text_overlay_    0-1        share of PP-OCR det pixels with p > 0.3, worst of
                    ppocr_det                   3 frames; clean 0.000, subtitles 0.046, title 0.092
text_frames         text_overlay_    0-1        share of those frames with text_area > 0.01
                    ppocr_det
text_box_area       text_overlay_    0-1        share of the frame inside the text boxes (each
                    ppocr_det                   detection grown as PP-OCR's DB post-processing
                                                does, unclip ratio 1.5), worst of 3 frames
==================  ===============  =========  ===================================================

``text_area`` counts the detector's pixels, which cover only the strokes: a 12 %-high title on a
real photo reads 0.03, a 7 % news bar 0.02. ``text_box_area`` measures the boxes around the text,
what a person sees as "covered by text": on the real-photo cases of ``media/image_cases.py``
(``benchmarks/image_judgments.py``) captions of 5-8 % of the image height read 0.014-0.073,
titles, news bars and sale banners 0.035-0.094, memes 0.10-0.20; clean photos 0.000-0.001, except
scikit-image's clock (its numerals, 0.147).

A clip with no rgb samples gets no scores (stored as "not scored", never as a pass).
"""

from __future__ import annotations

import cv2
import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.frame_spread import spread
from curation_assets.signals.ocr_model import text_detector


class TextOverlayAnalyzer(ClipAnalyzer):
    """Burned-in text (subtitles, titles, watermarks) by the PP-OCR v4 detector's probability map.

    ``text_area`` is the share of the detector's input pixels above ``threshold`` in the worst
    sampled frame (a subtitle on one frame of three is still a subtitle); ``text_box_area`` the
    share inside the boxes around them (see the module docstring).
    """

    name = "text_overlay_ppocr_det"
    version = "2:boxes-unclip1.5"
    order = 30
    declares = (
        Signal(
            "text_area",
            "share of the frame covered by burned-in text (PP-OCR detector) in the worst sample",
            unit="share of frame",
            better="lower",
            range=(0.0, 1.0),
            gate=(None, 0.08),
            plot_in_subsets=True,
            export=5,
        ),
        Signal(
            "text_box_area",
            "share of the frame inside the boxes around the detected text, in the worst sample",
            unit="share of frame",
            better="lower",
            range=(0.0, 1.0),
            gate=(None, 0.02),
        ),
        Signal(
            "text_frames",
            "share of the sampled frames that show text",
            unit="share of samples",
            better="lower",
            range=(0.0, 1.0),
        ),
    )

    @classmethod
    def from_config(cls, cfg):
        return cls(frames=cfg.visual.ocr_frames, threads=cfg.visual.ocr_threads)

    def __init__(
        self, frames: int = 3, threads: int = 1, threshold: float = 0.3, area: int = 320 * 192
    ) -> None:
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {threshold}")
        self.frames, self.threads, self.threshold, self.area = frames, threads, threshold, area

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        detector = text_detector(self.threads)
        masks = [
            detector.probability(clip.rgb[i], self.area) > self.threshold
            for i in spread(len(clip.rgb), self.frames)
        ]
        areas = [float(mask.mean()) for mask in masks]
        return Measurement(
            scores={
                "text_area": max(areas),
                "text_box_area": max(box_area(mask) for mask in masks),
                "text_frames": float(np.mean([a > 0.01 for a in areas])),
            }
        )


def box_area(mask: np.ndarray, unclip: float = 1.5, min_pixels: int = 3) -> float:
    """Share of the map inside the boxes of its text regions, each grown on every side by
    area * unclip / perimeter, as PP-OCR's DB post-processing grows a shrunk text kernel back
    to the text's extent."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    boxes = np.zeros(mask.shape, dtype=bool)
    for x, y, w, h, pixels in stats[1:count]:
        if pixels < min_pixels:
            continue
        grow = int(round(pixels * unclip / (2 * (w + h))))
        boxes[max(0, y - grow) : y + h + grow, max(0, x - grow) : x + w + grow] = True
    return float(boxes.mean())
