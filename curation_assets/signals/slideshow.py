"""The slideshow score: piecewise-still segments, or a still image under a synthetic camera.

Used by the motion family (``signals/motion/optical_flow.py``), which marks per sample pair
whether it is *still* (frozen, or moved rigidly by a smooth camera: nothing moves on its own)
and whether it is a *jump* (a hard cut, a slideshow change, a flash).

A slideshow is a chain of stills joined by cuts or dissolves. Pair by pair, real footage and a
held still can look alike (a subject pauses, a distant scene under a pan moves rigidly), so the
score is decided per segment, not per pair:

1. Transitions. A short run (up to ``BLEND_MAX_S``) of pairs that are neither still nor jumps,
   between two still pairs, is a dissolve when each frame inside it is a blend of the frames at
   its two ends (``F ~ (1 - a) A + a B``, RMS residual under ``BLEND_RESIDUAL`` of |B - A|). A
   subject moving between two pauses is not a blend of them.
2. Segments are the runs between jumps and transitions. A segment whose share of still pairs is
   ``s`` scores ``clip((s - SEGMENT_LOW) / (SEGMENT_HIGH - SEGMENT_LOW), 0, 1)``: continuous
   footage where something moves at least half of the time scores 0, a held still 1.
3. ``slideshow`` is the pair-weighted mean of the segment scores, jump and transition pairs
   counting 1 when still segments (score >= 0.5) border them on both sides (they join two
   slides) and 0 otherwise.

On the real-footage kit (docs/real_kit.md): continuous real footage scores 0 (a static Big Buck
Bunny whose rabbit pauses half the time scored 0.50 per pair before), stills joined by cuts or
dissolves and Ken Burns moves 0.8-1.
"""

from __future__ import annotations

import numpy as np

BLEND_MAX_S = 1.0  # longest dissolve
BLEND_RESIDUAL = 0.35  # a dissolve frame is a blend of its ends within this share of |B - A|
BLEND_MIN_CHANGE = 2.0  # grey levels: the ends of a dissolve differ by at least this (mean)
SEGMENT_LOW = 0.7  # share of still pairs at which a segment starts to score ...
SEGMENT_HIGH = 0.95  # ... and where it scores 1


def transitions(
    still: np.ndarray, jump: np.ndarray, frames: list[np.ndarray], dt: np.ndarray
) -> np.ndarray:
    """Pairs inside a dissolve between two still pairs (step 1 of the module docstring)."""
    pairs = len(still)
    out = np.zeros(pairs, bool)
    other = ~still & ~jump
    i = 0
    while i < pairs:
        if not other[i]:
            i += 1
            continue
        j = i
        while j + 1 < pairs and other[j + 1]:
            j += 1
        before = i > 0 and (still[i - 1] or jump[i - 1])
        after = j + 1 < pairs and (still[j + 1] or jump[j + 1])
        if before and after and float(dt[i : j + 1].sum()) <= BLEND_MAX_S:
            out[i : j + 1] = _is_blend(frames[i : j + 2])
        i = j + 1
    return out


def _is_blend(frames: list[np.ndarray]) -> bool:
    a = frames[0].astype(np.float32)
    b = frames[-1].astype(np.float32)
    span = b - a
    norm = float(np.sqrt(np.mean(span * span)))
    if norm < BLEND_MIN_CHANGE or len(frames) < 3:
        return norm >= BLEND_MIN_CHANGE
    for frame in frames[1:-1]:
        d = frame.astype(np.float32) - a
        alpha = float(np.clip(np.mean(d * span) / (norm * norm), 0.0, 1.0))
        residual = float(np.sqrt(np.mean((d - alpha * span) ** 2)))
        if residual > BLEND_RESIDUAL * norm:
            return False
    return True


def slideshow_score(still: np.ndarray, breaks: np.ndarray) -> float:
    """Steps 2 and 3: ``still`` and ``breaks`` (jumps and transitions) per pair."""
    pairs = len(still)
    if pairs == 0:
        return 0.0
    score = np.zeros(pairs)
    segments: list[tuple[int, int]] = []
    i = 0
    while i < pairs:
        if breaks[i]:
            i += 1
            continue
        j = i
        while j + 1 < pairs and not breaks[j + 1]:
            j += 1
        segments.append((i, j + 1))
        i = j + 1
    for lo, hi in segments:
        share = float(still[lo:hi].mean())
        span = SEGMENT_HIGH - SEGMENT_LOW
        score[lo:hi] = float(np.clip((share - SEGMENT_LOW) / span, 0.0, 1.0))
    held = np.zeros(pairs, bool)
    for lo, hi in segments:
        if score[lo] >= 0.5:
            held[lo:hi] = True
    for k in np.flatnonzero(breaks):
        lo, hi = k, k
        while lo > 0 and breaks[lo - 1]:
            lo -= 1
        while hi + 1 < pairs and breaks[hi + 1]:
            hi += 1
        if lo > 0 and held[lo - 1] and hi + 1 < pairs and held[hi + 1]:
            score[k] = 1.0
    return float(score.mean())
