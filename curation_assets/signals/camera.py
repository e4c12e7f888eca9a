"""What the camera did: a robust fit of the background's motion and the camera-motion classes.

Used by the motion family (``signals/motion/optical_flow.py``), which measures dense flow on a
grid of points per sample pair (units: frame widths per second, fw/s; see that module's docstring).

Background fit. A moving subject must not drag the camera estimate, even when it covers more of
the frame than the background does. Per pair, ``fit_background`` draws hypotheses of a similarity
model (tx, ty, zoom, rotation): no motion, the median translation, 16 single-point translations
and 32 two-point similarities (fixed point indices, no random state: the result is deterministic).
Each hypothesis scores the points it explains (residual under 0.008 fw/s + 25% of its own speed
there), points near the frame border counting 3x: the background is what reaches the border,
a subject is usually framed inside it; "no motion" scores 25% more (flow smears a large
moving subject over the still background around it). A second pass takes, among the hypotheses
scoring at least 60% of the best, the one closest to the clip's camera path (running median over
~1 s of the first pass), so a subject that briefly fills the frame does not become the camera
for that pair. Iteratively reweighted least squares (Tukey biweight, scale from the residuals of
the chosen hypothesis's inliers only) then refines it. Flat points (no texture) never vote. A
point moves on its own (``subject_motion``) when its residual exceeds ``OWN_MOTION_SPEED`` +
``OWN_RELATIVE`` x the model's speed there and 2 of its 4 grid neighbours do too.

Classes (``vocabulary.CameraMotion``): ``classify`` decides them from the background fit of the
continuous pairs, each with a confidence in [0, 1]; the rules of every class are documented in
docs/camera_motion.md. Translation alone cannot tell a pan from a truck (a window moved over a
flat image is a pan): a truck, pedestal, dolly, follow or arc is called only on positive evidence
from the points off the background fit (layers moving along the camera's axis, or radially).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curation_assets.same_bits import matmul, matvec
from curation_assets.vocabulary import CameraMotion

# -- background fit --------------------------------------------------------------------------------
INLIER_SPEED = 0.008  # fw/s: a point agrees with a hypothesis within this ...
INLIER_RELATIVE = 0.25  # ... plus this share of the hypothesis's own speed at the point
OWN_RELATIVE = 0.25  # a point moves on its own above OWN_MOTION_SPEED + this share of its speed
BORDER_WEIGHT = 3.0  # weight of points in the outer band of the grid
BORDER_BAND = 0.2  # outer band: within this share of the grid's extent from its edge
ZERO_PRIOR = 1.25  # "no motion" wins unless a move explains 25% more (flow smears a subject)
NEAR_BEST = 0.6  # second pass: hypotheses scoring this share of the best may be chosen
PATH_WINDOW_S = 1.0  # running median of the first-pass camera path
OWN_MOTION_SPEED = 0.02  # fw/s: residual above this at a grid point is motion of its own
_TUKEY_C = 4.685
_MIN_SCALE = 0.005  # fw/s: the Tukey cut-off never goes below this (flow noise of a still frame)
_SINGLE, _DOUBLE = 16, 48  # hypotheses per pair: single-point translations, two-point similarity

# -- classes ---------------------------------------------------------------------------------
STILL_SPEED = 0.01  # fw/s: mean camera speed below this is a static camera
HANDHELD_SHAKE = 0.004  # shake (frame widths RMS) above which a wandering camera is handheld
HANDHELD_MAX_CONSISTENCY = 0.5  # ... when its translation keeps changing direction
OUTLIER_SPEED = 4.0  # pairs this many times the median camera speed are left out of the class
MIN_DOMINANCE = 0.5  # winner's share of the summed net component speeds
MIN_CONSISTENCY = 0.5  # winner's |mean| / mean(|per pair|): 1 = always the same direction
DIAGONAL_SHARE = 0.4  # pan + tilt when the smaller axis is at least this share of the larger
LAYER_MIN_FRACTION = 0.08  # layer evidence: at least this share of the grid off the fit ...
RADIAL_MIN_FRACTION = 0.05  # ... (for a dolly: a radial layer is thinner, near the border)
LAYER_MIN_PAIRS = 0.6  # ... in at least this share of the moving pairs ...
LAYER_MAX_CROSS = 0.5  # ... moving along the camera axis (cross / along residual under this)
# Relative speed ``a`` of an off-fit point along the camera axis (background = 1). Dense flow at
# the work size blurs a layer's speed towards its surroundings (a subject held still in front of
# a moving background reads ~0.45, not 0), hence the wide bands:
HELD = 0.6  # follow: |a| under this: the point holds its place in the frame
OPPOSITE = -0.2  # arc: a under this: the point moves against the background
NEARER = 1.25  # truck / pedestal: a above this: a nearer layer, faster than the background

_PAN = {
    (1, 0): CameraMotion.PAN_LEFT,  # content moves right: the camera pans left
    (-1, 0): CameraMotion.PAN_RIGHT,
    (0, 1): CameraMotion.TILT_UP,  # content moves down: the camera tilts up
    (0, -1): CameraMotion.TILT_DOWN,
    (1, 1): CameraMotion.PAN_LEFT_TILT_UP,
    (1, -1): CameraMotion.PAN_LEFT_TILT_DOWN,
    (-1, 1): CameraMotion.PAN_RIGHT_TILT_UP,
    (-1, -1): CameraMotion.PAN_RIGHT_TILT_DOWN,
}
_TRUCK = {
    (1, 0): CameraMotion.TRUCK_LEFT,
    (-1, 0): CameraMotion.TRUCK_RIGHT,
    (0, 1): CameraMotion.PEDESTAL_UP,
    (0, -1): CameraMotion.PEDESTAL_DOWN,
}


@dataclass(frozen=True)
class BackgroundFit:
    params: np.ndarray  # (pairs, 4): tx, ty, zoom, rotation of the background (the camera)
    model: np.ndarray  # (pairs, points, 2): the model flow at the grid points
    background: np.ndarray  # (pairs,): share of the grid the model explains
    own: np.ndarray  # (pairs, points) bool: points moving on their own (residual > OWN_...)


def model_flow(params: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, ...]:
    """Model flow (u, v), each (pairs, points): u = tx + z*x - r*y, v = ty + r*x + z*y."""
    tx, ty, zoom, rot = (params[..., k : k + 1] for k in range(4))
    return tx + zoom * gx - rot * gy, ty + rot * gx + zoom * gy


def fit_background(
    grid: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    dt: np.ndarray,
    textured: np.ndarray | None = None,
    shape: tuple[int, int] | None = None,
) -> BackgroundFit:
    """The camera's similarity motion per pair, fitted on the background (module docstring).

    ``grid`` is (pairs, points, 2) flow in fw/s; ``gx``, ``gy`` the points' centred positions in
    frame widths; ``dt`` the pairs' time steps (for the path's running median); ``textured``
    (pairs, points) marks the points with texture: flow in a flat area (a night sky, a wall)
    is whatever the solver smoothed into it, so those points neither vote nor count as moving.
    ``shape`` (rows, columns) of the grid, row-major: a point moves on its own only with at
    least 2 such 4-neighbours (a subject is a blob; scattered flow errors are not).
    """
    pairs, points = grid.shape[:2]
    if textured is None:
        textured = np.ones((pairs, points), bool)
    textured = textured.copy()
    textured[textured.sum(axis=1) < 8] = True  # too little texture: every point votes
    hyps = _hypotheses(grid, gx, gy)  # (pairs, H, 4)
    weight = _border_weight(gx, gy) * textured  # (pairs, points)
    score = _scores(grid, hyps, gx, gy, weight)  # (pairs, H)
    score[:, 0] *= ZERO_PRIOR  # hypothesis 0 is "no motion"
    first = hyps[np.arange(pairs), score.argmax(axis=1)]
    path = _running_median(first, dt)
    near = score >= NEAR_BEST * score.max(axis=1, keepdims=True)
    distance = np.abs(hyps - path[:, None, :]) * np.array([1.0, 1.0, 0.3, 0.3])
    distance = np.where(near, distance.sum(axis=2), np.inf)
    chosen = hyps[np.arange(pairs), distance.argmin(axis=1)]
    params = _refine(grid, gx, gy, chosen, textured)
    model = np.stack(model_flow(params, gx, gy), axis=-1)
    residual = np.hypot(*(grid - model).transpose(2, 0, 1))
    speed = np.hypot(model[..., 0], model[..., 1])
    own = (residual > OWN_MOTION_SPEED + OWN_RELATIVE * speed) & textured
    if shape is not None:
        own = _clustered(own, shape)
    background = 1.0 - own.sum(axis=1) / textured.sum(axis=1)
    return BackgroundFit(params, model, background, own)


def _clustered(own: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``own`` where at least 2 of a point's 4 grid neighbours are ``own`` too."""
    cells = own.reshape(len(own), *shape)
    padded = np.pad(cells, ((0, 0), (1, 1), (1, 1))).astype(np.int8)
    neighbours = (
        padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
    )
    return (cells & (neighbours >= 2)).reshape(own.shape)


def _hypotheses(grid: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    pairs, points = grid.shape[:2]
    order = np.arange(points)
    single = order[(np.arange(_SINGLE) * 7919) % points]
    a = order[(np.arange(_DOUBLE) * 104729) % points]
    b = order[(np.arange(_DOUBLE) * 15485863 + points // 2) % points]
    u, v = grid[..., 0], grid[..., 1]
    hyps = [np.zeros((pairs, 1, 4))]
    median = np.zeros((pairs, 1, 4))
    median[:, 0, 0], median[:, 0, 1] = np.median(u, axis=1), np.median(v, axis=1)
    hyps.append(median)
    one = np.zeros((pairs, _SINGLE, 4))
    one[..., 0], one[..., 1] = u[:, single], v[:, single]
    hyps.append(one)
    dx, dy = gx[b] - gx[a], gy[b] - gy[a]
    norm = dx * dx + dy * dy
    ok = norm > 1e-4
    du, dv = u[:, b] - u[:, a], v[:, b] - v[:, a]
    zoom = (du * dx + dv * dy) / np.where(ok, norm, 1.0)
    rot = (dv * dx - du * dy) / np.where(ok, norm, 1.0)
    two = np.zeros((pairs, _DOUBLE, 4))
    two[..., 2], two[..., 3] = zoom * ok, rot * ok
    two[..., 0] = u[:, a] - two[..., 2] * gx[a] + two[..., 3] * gy[a]
    two[..., 1] = v[:, a] - two[..., 3] * gx[a] - two[..., 2] * gy[a]
    hyps.append(two)
    return np.concatenate(hyps, axis=1)


def _border_weight(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    def outer(c: np.ndarray) -> np.ndarray:
        lo, hi = c.min(), c.max()
        band = BORDER_BAND * max(hi - lo, 1e-9)
        return (c <= lo + band) | (c >= hi - band)

    return np.where(outer(gx) | outer(gy), BORDER_WEIGHT, 1.0)


def _scores(
    grid: np.ndarray, hyps: np.ndarray, gx: np.ndarray, gy: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    # every other point votes (half the cost, the same winner), in float32
    gx, gy = gx[::2].astype(np.float32), gy[::2].astype(np.float32)
    grid, weight = grid[:, ::2].astype(np.float32), weight[:, ::2].astype(np.float32)
    hyps = hyps.astype(np.float32)
    out = np.empty(hyps.shape[:2])
    for lo in range(0, len(hyps), 32):  # chunks of pairs bound the memory of a long clip
        u, v = model_flow(hyps[lo : lo + 32], gx, gy)  # each (chunk, H, points)
        g = grid[lo : lo + 32, None]
        tol = INLIER_SPEED + INLIER_RELATIVE * np.sqrt(u * u + v * v)
        u -= g[..., 0]
        v -= g[..., 1]
        inside = (u * u + v * v) < tol * tol
        out[lo : lo + 32] = np.einsum("phn,pn->ph", inside.astype(np.float32), weight[lo : lo + 32])
    return out


def _running_median(params: np.ndarray, dt: np.ndarray) -> np.ndarray:
    half = max(1, int(round(PATH_WINDOW_S / max(float(np.median(dt)), 1e-3) / 2)))
    out = np.empty_like(params)
    for i in range(len(params)):
        out[i] = np.median(params[max(0, i - half) : i + half + 1], axis=0)
    return out


def _refine(
    grid: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    init: np.ndarray,
    textured: np.ndarray,
    iterations: int = 4,
) -> np.ndarray:
    """IRLS of the similarity from ``init``; the Tukey scale comes from the residuals of the
    points ``init`` explains, so the subject's points never widen it."""
    u, v = grid[..., 0], grid[..., 1]
    du, dv = model_flow(init, gx, gy)
    res = np.hypot(u - du, v - dv)
    tol = INLIER_SPEED + INLIER_RELATIVE * np.hypot(du, dv)
    inside = (res < tol) & textured
    inside[~inside.any(axis=1)] = True  # nothing explained: fall back to every point
    med = np.array([np.median(r[k]) for r, k in zip(res, inside, strict=True)])
    scale = np.maximum(_TUKEY_C * 1.4826 * med, _MIN_SCALE)[:, None]
    moments = np.stack([np.ones_like(gx), gx, gy, gx * gx + gy * gy], axis=1)
    params = init.copy()
    for _ in range(iterations):
        du, dv = model_flow(params, gx, gy)
        res = np.hypot(u - du, v - dv)
        w = np.clip(1.0 - (res / scale) ** 2, 0.0, None) ** 2 * textured
        enough = (w > 0).sum(axis=1) >= 8
        w = w + 1e-9
        sw, sx, sy, sr = matmul(w, moments).T
        wu, wv = w * u, w * v
        b0, b1 = wu.sum(1), wv.sum(1)
        b2, b3 = matvec(wu, gx) + matvec(wv, gy), matvec(wv, gx) - matvec(wu, gy)
        solved = _solve_similarity(sw, sx, sy, sr, b0, b1, b2, b3)
        params = np.where(enough[:, None], solved, params)
    return params


def _solve_similarity(sw, sx, sy, sr, b0, b1, b2, b3) -> np.ndarray:
    """(tx, ty, zoom, rotation) from the normal equations in closed form (LAPACK rounds per CPU,
    same_bits.py). Rows [W 0 X -Y], [0 W Y X], [X Y R 0], [-Y X 0 R] (W = sw, X = sx, Y = sy,
    R = sr): without tx, ty, zoom and rotation are each over R - (X^2 + Y^2) / W >= 0."""
    w, r = sw + 1e-12, sr + 1e-12
    spread = np.maximum(r - (sx * sx + sy * sy) / w, 1e-12)
    zoom, rot = (b2 - (sx * b0 + sy * b1) / w) / spread, (b3 - (sx * b1 - sy * b0) / w) / spread
    tx, ty = (b0 - sx * zoom + sy * rot) / w, (b1 - sy * zoom - sx * rot) / w
    return np.stack([tx, ty, zoom, rot], axis=1)


def classify(
    params: np.ndarray,
    grid: np.ndarray,
    own: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    shake: float,
) -> tuple[CameraMotion, float, dict]:
    """The class and its confidence from the background fit of the continuous pairs (the table
    of the module docstring). ``params`` (pairs, 4), ``grid`` (pairs, points, 2) the flow,
    ``own`` (pairs, points) the points off the fit, ``shake`` the clip's shake (fw RMS)."""
    radius = float(np.hypot(gx, gy).mean())
    model = np.stack(model_flow(params, gx, gy), axis=-1)
    per_speed = np.hypot(model[..., 0], model[..., 1]).mean(axis=1)
    # a few pairs 4x faster than the clip's median are a subject filling the frame, not the camera
    keep = per_speed <= max(OUTLIER_SPEED * float(np.median(per_speed)), 3 * STILL_SPEED)
    if 0 < keep.sum() < len(keep) and keep.sum() >= 0.5 * len(keep):
        params, grid, own, per_speed = params[keep], grid[keep], own[keep], per_speed[keep]
    speed = float(per_speed.mean())
    t = params[:, :2]
    gross_t = float(np.mean(np.hypot(t[:, 0], t[:, 1])))
    t_consistency = float(np.hypot(*t.mean(axis=0)) / gross_t) if gross_t > 0 else 0.0
    evidence: dict = {
        "camera_speed": speed,
        "shake": shake,
        "translation_consistency": t_consistency,
        "background": float(1.0 - own.mean()),
        "outlier_pairs": int((~keep).sum()),
    }
    if speed < STILL_SPEED and shake < HANDHELD_SHAKE:
        return CameraMotion.STATIC, 1.0 - 0.5 * speed / STILL_SPEED, evidence
    if shake >= HANDHELD_SHAKE and t_consistency < HANDHELD_MAX_CONSISTENCY:
        confidence = min(1.0, shake / (2 * HANDHELD_SHAKE)) * (1.0 - t_consistency)
        return CameraMotion.HANDHELD, confidence, evidence
    # components in fw/s at the grid: translation (as one), zoom and rotation times the radius
    per_pair = np.stack(
        [np.hypot(t[:, 0], t[:, 1]), params[:, 2] * radius, params[:, 3] * radius], axis=1
    )
    net_t = t.mean(axis=0)
    net = np.array([np.hypot(*net_t), abs(params[:, 2].mean()) * radius])
    net = np.append(net, abs(params[:, 3].mean()) * radius)
    winner = int(np.argmax(net))
    dominance = float(net[winner] / max(net.sum(), 1e-12))
    gross = float(np.abs(per_pair[:, winner]).mean())
    consistency = float(min(1.0, net[winner] / gross)) if gross > 0 else 0.0
    confidence = dominance * consistency
    evidence.update(
        dominance=dominance,
        consistency=consistency,
        components=dict(zip(("translation", "zoom", "roll"), net.tolist(), strict=True)),
    )
    if dominance < MIN_DOMINANCE or consistency < MIN_CONSISTENCY:
        return CameraMotion.COMPLEX, 1.0 - confidence, evidence
    if winner == 2:
        return CameraMotion.ROLL, confidence, evidence
    if winner == 1:
        zoom_in = params[:, 2].mean() > 0
        share = _radial_layers(params, grid, own, gx, gy)
        evidence["radial_parallax"] = share
        if share >= LAYER_MIN_PAIRS:
            dolly = CameraMotion.DOLLY_IN if zoom_in else CameraMotion.DOLLY_OUT
            return dolly, confidence * share, evidence
        return (CameraMotion.ZOOM_IN if zoom_in else CameraMotion.ZOOM_OUT), confidence, evidence
    tx, ty = net_t
    small, large = sorted((abs(tx), abs(ty)))
    if small >= DIAGONAL_SHARE * large:
        key = (int(np.sign(tx)), int(np.sign(ty)))
    elif abs(tx) >= abs(ty):
        key = (int(np.sign(tx)), 0)
    else:
        key = (0, int(np.sign(ty)))
    layers = _translation_layers(params, grid, own, net_t)
    evidence["layers"] = layers
    # a layer moving against the background is the strongest evidence (the blurred edges of
    # such a layer also read as held points), then a faster nearer layer, then a held subject
    share = layers["opposite"]
    if share >= LAYER_MIN_PAIRS and key[0] != 0 and key[1] == 0:
        arc = CameraMotion.ARC_RIGHT if key[0] > 0 else CameraMotion.ARC_LEFT
        return arc, confidence * share, evidence
    share = layers["parallax"]
    if share >= LAYER_MIN_PAIRS and key in _TRUCK:
        return _TRUCK[key], confidence * share, evidence
    share = layers["held"]
    if share >= LAYER_MIN_PAIRS:
        return CameraMotion.FOLLOW, confidence * share, evidence
    return _PAN[key], confidence, evidence


def _moving_pairs(params: np.ndarray) -> np.ndarray:
    return np.hypot(params[:, 0], params[:, 1]) >= STILL_SPEED


def _translation_layers(
    params: np.ndarray, grid: np.ndarray, own: np.ndarray, net_t: np.ndarray
) -> dict[str, float]:
    """Share of the moving pairs in which at least LAYER_MIN_FRACTION of the grid moves along
    the camera's axis (relative speed ``a`` along it, background = 1): held (|a| < HELD),
    opposite (a < OPPOSITE) or parallax (a > NEARER: a nearer layer, faster)."""
    moving = _moving_pairs(params)
    out = {"held": 0.0, "opposite": 0.0, "parallax": 0.0}
    if not moving.any():
        return out
    direction = net_t / max(float(np.hypot(*net_t)), 1e-12)
    t = params[moving, :2]
    along_t = matvec(t, direction)  # the background's speed along the axis, per pair
    valid = along_t > 0.5 * np.hypot(t[:, 0], t[:, 1])  # pairs moving along the clip's axis
    f = grid[moving]
    a = matvec(f, direction) / np.maximum(along_t, 1e-12)[:, None]
    cross = np.abs(f[..., 0] * direction[1] - f[..., 1] * direction[0])
    cross /= np.maximum(along_t, 1e-12)[:, None]
    collinear = own[moving] & (cross < LAYER_MAX_CROSS * np.abs(a - 1.0)) & valid[:, None]
    kinds = {
        "held": collinear & (np.abs(a) < HELD) & (a > OPPOSITE),
        "opposite": collinear & (a < OPPOSITE),
        "parallax": collinear & (a > NEARER),
    }
    for name, mask in kinds.items():
        out[name] = float((mask.mean(axis=1) >= LAYER_MIN_FRACTION).mean())
    return out


def _radial_layers(
    params: np.ndarray, grid: np.ndarray, own: np.ndarray, gx: np.ndarray, gy: np.ndarray
) -> float:
    """Share of the scaling pairs in which at least RADIAL_MIN_FRACTION of the grid moves off
    the fit radially (depth parallax of a dolly: near things grow faster than far ones)."""
    radius = np.maximum(np.hypot(gx, gy), 1e-6)
    scaling = np.abs(params[:, 2]) * float(radius.mean()) >= STILL_SPEED
    if not scaling.any():
        return 0.0
    model = np.stack(model_flow(params[scaling], gx, gy), axis=-1)
    res = grid[scaling] - model
    radial = (res[..., 0] * gx + res[..., 1] * gy) / radius
    tangential = np.abs(res[..., 1] * gx - res[..., 0] * gy) / radius
    layered = own[scaling] & (tangential < LAYER_MAX_CROSS * np.abs(radial))
    return float((layered.mean(axis=1) >= RADIAL_MIN_FRACTION).mean())
