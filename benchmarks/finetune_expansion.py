"""How fast is "more like these seeds" over a large pool?

Usage: .venv/bin/python benchmarks/finetune_expansion.py [--pool 1000000] [--dim 512]
       [--seeds 100] [--themes 20] [--k 50]

Synthetic unit vectors in clusters (like clip embeddings of a real pool: concepts with spread),
100 seeds spread over 20 themes, k neighbours per theme. In one run:

  brute     the obvious code: every seed against the whole pool with one NumPy matrix product,
            then a full argsort per seed (the same exact answer, no heap)
  expand    ``selection.expansion.expand``: chunked exact inner-product search (top candidates per
            seed), union per theme, round-robin maximal-marginal-relevance picks with the
            near-copy and one-theme-per-clip rules

It checks that expand's candidates are the brute force's top hits (recall of the exact search)
and prints both times and the ratio. Target (issue 17): expand < 10 s for 100 seeds over 1M.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation_assets.selection.expansion import Seed, expand, nearest, unit_rows  # noqa: E402


def pool_vectors(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    out = np.empty((n, dim), np.float32)
    step = 100_000
    for start in range(0, n, step):
        end = min(n, start + step)
        which = rng.integers(0, clusters, end - start)
        out[start:end] = centres[which] + 0.8 * rng.standard_normal((end - start, dim), np.float32)
    return unit_rows(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--themes", type=int, default=20)
    parser.add_argument("--k", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    vectors = pool_vectors(args.pool, args.dim, clusters=2000, seed=0)
    ids = [f"clip-{i:08d}" for i in range(args.pool)]
    rng = np.random.default_rng(1)
    seed_rows = rng.choice(args.pool, args.seeds, replace=False)
    seeds = [Seed(ids[r], f"theme-{i % args.themes:02d}") for i, r in enumerate(seed_rows)]
    seed_vectors = {ids[r]: vectors[r] for r in seed_rows}
    print(
        f"pool {args.pool:,} x {args.dim} float32 ({vectors.nbytes / 2**30:.1f} GiB), made in "
        f"{time.perf_counter() - started:.1f} s; {args.seeds} seeds in {args.themes} themes, "
        f"k={args.k}"
    )

    queries = vectors[seed_rows]
    top = max(4 * args.k, 64)
    started = time.perf_counter()
    brute_top = np.argsort(-(vectors @ queries.T), axis=0)[:top].T
    brute = time.perf_counter() - started

    started = time.perf_counter()
    result = expand(seeds, seed_vectors, ids, vectors, args.k)
    took = time.perf_counter() - started

    _, rows = nearest(queries, vectors, top)
    recall = np.mean([len(set(a) & set(b)) / top for a, b in zip(rows, brute_top, strict=True)])
    per_theme = {}
    for n in result.neighbours:
        per_theme[n.theme] = per_theme.get(n.theme, 0) + 1
    print(f"brute   {brute:7.2f} s  (matrix product + full argsort per seed)")
    print(
        f"expand  {took:7.2f} s  ({len(result.neighbours)} neighbours, "
        f"{min(per_theme.values(), default=0)}-{max(per_theme.values(), default=0)} per theme, "
        f"{len(result.problems)} problems); exact-search recall vs brute {recall:.3f}"
    )
    print(f"expand / brute: {took / brute:.2f}x; target < 10 s: {'met' if took < 10 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
