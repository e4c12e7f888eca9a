"""Gradual transitions (dissolves, fades through black or white, wipes) from the single pass.

A dissolve or fade has no single frame that changes much, so PySceneDetect's cut detectors either
miss it (one clip spans both shots) or fire somewhere inside it (both clips keep mixed frames).
Here every frame of the pass leaves a tiny thumbnail (luma 32x18 and chroma 16x9, from the
analysis frame the pass has already shrunk: a few microseconds a frame, ~0.9 KB kept), and after
the loop three tests run on those thumbnails (no second decode):

- fade: a run of flat near-black or near-white frames; on each side the distance to that colour
  falls (rises) linearly to it, found as the knot of a two-piece fit (drift, then a ramp to 0);
- dissolve: on 8x4 block means (a blend stays a blend at any scale; motion barely moves them)
  the frame midway between two frames ``h`` apart is their average, the two differ like two
  shots do, no single step carries the change (not a cut), and the fine detail dips midway (two
  unaligned images averaged keep about half of it; camera motion keeps all of it);
- wipe: at three moments each changed pixel shows one end or the other (no blend), the new
  shot's pixels fill one side of a straight edge (left/right or top/bottom) that moves evenly.

A dissolve's span is fitted on each frame's blend weight (``_fit_span``); a wipe's is
extrapolated from its edge's speed. ``Transition`` is ``start`` (first mixed frame) .. ``end``
(first frame of the next shot alone), as in the real kit. Thresholds were set on the real kit
(``benchmarks/judgment_quality.py``); fades through other colours, iris or clock wipes and
other effects are not looked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from curation_assets.same_bits import line_fit, matmul, matvec

KINDS = ("dissolve", "fade_black", "fade_white", "wipe")
THUMB_SHORT = 18  # luma thumbnail short side (chroma: half)


@dataclass(frozen=True)
class Transition:
    """Frames ``start`` .. ``end - 1`` belong to the transition; ``end`` starts the next shot."""

    start: int
    end: int
    kind: str  # one of KINDS
    confidence: float


@dataclass(frozen=True)
class TransitionSettings:
    max_frames: int = 50  # longest transition looked for (both fade ramps: each side)
    min_change: float = 14.0  # RMS grey levels between the two shots, at least
    blend_ratio: float = 0.3  # coarse midpoint residual / change, at most (dissolve)
    detail_dip: float = 0.5  # fine detail midway / at the ends, at most (dissolve; kit dissolves
    # 0.19-0.48, a synthetic pan over a periodic texture 0.59)
    max_step_share: float = 0.55  # largest single-frame step / change, at most (not a cut)
    solid_std: float = 4.0  # luma std of a flat (fade colour) frame, at most
    wipe_agreement: float = 0.85  # pixels on the right side of the wipe's edge, at least


class ThumbnailRecorder:
    """Collects one thumbnail per frame during the pass (``add``), then ``detect``s.

    ``shrink(src, dst)`` writes ``src`` area-averaged into ``dst``; the pass hands its own
    (``frame_shrink.shrink_into``: 2x2 halvings then one bilinear step, ~10 us a frame here, where
    OpenCV's general INTER_AREA takes ~55 us)."""

    def __init__(self, shrink=None) -> None:
        self._rows: list[np.ndarray] = []
        self.shape: tuple[int, int] | None = None  # luma thumbnail (h, w)
        self._shrink = shrink or (
            lambda src, dst: cv2.resize(src, dst.shape[::-1], dst=dst, interpolation=cv2.INTER_AREA)
        )

    def add(self, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        if self.shape is None:
            h, w = y.shape
            scale = THUMB_SHORT / min(h, w)
            self.shape = (max(4, round(h * scale / 2) * 2), max(4, round(w * scale / 2) * 2))
        th, tw = self.shape
        n, m = th * tw, (th // 2) * (tw // 2)
        row = np.empty(n + 2 * m, np.uint8)  # written in place, plane after plane
        small = (tw // 2, th // 2)
        for plane, at, size in ((y, 0, (tw, th)), (u, n, small), (v, n + m, small)):
            self._shrink(plane, row[at : at + size[0] * size[1]].reshape(size[1], size[0]))
        self._rows.append(row)

    def detect(self, settings: TransitionSettings) -> list[Transition]:
        if not self._rows or self.shape is None:
            return []
        return detect_transitions(np.stack(self._rows), self.shape, settings)


def detect_transitions(
    thumbs: np.ndarray, shape: tuple[int, int], s: TransitionSettings
) -> list[Transition]:
    """Transitions in ``thumbs`` (frames x [luma h*w, u, v] uint8), sorted, not overlapping.
    Works on slices and small per-frame summaries: never a float copy of all the thumbnails."""
    n = len(thumbs)
    if n < 5:
        return []
    found = _fades(thumbs, shape[0] * shape[1], s)
    taken = np.zeros(n, bool)
    for t in found:
        taken[max(0, t.start - 1) : t.end + 1] = True
    for t in _blends(thumbs, shape, taken, s):
        if not taken[t.start : t.end].any():
            found.append(t)
            taken[max(0, t.start - 1) : t.end + 1] = True
    return sorted(found, key=lambda t: t.start)


def _rms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(a * a, axis=-1))


# -- fades -------------------------------------------------------------------------------------


def _fades(thumbs: np.ndarray, ny: int, s: TransitionSettings) -> list[Transition]:
    n = len(thumbs)
    mean, std, chroma_std = (np.empty(n, np.float32) for _ in range(3))
    for a in range(0, n, 4096):
        chunk = thumbs[a : a + 4096].astype(np.float32)
        mean[a : a + 4096] = chunk[:, :ny].mean(axis=1)
        std[a : a + 4096] = chunk[:, :ny].std(axis=1)
        chroma_std[a : a + 4096] = chunk[:, ny:].std(axis=1)
    colour = np.where(mean < 45, 1, np.where(mean > 195, 2, 0))
    solid = (std <= s.solid_std) & (chroma_std <= s.solid_std) & (colour > 0)
    out: list[Transition] = []
    i = 0
    while i < n:
        if not solid[i]:
            i += 1
            continue
        j = i
        while j < n and solid[j] and colour[j] == colour[i]:
            j += 1
        target = thumbs[i:j].mean(axis=0, dtype=np.float32)
        lo, hi = max(0, i - s.max_frames - 12), min(n, j + s.max_frames + 12)
        dist = _rms(thumbs[lo:hi].astype(np.float32) - target)
        start = _ramp_start(dist[: i - lo][::-1])
        end = _ramp_start(dist[j - lo :])
        a, b = i - start, j + end
        # a fade leaves or reaches a picture: dark footage dipping under ``solid_std`` does not
        picture = max(dist[: max(0, i - lo)].max(initial=0), dist[j - lo :].max(initial=0))
        if picture >= s.min_change and ((start >= 2 or end >= 2) or (i > 0 and j < n)):
            kind = "fade_black" if colour[i] == 1 else "fade_white"
            conf = float(np.clip(1.0 - std[i:j].mean() / (2 * s.solid_std), 0.0, 1.0))
            out.append(Transition(int(a), int(b), kind, round(conf, 3)))
        i = j
    return out


def _ramp_start(dist: np.ndarray) -> int:
    """How many frames next to a fade colour ramp towards it. ``dist[k]``: distance to the
    colour of the frame ``k + 1`` frames away from the flat run. Two-piece fit: a straight ramp
    from 0 up to ``dist[r]`` over the first ``r + 1`` frames, then any straight drift."""
    m = len(dist)
    if m < 3:
        return 0
    best, best_r = np.inf, 0
    k = np.arange(m, dtype=np.float64)
    for r in range(0, m - 2):
        ramp = dist[r] * (k[: r + 1] + 1) / (r + 1)
        err = float(np.sum((dist[: r + 1] - ramp) ** 2))
        intercept, slope = line_fit(k[r:], dist[r:])
        err += float(np.sum((intercept + slope * k[r:] - dist[r:]) ** 2))
        if err < best - 1e-9:
            best, best_r = err, r
    return best_r


# -- dissolves and wipes -----------------------------------------------------------------------


_HALVES = (2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32)


def _area(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of an area-average resize along one axis (OpenCV's INTER_AREA)."""
    scale = n_in / n_out
    m = np.zeros((n_out, n_in), np.float32)
    for i in range(n_out):
        a, b = i * scale, (i + 1) * scale
        for j in range(int(np.floor(a)), min(n_in, int(np.ceil(b)))):
            m[i, j] = (min(b, j + 1) - max(a, j)) / scale
    return m


def _gauss(n: int, sigma: float = 1.0) -> np.ndarray:
    """(n, n) Gaussian blur along one axis, 9 taps, mirrored edges (OpenCV's default border)."""
    taps = np.exp(-0.5 * (np.arange(-4, 5) / sigma) ** 2)
    taps /= taps.sum()
    m = np.zeros((n, n), np.float32)
    for i in range(n):
        for k, t in zip(range(-4, 5), taps, strict=True):
            j = abs(i + k)
            j = 2 * (n - 1) - j if j > n - 1 else j
            m[i, j] += t
    return m


def _coarse(thumbs: np.ndarray, shape: tuple[int, int]):
    """Per frame: 8x4 luma + 4x2 chroma block means (a blend stays a blend at any scale, while
    motion of a few pixels barely moves them), the luma's fine-detail energy, and the luma at
    half size (the wipe test's first look). Separable weights: a few matrix products, no loop
    over frames."""
    h, w = shape
    cw, ch = (8, 4) if w >= h else (4, 8)
    ny, nc = h * w, (h // 2) * (w // 2)
    n = len(thumbs)
    ry, rx, cy, cx = _area(h, ch), _area(w, cw), _area(h // 2, ch // 2), _area(w // 2, cw // 2)
    hy, hx, gy, gx = _area(h, h // 2), _area(w, w // 2), _gauss(h), _gauss(w)
    coarse = np.empty((n, cw * ch + cw * ch // 2), np.float32)
    detail = np.empty(n, np.float32)
    half = np.empty((n, nc), np.float32)
    q = cw * ch // 4
    for a in range(0, n, 1024):
        block = thumbs[a : a + 1024].astype(np.float32)
        k = len(block)
        y = block[:, :ny].reshape(k, h, w)
        coarse[a : a + k, : cw * ch] = matmul(matmul(ry, y), rx.T).reshape(k, -1)
        for at, plane in ((cw * ch, block[:, ny : ny + nc]), (cw * ch + q, block[:, ny + nc :])):
            chroma = matmul(matmul(cy, plane.reshape(k, h // 2, w // 2)), cx.T)
            coarse[a : a + k, at : at + q] = chroma.reshape(k, -1)
        half[a : a + k] = matmul(matmul(hy, y), hx.T).reshape(k, -1)
        fine = y - matmul(matmul(gy, y), gx.T)
        detail[a : a + k] = (fine * fine).reshape(k, -1).mean(axis=1)
    return coarse, detail, half


def _blends(
    thumbs: np.ndarray, shape: tuple[int, int], taken: np.ndarray, s: TransitionSettings
) -> list[Transition]:
    """Dissolves: midway between two frames ``h`` apart, the coarse frame is their average and
    the fine detail dips (two unaligned images averaged: about half the detail of either end;
    motion keeps it). Wipes: see ``_wipe``."""
    n = len(thumbs)
    xc, detail, half = _coarse(thumbs, shape)
    ny = shape[0] * shape[1]

    def luma(i: int) -> np.ndarray:
        return thumbs[i, :ny].astype(np.float32).reshape(shape)

    step = np.zeros(n, np.float32)
    step[1:] = _rms(xc[1:] - xc[:-1])
    halves = [h for h in _HALVES if 2 * h <= s.max_frames + 2 and 2 * h < n]
    cands: list[tuple[float, int, int, str]] = []  # (score, centre, h, kind), best first
    for h in halves:
        p, m, q = xc[: n - 2 * h], xc[h : n - h], xc[2 * h :]
        change = _rms(q - p)
        ratio = _rms(m - 0.5 * (p + q)) / np.maximum(change, 1e-6)
        dip = detail[h : n - h] / np.maximum(0.5 * (detail[: n - 2 * h] + detail[2 * h :]), 1e-6)
        win = np.lib.stride_tricks.sliding_window_view(step[1:], 2 * h)  # steps c-h+1 .. c+h
        biggest = win.max(axis=1)[: n - 2 * h]
        ok = (change >= s.min_change) & (biggest <= s.max_step_share * change)
        for c0 in np.flatnonzero(ok & (ratio <= s.blend_ratio) & (dip <= s.detail_dip)):
            c = int(c0) + h
            if not taken[c]:
                cands.append((float(dip[c0]), c, h, "dissolve"))
        if h < 3:
            continue
        # wipe, first look: most changed pixels midway show one end or the other, not a blend
        hp, hm, hq = half[: n - 2 * h], half[h : n - h], half[2 * h :]
        diff = np.abs(hq - hp)
        moved = diff > 12.0
        pure = np.minimum(np.abs(hm - hp), np.abs(hm - hq)) < 0.2 * diff
        share = (pure & moved).sum(axis=1) / np.maximum(moved.sum(axis=1), 1)
        looks = (moved.mean(axis=1) >= 0.3) & (share >= 0.6)
        for c0 in np.flatnonzero(ok & (dip > s.detail_dip) & looks):
            c = int(c0) + h
            if not taken[c]:
                wipe = _wipe(luma, c, h, s.wipe_agreement)
                if wipe is not None:
                    cands.append((2.0 - wipe[2], c, h, "wipe"))  # after every dissolve
    widest: dict[int, int] = {}  # centre -> widest passing dissolve window
    for _, c, h, kind in cands:
        if kind == "dissolve":
            widest[c] = max(h, widest.get(c, 0))
    out: list[Transition] = []
    used = np.zeros(n, bool)
    for score, c, h, kind in sorted(cands):
        if used[c]:
            continue
        if kind == "dissolve":
            # ends just outside the span: the narrowest window at this centre whose ends differ
            # (nearly) as much as the widest passing one's (further out, motion adds up)
            reach = {hh: float(_rms(xc[c + hh] - xc[c - hh])) for hh in halves if hh <= widest[c]}
            h_fit = min(hh for hh, r in reach.items() if r >= 0.85 * max(reach.values()))
            span = _fit_span(xc, c, h_fit, n)
            conf = 1.0 - score
        else:
            span, conf = _wipe(luma, c, h, s.wipe_agreement)[:2], 2.0 - score
        start, end = max(0, span[0]), min(n, span[1])
        if end - start < 2 or end - start > s.max_frames or used[start:end].any():
            continue
        used[max(0, start - 1) : end + 1] = True
        out.append(Transition(start, end, kind, round(float(np.clip(conf, 0.0, 1.0)), 3)))
    return out


def _edge(newer: np.ndarray, moved: np.ndarray) -> tuple[float, int, bool, float]:
    """The straight edge (across columns or rows) that best splits new from old pixels:
    (agreement, axis, flipped, position as a fraction of the side)."""
    weight = moved.astype(np.float32)
    best = (0.0, 0, False, 0.0)
    for axis in (0, 1):  # axis 0: profile over columns (a left/right wipe); 1: over rows
        counts = weight.sum(axis=axis)
        new = (newer * weight).sum(axis=axis)
        total = max(float(counts.sum()), 1.0)
        for flip in (False, True):
            nw, cnt = (new[::-1], counts[::-1]) if flip else (new, counts)
            # new shot on [0, e), old on [e, len): agreement for each edge position e
            hit_new = np.concatenate([[0.0], np.cumsum(nw)])
            hit_old = np.concatenate([[0.0], np.cumsum((cnt - nw)[::-1])])[::-1]
            agree = (hit_new + hit_old) / total
            e = int(np.argmax(agree))
            if agree[e] > best[0]:
                best = (float(agree[e]), axis, flip, e / len(cnt))
    return best


def _wipe(luma, c: int, h: int, min_agree: float) -> tuple[int, int, float] | None:
    """A wipe between frames ``c - h`` and ``c + h``: at three moments each changed pixel shows
    one end or the other (no blend), the new pixels lie on one side of a straight edge, and the
    edge moves the same way, evenly. Returns (start, end, agreement) extrapolated from the
    edge's speed, or None. ``luma(i)``: frame i's luma thumbnail as float."""
    p, q = luma(c - h), luma(c + h)
    diff = np.abs(q - p)
    moved = diff > 12.0
    if moved.mean() < 0.3:
        return None
    k = max(1, h // 2)
    edges = []
    for at in (c - k, c, c + k):
        f = luma(at)
        near_p, near_q = np.abs(f - p), np.abs(f - q)
        if np.median(np.minimum(near_p, near_q)[moved] / diff[moved]) > 0.2:
            return None  # blended (a dissolve) or neither end (motion)
        edges.append(_edge(near_q < near_p, moved))
    agree = min(e[0] for e in edges)
    if agree < min_agree or len({(e[1], e[2]) for e in edges}) != 1:
        return None
    f1, f2, f3 = (e[3] for e in edges)
    if not (0.05 < f1 < f2 < f3 < 0.95) or abs((f2 - f1) - (f3 - f2)) > 0.5 * (f3 - f1):
        return None
    speed = (f3 - f1) / (2 * k)  # of the side per frame
    start = int(np.floor(c - f2 / speed))
    end = int(np.ceil(c + (1.0 - f2) / speed))
    return start, end, agree


def _fit_span(x: np.ndarray, c: int, h: int, n: int) -> tuple[int, int]:
    """(start, end) of a dissolve around ``c``: frames ``start`` .. ``end - 1`` lie between the
    window's two ends. Each frame's position on the line from one end to the other (its blend
    weight) is fitted twice: with drifting shots on either side (three straight pieces) and with
    still ones (flat, ramp, flat). A shot's own motion along the blend makes the first too short
    and motion away from the ends makes the second too long, so the span is the first, widened
    towards the second by at most 60% of its length (measured on the real kit's dissolves)."""
    pad = max(4, h)
    lo, hi = max(0, c - h - pad), min(n - 1, c + h + pad)
    p, q = x[c - h], x[c + h]
    d = q - p
    alpha = matvec(x[lo : hi + 1] - p, d) / max(float(matvec(d, d)), 1e-6)
    mid = c - lo
    a0, a1 = _pieces(alpha, mid, drifting=True)
    b0, b1 = _pieces(alpha, mid, drifting=False)
    room = max(2, int(0.6 * (a1 - a0)))
    return lo + max(min(a0, b0), a0 - room), lo + min(max(a1, b1), a1 + room)


def _pieces(alpha: np.ndarray, mid: int, drifting: bool) -> tuple[int, int]:
    """The ramp's (first frame, first frame after) in ``alpha`` that best splits it into three
    least-squares pieces: lines (``drifting``) or, outside the ramp, constants."""
    m = len(alpha)
    i = np.arange(m, dtype=np.float64)
    sums = [np.concatenate([[0.0], np.cumsum(v)]) for v in (i * 0 + 1, i, i * i, alpha,
                                                          alpha * alpha, i * alpha)]  # fmt: skip

    def sse(a: int, b: int, line: bool) -> float:
        """Residual of the least-squares line (or constant) through alpha[a:b]."""
        k, si, sii, sy, syy, siy = (v[b] - v[a] for v in sums)
        if k < 1:
            return 0.0
        rest = syy - sy * sy / k
        var_i = sii - si * si / k
        if line and var_i > 1e-12:
            cov = siy - si * sy / k
            rest -= cov * cov / var_i
        return float(rest)

    best, span = np.inf, (max(1, mid - 1), min(m - 1, mid + 1))
    for a in range(1, mid):  # last frame of the first shot alone
        left = sse(0, a + 1, drifting)
        for b in range(mid + 1, m - 1):  # first frame of the next shot alone
            err = left + sse(a + 1, b, True) + sse(b, m, drifting)
            if err < best:
                best, span = err, (a + 1, b)
    return span
