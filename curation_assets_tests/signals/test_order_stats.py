"""PixelOrder gives NumPy's own per-pixel medians and quantiles, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from curation_assets.signals.order_stats import PixelOrder


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7, 8, 12, 13, 31, 32, 40])
def test_median_and_quantile_equal_numpys(n):
    rng = np.random.default_rng(n)
    stack = rng.normal(0, 20, (n, 37, 53)).astype(np.float32)
    stack[:, :5] = np.round(stack[:, :5])  # ties, as in 8-bit grey samples
    stack[:, 5:8] = 3.0  # all equal
    before = stack.copy()
    order = PixelOrder(stack)
    assert np.array_equal(stack, before)  # the samples are left as they were
    assert np.array_equal(order.median(), np.median(stack, axis=0))
    for q in (0.0, 0.1, 0.25, 0.5, 0.9, 1.0):
        got, want = order.quantile(q), np.quantile(stack, q, axis=0)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want), q
