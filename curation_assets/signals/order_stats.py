"""Per-pixel medians and quantiles over a stack of samples, bit for bit NumPy's, faster.

``np.median(stack, axis=0)`` partitions a strided (n, h, w) stack one pixel column at a time,
~40 ms for 12 samples of 456x256, and the watermark analyzer needs four such statistics per clip
(it was half of ``visual_filter``'s CPU). Sorting each pixel's n values as contiguous rows takes
NumPy's SIMD sort ~5 ms; the order statistics are then read off and combined exactly as
``np.median`` and ``np.quantile`` (method ``linear``) combine them, so every score is unchanged
(``curation_assets_tests/signals/test_order_stats.py`` compares them).
"""

from __future__ import annotations

import math

import numpy as np


class PixelOrder:
    """Each pixel's values over the samples of an (n, h, w) stack, sorted."""

    def __init__(self, stack: np.ndarray) -> None:
        self.n, *self.shape = stack.shape
        # a copy for any n > 1 (one value per row is already sorted), sorted in place
        self.rows = np.ascontiguousarray(stack.reshape(self.n, -1).T)
        self.rows.sort(axis=1)

    def median(self) -> np.ndarray:
        k = self.n // 2
        if self.n % 2:
            return self.rows[:, k].reshape(self.shape)
        # np.median: the mean of the two middle values (float32 sum, then / 2)
        return np.mean(self.rows[:, k - 1 : k + 1], axis=1).reshape(self.shape)

    def quantile(self, q: float) -> np.ndarray:
        """``np.quantile(stack, q, axis=0)`` with a Python float ``q`` (method ``linear``)."""
        n = self.n
        # numpy's virtual index for alpha = beta = 1, written as numpy computes it
        virtual = n * q + (1.0 + q * (1.0 - 1.0 - 1.0)) - 1.0
        below = min(max(int(math.floor(virtual)), 0), n - 1)
        above = min(below + 1, n - 1)
        gamma = virtual - below if 0 <= virtual < n - 1 else 0.0
        a, b = self.rows[:, below], self.rows[:, above]
        diff = b - a
        out = a + diff * gamma
        if gamma >= 0.5:
            out = b - diff * (1 - gamma)
        return out.reshape(self.shape)
