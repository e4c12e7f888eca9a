"""Clip samples made of random pixels, for analyzers whose input content does not matter
(model wrappers run end to end, tiny random-weight models)."""

from __future__ import annotations

import numpy as np

from curation_assets.signals.base import ClipSamples


def random_clip(frames: int = 6) -> ClipSamples:
    rng = np.random.default_rng(5)
    rgb = [rng.integers(0, 256, (144, 256, 3), dtype=np.uint8) for _ in range(frames)]
    times = np.arange(frames) * 0.5
    return ClipSamples(
        clip_id="c",
        video_id="v",
        start_s=0.0,
        end_s=frames * 0.5,
        width=256,
        height=144,
        fps=24.0,
        rgb_times=times,
        rgb=rgb,
        grey_times=times,
        grey=np.zeros((frames, 1, 1), np.uint8),
        frame_times=times,
        luma_delta=np.zeros(frames),
        source_shots_per_s=0.0,
    )
