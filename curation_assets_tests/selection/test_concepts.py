"""Concept clusters and inverse-square-root resampling weights."""

from __future__ import annotations

import numpy as np
import pytest

from curation_assets.selection.concepts import cluster, resampling_weights


def blobs(sizes: list[int], d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around well-separated random directions; truth = blob index."""
    rng = np.random.default_rng(seed)
    centers = np.eye(d, dtype=np.float32)[: len(sizes)]
    truth = np.repeat(np.arange(len(sizes)), sizes)
    x = centers[truth] + 0.05 * rng.standard_normal((len(truth), d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, truth


def test_clusters_recover_separated_blobs():
    x, truth = blobs([30, 50, 120])
    labels, sizes, centroids = cluster(x, k=3, seed=1)
    assert labels.shape == (200,) and centroids.shape == (3, 16)
    assert sorted(sizes.tolist()) == [30, 50, 120]
    for blob in range(3):  # every blob maps to exactly one cluster
        assert len(set(labels[truth == blob].tolist())) == 1
    assert sizes.tolist() == np.bincount(labels, minlength=3).tolist()


def test_kmeans_is_deterministic_for_a_seed():
    x = np.random.default_rng(5).standard_normal((500, 32)).astype(np.float32)
    first = cluster(x, k=8, seed=42, max_points_per_centroid=16, niter=5)
    second = cluster(x, k=8, seed=42, max_points_per_centroid=16, niter=5)
    np.testing.assert_array_equal(first.labels, second.labels)
    np.testing.assert_array_equal(first.centroids, second.centroids)


def test_k_is_clipped_to_the_number_of_points():
    x, _ = blobs([2, 2])
    result = cluster(x, k=10, seed=0)
    assert result.sizes.shape == (4,) and result.sizes.sum() == 4


@pytest.mark.parametrize(
    ("embeddings", "k", "message"),
    [
        (np.zeros((0, 4), np.float32), 2, "non-empty"),
        (np.full((3, 4), np.nan, np.float32), 2, "NaN"),
        (np.ones((3, 4), np.float32), 0, "k must be"),
    ],
)
def test_bad_input_raises(embeddings, k, message):
    with pytest.raises(ValueError, match=message):
        cluster(embeddings, k=k, seed=0)


def test_weights_are_inverse_sqrt_of_cluster_size_with_mean_one():
    labels = np.array([0] + [1] * 4 + [2] * 16)
    weights = resampling_weights(labels)
    # raw 1, 1/2, 1/4; raw sum 1 + 4/2 + 16/4 = 7 over 21 clips -> scale 3
    expected = np.array([3.0] + [1.5] * 4 + [0.75] * 16)
    np.testing.assert_allclose(weights, expected, rtol=0, atol=1e-12)
    assert weights.sum() == pytest.approx(21.0)
    # every cluster's total weight is proportional to sqrt(size): 3, 6, 12
    assert [weights[labels == c].sum() for c in range(3)] == pytest.approx([3.0, 6.0, 12.0])


def test_weights_accept_any_labels_and_are_uniform_for_equal_clusters():
    np.testing.assert_allclose(resampling_weights(np.array(["b", "a", "b", "a"])), [1.0] * 4)
    assert resampling_weights(np.array([], dtype=np.int64)).shape == (0,)
    with pytest.raises(ValueError, match="one-dimensional"):
        resampling_weights(np.zeros((2, 2)))
