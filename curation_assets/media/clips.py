"""Shots -> single-shot clip windows of min_s..max_s s. Clips are virtual: (video, start, end).

Long-shot policy (documented in curation.yaml): a usable shot longer than ``max_s`` is split into
``n = ceil(length / max_s)`` equal windows, each between ``max_s / 2`` and ``max_s``; at most
``max_clips_per_shot`` of them are kept, evenly spaced over the shot (first, last, then between).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from curation_assets.config import ClipsConfig
from curation_assets.vocabulary import Clipping


@dataclass(frozen=True)
class Window:
    start_s: float
    end_s: float
    start_frame: int
    end_frame: int  # exclusive

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class ShotPlan:
    index: int
    start_frame: int
    end_frame: int  # exclusive
    start_s: float
    end_s: float
    clips: tuple[Window, ...]
    reason: Clipping | None  # why (part of) this shot gave no clip
    detail: str


def clip_id(video_id: str, start_s: float, end_s: float) -> str:
    """Stable across re-runs: the same video and window always give the same id."""
    return f"{video_id}-{int(round(start_s * 1000)):07d}-{int(round(end_s * 1000)):07d}"


def kept_window_indices(count: int, keep: int) -> list[int]:
    if count <= keep:
        return list(range(count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, keep)})


def plan_clips(
    frame_times: np.ndarray,
    end_s: float,
    cuts: list[int],
    cfg: ClipsConfig,
    gaps: dict[int, float] | None = None,
) -> list[ShotPlan]:
    """Split a decoded video at its cuts and cut each shot into clip windows on frame boundaries.

    ``gaps`` maps a cut (the first frame after a skipped damaged stretch) to where that stretch
    began: the shot before it ends there, not at the next decoded frame.
    """
    gaps = gaps or {}
    frames = len(frame_times)
    if frames == 0:
        return []
    # sorted and unique: a repeated or unordered cut must not make an empty or negative shot
    edges = [0, *sorted({int(c) for c in cuts if 0 < c < frames}), frames]
    # time of frame i; index ``frames`` maps to the end of the last frame
    times = np.append(frame_times, end_s)
    plans: list[ShotPlan] = []
    for index, (first, stop) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        # times of this shot's frames, then of its end (index ``stop``)
        shot = times[first : stop + 1].copy()
        if stop in gaps:
            shot[-1] = gaps[stop]
        shot_start, shot_end = float(shot[0]), float(shot[-1])
        lo = first + int(np.searchsorted(shot, shot_start + cfg.trim_after_cut_s - 1e-9, "left"))
        hi = first + int(np.searchsorted(shot, shot_end - cfg.trim_before_cut_s + 1e-9, "right"))
        lo, hi = max(lo, first), min(hi - 1, stop)
        usable = float(shot[hi - first] - shot[lo - first]) if hi > lo else 0.0
        if usable + 1e-9 < cfg.min_s:
            plans.append(
                ShotPlan(
                    index,
                    first,
                    stop,
                    shot_start,
                    shot_end,
                    (),
                    Clipping.SHOT_TOO_SHORT,
                    f"usable {usable:.2f} s < {cfg.min_s:g} s",
                )
            )
            continue
        count = max(1, math.ceil(usable / cfg.max_s - 1e-9))
        keep = kept_window_indices(count, cfg.max_clips_per_shot)
        windows = []
        for w in keep:
            base = shot[lo - first]
            start, end = base + usable * w / count, base + usable * (w + 1) / count
            a = first + int(np.searchsorted(shot, start - 1e-9, "left"))  # first frame at/after
            b = first + int(np.searchsorted(shot, end + 1e-9, "right")) - 1  # last at/before
            a, b = max(a, lo), min(b, hi)
            w_start, w_end = float(shot[a - first]), float(shot[b - first])
            windows.append(Window(round(w_start, 6), round(w_end, 6), a, b))
        dropped = count - len(keep)
        plans.append(
            ShotPlan(
                index,
                first,
                stop,
                shot_start,
                shot_end,
                tuple(windows),
                Clipping.WINDOW_NOT_KEPT if dropped else None,
                f"{count} windows of {usable / count:.2f} s, kept {len(keep)}"
                if count > 1
                else "one clip",
            )
        )
    return plans
