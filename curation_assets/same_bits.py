"""Products and fits that give the same bits on every machine.

NumPy's ``@``, ``dot``, ``linalg.norm`` of a whole array, ``linalg.solve`` and ``polyfit`` hand
the work to BLAS and LAPACK, and OpenBLAS picks its kernels by CPU model and thread count: the
same optical flow gave camera scores 1 ulp apart on an AMD EPYC and an Intel Xeon, and under
one-core affinity, so the stored scores and the golden demo changed with the machine.
``np.einsum`` (without ``optimize``) and elementwise products followed by ``sum`` run NumPy's
own loops, whose order of additions does not depend on the CPU
(``curation_assets_tests/test_same_bits.py`` checks it under other OpenBLAS kernels, one BLAS
thread and NumPy's SIMD dispatch turned down). Use these wherever a result is stored or decides
something; BLAS stays where only speed matters and the result is recomputed (``selection/
expansion.py``'s candidate search).
"""

from __future__ import annotations

import numpy as np


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` (leading axes broadcast), without BLAS."""
    return np.einsum("...ij,...jk->...ik", a, b)


def matvec(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``a @ x`` for a vector ``x`` (the last axis of ``a`` is summed), without BLAS."""
    return np.einsum("...j,j->...", a, x)


def norm(x: np.ndarray) -> float:
    """The Euclidean length of all of ``x``."""
    flat = np.ravel(x)
    return float(np.sqrt(np.einsum("i,i->", flat, flat)))


def line_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line ``y ~ intercept + slope * x``: (intercept, slope), one per column of
    ``y`` (shape (n,) or (n, k)); what ``polyfit(x, y, 1)`` fits, in closed form."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    dx = x - x.mean()
    ym = y.mean(axis=0)
    spread = float(np.einsum("i,i->", dx, dx))
    slope = np.einsum("i,i...->...", dx, y - ym) / spread if spread > 0 else np.zeros_like(ym)
    return ym - slope * x.mean(), slope
