"""Shot boundaries from the decode pass's detectors: which detectors run, how their cuts are
merged, confirmed by the luma change and kept out of gradual transitions.
"""

from __future__ import annotations

import numpy as np

from curation_assets.config.sections import ShotsConfig
from curation_assets.media.detectors import (
    FastAdaptiveDetector,
    FastContentDetector,
    HsvDifferences,
)
from curation_assets.media.transitions import Transition


def make_detectors(cfg: ShotsConfig, fps: float) -> dict[str, object]:
    min_len = max(1, int(round(cfg.min_shot_s * fps)))
    shared = HsvDifferences()  # one HSV conversion and difference per frame for all of them
    made: dict[str, object] = {}
    for name in cfg.detectors:
        if name == "content":
            made[name] = FastContentDetector(threshold=cfg.content_threshold, min_scene_len=min_len)
        elif name == "adaptive":
            made[name] = FastAdaptiveDetector(
                adaptive_threshold=cfg.adaptive_threshold, min_scene_len=min_len
            )
        if name in made:
            made[name].differences = shared
    return made


def inside_transition(cut: int, transitions: list[Transition]) -> bool:
    return any(t.start - 1 <= cut <= t.end + 1 for t in transitions)


def merge_cuts(cut_lists, min_gap: int) -> list[int]:
    """Union of several detectors' cuts; cuts closer than ``min_gap`` frames count once."""
    merged: list[int] = []
    for cut in sorted({c for cuts in cut_lists for c in cuts}):
        if not merged or cut - merged[-1] >= min_gap:
            merged.append(cut)
    return merged


def confirm_cuts(
    cuts: list[int], luma_delta: np.ndarray, ratio: float, window: int = 2
) -> list[int]:
    """Keep a cut only if its frame's luma change stands out from its neighbours'.

    A hard cut changes far more between two frames than the frames around it do; fast camera
    motion or shake changes a lot on every frame, which fools a fixed content threshold. This is
    AdaptiveDetector's idea applied to the luma change the pass computes anyway (free).
    """
    kept = []
    n = len(luma_delta)
    for cut in cuts:
        around = [
            float(luma_delta[i])
            for i in range(cut - window, cut + window + 1)
            if 0 < i < n and i != cut
        ]
        base = sum(around) / len(around) if around else 0.0
        if float(luma_delta[cut]) >= ratio * max(base, 0.5):
            kept.append(cut)
    return kept
