"""The faster frame score gives PySceneDetect's own scores and cuts, to the last bit."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scenedetect.common import FrameTimecode
from scenedetect.detectors import AdaptiveDetector, ContentDetector
from scenedetect.stats_manager import StatsManager

from curation_assets.media.detectors import (
    FastAdaptiveDetector,
    FastContentDetector,
    HsvDifferences,
)
from curation_assets.media.synthetic import Shot
from curation_assets.media.synthetic_frames import render_shot


def _frames() -> list[np.ndarray]:
    """Real footage from the kit: pans, zooms, a slideshow and hard cuts between them (BGR)."""
    shots = [Shot(1.0, "pan_right"), Shot(1.0, "zoom_in"), Shot(1.0, "slideshow"), Shot(1.0)]
    out = []
    for k, shot in enumerate(shots):
        out += [f[..., ::-1].copy() for f in render_shot(shot, 7 + k, 24, 170, 96, 24)]
    return out


def _run(detector, frames) -> tuple[list[float], list[int]]:
    scores, cuts = [], []
    rate = Fraction(24)
    for i, frame in enumerate(frames):
        cuts += [c.frame_num for c in detector.process_frame(FrameTimecode(i, rate), frame)]
        scores.append(detector._frame_score)
    cuts += [c.frame_num for c in detector.post_process(FrameTimecode(len(frames) - 1, rate))]
    return scores, cuts


@pytest.mark.parametrize(
    ("fast", "stock", "kwargs"),
    [
        (FastContentDetector, ContentDetector, {"threshold": 27.0, "min_scene_len": 12}),
        (FastContentDetector, ContentDetector, {"threshold": 10.0, "luma_only": True}),
        (FastAdaptiveDetector, AdaptiveDetector, {"adaptive_threshold": 3.0}),
    ],
)
def test_scores_and_cuts_equal_the_stock_detector(fast, stock, kwargs) -> None:
    frames = _frames()
    fast_scores, fast_cuts = _run(fast(**kwargs), frames)
    stock_scores, stock_cuts = _run(stock(**kwargs), frames)
    assert fast_scores == stock_scores  # exact, not approximately
    assert fast_cuts == stock_cuts
    assert stock_cuts  # the kit's hard cuts are found at all


def test_edge_scoring_and_stats_fall_back_to_the_stock_computation() -> None:
    frames = _frames()[:30]
    weights = ContentDetector.Components(1.0, 1.0, 1.0, 1.0)
    assert _run(FastContentDetector(weights=weights), frames) == _run(
        ContentDetector(weights=weights), frames
    )
    fast, stock = FastContentDetector(), ContentDetector()
    fast.stats_manager, stock.stats_manager = StatsManager(), StatsManager()
    assert _run(fast, frames) == _run(stock, frames)


def test_detectors_sharing_one_hsv_difference_score_as_the_stock_ones() -> None:
    """The pass feeds content and adaptive detectors the same frames: one HSV conversion and
    difference per frame serves both, and each still gives the library's own scores and cuts."""
    frames = _frames()
    shared = HsvDifferences()
    content, adaptive = FastContentDetector(min_scene_len=12), FastAdaptiveDetector()
    luma = FastContentDetector(threshold=10.0, luma_only=True)
    detectors = (content, adaptive, luma)
    for detector in detectors:
        detector.differences = shared
    rate = Fraction(24)
    scores = {id(d): [] for d in detectors}
    cuts = {id(d): [] for d in detectors}
    for i, frame in enumerate(frames):
        for d in detectors:
            cuts[id(d)] += [c.frame_num for c in d.process_frame(FrameTimecode(i, rate), frame)]
            scores[id(d)].append(d._frame_score)
    last = FrameTimecode(len(frames) - 1, rate)
    for d in detectors:
        cuts[id(d)] += [c.frame_num for c in d.post_process(last)]
    stock = (
        ContentDetector(min_scene_len=12),
        AdaptiveDetector(),
        ContentDetector(threshold=10.0, luma_only=True),
    )
    for mine, theirs in zip(detectors, stock, strict=True):
        assert (scores[id(mine)], cuts[id(mine)]) == _run(theirs, frames)
    assert cuts[id(content)]
