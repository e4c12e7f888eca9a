"""Shots -> single-shot clip windows of min_s..max_s s. Clips are virtual: (video, start, end).

Long-shot policy (documented in curation.yaml): a usable shot longer than ``max_s`` is split into
``n = ceil(length / max_s)`` equal windows, each between ``max_s / 2`` and ``max_s``; at most
``max_clips_per_shot`` of them are kept, evenly spaced over the shot (first, last, then between).

Gradual transitions (``media/transitions.py``) are boundaries too: their frames, widened by a
small margin on each side, become a shot of their own that gives no clip (``transition``), and
the shots on either side start or end right at that margin (no further trim), so a side with at
least ``min_s`` left still gives a clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from curation_assets.config.sections import ClipsConfig
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
    # index (into the ``transitions`` given) of the transition this shot starts after / ends
    # before; None: a cut or the video's edge. A transition's own shot names itself in both.
    after_transition: int | None = None
    before_transition: int | None = None


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
    transitions: Sequence = (),
    margin_frames: int | None = None,
) -> list[ShotPlan]:
    """Split a decoded video at its cuts and cut each shot into clip windows on frame boundaries.

    ``gaps`` maps a cut (the first frame after a skipped damaged stretch) to where that stretch
    began: the shot before it ends there, not at the next decoded frame. ``transitions`` (objects
    with ``start`` and ``end`` frames) widened by ``margin_frames`` on each side (default:
    ``cfg.transition_margin_s`` at the video's frame rate) are excluded from every clip; a cut
    inside one is ignored.
    """
    gaps = gaps or {}
    frames = len(frame_times)
    if frames == 0:
        return []
    if margin_frames is None:
        rate = (
            (frames - 1) / max(float(frame_times[-1] - frame_times[0]), 1e-9) if frames > 1 else 1
        )
        margin_frames = int(math.ceil(cfg.transition_margin_s * rate - 1e-6))
    spans = _excluded(transitions, margin_frames, frames)  # (first, stop, transition index)
    inside = {f for a, b, _ in spans for f in range(a, b + 1)}
    # sorted and unique: a repeated or unordered cut must not make an empty or negative shot
    kept = {int(c) for c in cuts if 0 < c < frames and int(c) not in inside}
    edges = sorted({0, frames, *kept, *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    own = {(a, b): k for a, b, k in spans}
    after = {b: k for _, b, k in spans}
    before = {a: k for a, _, k in spans}
    # time of frame i; index ``frames`` maps to the end of the last frame
    times = np.append(frame_times, end_s)
    plans: list[ShotPlan] = []
    for index, (first, stop) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        # times of this shot's frames, then of its end (index ``stop``)
        shot = times[first : stop + 1].copy()
        if stop in gaps:
            shot[-1] = gaps[stop]
        shot_start, shot_end = float(shot[0]), float(shot[-1])
        if (first, stop) in own:
            k = own[(first, stop)]
            t = transitions[k]
            what = f"{getattr(t, 'kind', 'transition')} frames {t.start}-{int(t.end) - 1}"
            plans.append(
                ShotPlan(
                    index, first, stop, shot_start, shot_end, (), Clipping.TRANSITION, what, k, k
                )
            )
            continue
        bounds = {"after_transition": after.get(first), "before_transition": before.get(stop)}
        # next to a transition its margin replaces the trim after / before a cut
        trim_after = 0.0 if first in after else cfg.trim_after_cut_s
        trim_before = 0.0 if stop in before else cfg.trim_before_cut_s
        lo = first + int(np.searchsorted(shot, shot_start + trim_after - 1e-9, "left"))
        hi = first + int(np.searchsorted(shot, shot_end - trim_before + 1e-9, "right"))
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
                    **bounds,
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
                **bounds,
            )
        )
    return plans


def _excluded(transitions: Sequence, margin: int, frames: int) -> list[tuple[int, int, int]]:
    """(first, stop, index) of each transition widened by ``margin``, clipped to the video;
    overlapping ones merge (the first one's index names the merged span)."""
    spans: list[tuple[int, int, int]] = []
    for k, t in sorted(enumerate(transitions), key=lambda kt: int(kt[1].start)):
        a, b = max(0, int(t.start) - margin), min(frames, int(t.end) + margin)
        if b <= a:
            continue
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(b, spans[-1][1]), spans[-1][2])
        else:
            spans.append((a, b, k))
    return spans
