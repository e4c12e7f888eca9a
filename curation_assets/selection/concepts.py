"""Concept balancing: cluster clip embeddings, then resample clusters by 1/sqrt(size).

Movie Gen and HunyuanVideo cluster embeddings into concepts (HunyuanVideo: ~10k centroids at
scale) and down-weight crowded concepts so that the long tail is not drowned out. Here the
embeddings may be real model embeddings or the offline thumbnail ones: unlike copy detection,
concepts only need "looks alike", which thumbnails do give.
"""

from __future__ import annotations

from typing import NamedTuple

import faiss
import numpy as np


class Clusters(NamedTuple):
    labels: np.ndarray  # (n,) int64, cluster of every point
    sizes: np.ndarray  # (k,) int64, points per cluster (a cluster may end up empty)
    centroids: np.ndarray  # (k, d) float32


def cluster(
    embeddings: np.ndarray,
    k: int,
    seed: int,
    max_points_per_centroid: int = 256,
    niter: int = 20,
    *,
    spherical: bool = True,
) -> Clusters:
    """k-means (``faiss.Kmeans``) over the embeddings; every point is then assigned.

    ``k`` is clipped to the number of points. Training subsamples to ``k *
    max_points_per_centroid`` points (faiss's own sampling, seeded), which keeps the cost
    bounded at scale much like mini-batch k-means; all points are assigned afterwards.
    ``spherical`` re-normalises centroids, the right geometry for unit-norm embeddings.
    Deterministic for a given seed and input.
    """
    x = np.ascontiguousarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"embeddings must be a non-empty (n, d) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if max_points_per_centroid < 1 or niter < 1:
        raise ValueError("max_points_per_centroid and niter must be >= 1")
    n, d = x.shape
    k = min(k, n)
    kmeans = faiss.Kmeans(
        d,
        k,
        niter=niter,
        seed=seed,
        spherical=spherical,
        max_points_per_centroid=max_points_per_centroid,
        min_points_per_centroid=1,  # small k or n: no warning noise, same result
        verbose=False,
    )
    kmeans.train(x)
    _, assigned = kmeans.index.search(x, 1)
    labels = assigned[:, 0].astype(np.int64)
    sizes = np.bincount(labels, minlength=k).astype(np.int64)
    return Clusters(labels, sizes, np.asarray(kmeans.centroids, dtype=np.float32))


def resampling_weights(labels: np.ndarray) -> np.ndarray:
    """Weight of every clip: 1/sqrt(size of its cluster), scaled so the mean weight is 1.

    Movie Gen's inverse-square-root resampling. Normalised so that the weights sum to the number
    of clips: a weight above 1 means "sample this clip more often than uniform". Example:
    clusters of sizes 1, 4 and 16 give raw weights 1, 1/2 and 1/4 (sum 1 + 2 + 4 = 7 over 21
    clips), hence weights 3, 1.5 and 0.75. Labels may be any comparable values.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    if labels.size == 0:
        return np.empty(0, dtype=np.float64)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    raw = 1.0 / np.sqrt(counts[inverse].astype(np.float64))
    return raw * (labels.size / raw.sum())


LABEL_PREFIX = {"video": "", "image": "image:"}
"""Concept labels per media kind: videos keep ``c00000``..., images are ``image:c00000``..."""


class KindConcepts(NamedTuple):
    labels: list[str]  # per point, e.g. "c00012" (video) or "image:c00003" (image)
    weights: np.ndarray  # (n,) 1/sqrt(cluster size), mean 1 within each media kind
    k: dict[str, int]  # media kind -> clusters asked for (clipped to its points)
    sizes: dict[str, list[int]]  # media kind -> points per cluster


def cluster_per_kind(
    embeddings: np.ndarray, kinds: list[str], k: int, seed: int, niter: int = 20
) -> KindConcepts:
    """Concepts computed separately per media kind (videos with videos, images with images).

    Each kind gets its own k-means (``k`` clipped to its points) and its own 1/sqrt(cluster
    size) weights normalised to mean 1 within the kind, so the overall mean stays 1 and a kind's
    weights do not depend on how many clips of the other kind there are. Kinds other than video
    and image are prefixed with their own name.
    """
    kinds = [str(m) for m in kinds]
    if len(kinds) != len(embeddings):
        raise ValueError(f"{len(kinds)} kinds for {len(embeddings)} embeddings")
    labels: list[str] = [""] * len(kinds)
    weights = np.zeros(len(kinds), np.float64)
    out_k: dict[str, int] = {}
    sizes: dict[str, list[int]] = {}
    for kind in sorted(set(kinds)):
        rows = np.flatnonzero(np.asarray(kinds, dtype=object) == kind)
        found = cluster(embeddings[rows], k, seed, niter=niter)
        prefix = LABEL_PREFIX.get(kind, f"{kind}:")
        for row, label in zip(rows.tolist(), found.labels.tolist(), strict=True):
            labels[row] = f"{prefix}c{label:05d}"
        weights[rows] = resampling_weights(found.labels)
        out_k[kind] = len(found.sizes)
        sizes[kind] = [int(s) for s in found.sizes]
    return KindConcepts(labels, weights, out_k, sizes)
