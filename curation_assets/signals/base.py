"""One interface for every family of clip analyzers (visual, motion, content).

An analyzer reads only the samples of the single decode pass (``ClipSamples``), never the video,
and returns raw measurements. Thresholds are not its business: they live in curation.yaml and are
applied to the stored scores afterwards (score once, select many). Like PySceneDetect's
detectors, each analyzer declares the signals it produces.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass
class ClipSamples:
    """What an analyzer sees of one clip: its window of the stored samples, plus video facts."""

    clip_id: str
    video_id: str
    start_s: float
    end_s: float
    width: int  # display size of the source video (after rotation)
    height: int
    fps: float
    rgb_times: np.ndarray  # seconds, inside [start_s, end_s)
    rgb: list[np.ndarray]  # RGB uint8, display orientation, short side <= samples.rgb_short_side
    grey_times: np.ndarray
    grey: np.ndarray  # (n, h, w) uint8 shrunken luma, display orientation
    frame_times: np.ndarray  # every decoded frame inside the clip
    luma_delta: np.ndarray  # mean |change| of shrunken luma per frame, aligned with frame_times
    source_shots_per_s: float  # detected shots per second of the whole source video

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Label:
    kind: str  # e.g. "camera_motion", "orientation", "resolution_tier"
    label: str
    confidence: float | None = None


@dataclass
class Measurement:
    scores: dict[str, float]
    labels: list[Label] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)  # e.g. "keyframe": (t, rgb image)


class ClipAnalyzer(ABC):
    """Subclasses set ``name`` (stored as ``scorer``), ``version`` and the ``signals`` they emit;
    ``ranges`` bounds what a signal can be (checked by the asset checks), None = open."""

    name: ClassVar[str]
    version: ClassVar[str]
    signals: ClassVar[tuple[str, ...]]
    ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {}
    uses_rgb: ClassVar[bool] = True  # False: only grey samples, the RGB JPEGs are not decoded
    # False: it measures change over time (motion, a mark fixed while the picture moves), so
    # one still image cannot show it: the runner does not run it on an image
    still_images: ClassVar[bool] = True

    @abstractmethod
    def analyze(self, clip: ClipSamples) -> Measurement:
        """Raw measurements for one clip. Raise only for a bug; a bad clip is a measurement."""
