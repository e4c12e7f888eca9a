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
==================  ===============  =========  ===================================================

A clip with no rgb samples gets no scores (stored as "not scored", never as a pass).
"""

from __future__ import annotations

import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.frame_spread import spread
from curation_assets.signals.ocr_model import text_detector


class TextOverlayAnalyzer(ClipAnalyzer):
    """Burned-in text (subtitles, titles, watermarks) by the PP-OCR v4 detector's probability map.

    ``text_area`` is the share of the detector's input pixels above ``threshold`` in the worst
    sampled frame (a subtitle on one frame of three is still a subtitle).
    """

    name = "text_overlay_ppocr_det"
    version = "1"
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
        areas = [
            float((detector.probability(clip.rgb[i], self.area) > self.threshold).mean())
            for i in spread(len(clip.rgb), self.frames)
        ]
        return Measurement(
            scores={
                "text_area": max(areas),
                "text_frames": float(np.mean([a > 0.01 for a in areas])),
            }
        )
