"""How does cross-shard dedup scale? Index + range-search N clips arriving in 10 shards.

Usage: .venv/bin/python benchmarks/dedup_scale.py [--sizes 100000 [1000000]] [--shards 10]

For each N, in a fresh subprocess (so that peak RSS is per size), it synthesises:

  hashes      N random 3 x 64-bit pHashes; a planted fraction (--dup-fraction, default 1%) of
              rows are copies of other rows with 0-4 bits flipped in each of the three hashes
  embeddings  N random unit 512-d float32 vectors; the same planted rows are copies with noise
              (cosine ~0.995, all above the 0.99 threshold)

then feeds them to ``DuplicateIndex.add_shard`` as 10 shards of N/10 (incremental: each shard
is compared with all earlier ones and itself, state saved to disk after each), and reports:

  seconds     phash search, embedding search, saving, per kind, summed over the 10 shards
  recall      planted pairs found as edges of that kind; "extra" = edges not planted
  naive       an all-pairs numpy baseline timed on a subsample and extrapolated to N(N-1)/2
              pairs (hashes: a row loop of XOR + popcount; embeddings: blocked matmul)
  peak RSS    ``ru_maxrss`` of the subprocess (includes the synthetic data itself)

Embeddings: exact ``IndexFlatIP`` up to ``--ivf-after`` (default 100k) vectors, then IVF-Flat
(``--ivf-nlist`` lists, ``--ivf-nprobe`` probed). Exact search costs O(N^2 d): ~2.5e14 flops at
1M x 512, hours on 2 cores. IVF cuts each query to nprobe/nlist of the data plus nlist centroid
distances; near-copies at cosine >= 0.99 almost always fall in the same list as their source, so
recall stays near 1 while random pairs are never close. HNSW would also work but building a 1M x
512 graph on 2 cores takes longer than the whole IVF run and its range search is k-NN + cut.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation_assets.selection.dedup import DedupSettings, DuplicateIndex  # noqa: E402

DIM = 512
COPY_NOISE = 0.0044  # per-dimension sigma: cosine ~ 1 / sqrt(1 + 512 sigma^2) ~ 0.995


def synthesize(n: int, dup_fraction: float, seed: int):
    """Hashes, embeddings and the planted (source, copy) row pairs."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 256, (n, 24), dtype=np.uint8)
    m = int(n * dup_fraction)
    perm = rng.permutation(n)
    sources, copies = perm[:m], perm[m : 2 * m]  # a copy is never itself a source
    words = hashes.view(np.uint64)  # (n, 3)
    words[copies] = words[sources]
    flips = rng.integers(0, 5, (m, 3))
    for j in range(4):
        bits = rng.integers(0, 64, (m, 3)).astype(np.uint64)
        words[copies] ^= np.where(j < flips, np.uint64(1) << bits, np.uint64(0))

    embeddings = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        embeddings[start : start + len(block)] = block
    noisy = embeddings[sources] + COPY_NOISE * rng.standard_normal((m, DIM), dtype=np.float32)
    embeddings[copies] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    pairs = np.sort(np.stack([sources, copies], axis=1), axis=1)
    return hashes, embeddings, pairs


def naive_hash_seconds_per_pair(hashes: np.ndarray, sample: int) -> float:
    words = hashes[:sample].view(np.uint64)
    started = time.perf_counter()
    for i in range(len(words) - 1):
        dist = np.bitwise_count(words[i] ^ words[i + 1 :])
        np.flatnonzero((dist <= 8).all(axis=1))
    pairs = sample * (sample - 1) / 2
    return (time.perf_counter() - started) / pairs


def naive_embedding_seconds_per_pair(embeddings: np.ndarray, sample: int) -> float:
    x = embeddings[:sample]
    started = time.perf_counter()
    for start in range(0, sample, 2048):
        sim = x[start : start + 2048] @ x[start:].T
        np.nonzero(sim >= 0.99)
    pairs = sample * (sample - 1) / 2
    return (time.perf_counter() - started) / pairs


def recall(edges, kind: str, planted: np.ndarray, n: int) -> tuple[float, int]:
    import polars as pl

    found = edges.filter(pl.col("kind") == kind).select(
        pl.col("clip_a").str.slice(1).cast(pl.Int64), pl.col("clip_b").str.slice(1).cast(pl.Int64)
    )
    found_keys = found["clip_a"].to_numpy() * n + found["clip_b"].to_numpy()
    planted_keys = planted[:, 0] * n + planted[:, 1]
    hit = np.isin(planted_keys, found_keys).sum()
    extra = int((~np.isin(found_keys, planted_keys)).sum())
    return float(hit / len(planted_keys)), extra


def worker(args: argparse.Namespace) -> dict:
    n = args.worker
    started = time.perf_counter()
    hashes, embeddings, planted = synthesize(n, args.dup_fraction, args.seed)
    seconds_synth = time.perf_counter() - started
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    ids = np.array([f"c{i:08d}" for i in range(n)], dtype=object)
    settings = DedupSettings(
        ivf_after=args.ivf_after, ivf_nlist=args.ivf_nlist, ivf_nprobe=args.ivf_nprobe
    )
    totals = {"phash": 0.0, "embedding": 0.0, "save": 0.0}
    with tempfile.TemporaryDirectory() as state:
        index = DuplicateIndex(state, settings)
        wall = time.perf_counter()
        for rows in np.array_split(np.arange(n), args.shards):
            report = index.add_shard(
                f"s{rows[0]}",
                ids[rows].tolist(),
                hashes[rows],
                embeddings[rows],
                embedding_model="synthetic-512",
            )
            totals["phash"] += report.seconds_phash
            totals["embedding"] += report.seconds_embedding
            totals["save"] += report.seconds_save
        wall = time.perf_counter() - wall
        state_mb = sum(p.stat().st_size for p in Path(state).rglob("*") if p.is_file()) / 2**20
        edges = index.edges
        counters = index.counters
        search = index.embedding_search
    hash_recall, hash_extra = recall(edges, "phash", planted, n)
    emb_recall, emb_extra = recall(edges, "embedding", planted, n)
    all_pairs = n * (n - 1) / 2
    return {
        "n": n,
        "seconds_synth": seconds_synth,
        "seconds_wall": wall,
        "seconds": totals,
        "planted": len(planted),
        "phash": {"recall": hash_recall, "extra": hash_extra},
        "embedding": {"recall": emb_recall, "extra": emb_extra, "search": search},
        "naive_phash_s": naive_hash_seconds_per_pair(hashes, args.naive_sample) * all_pairs,
        "naive_embedding_s": naive_embedding_seconds_per_pair(embeddings, args.naive_sample * 4)
        * all_pairs,
        "pairs_covered": counters["comparisons_new_vs_old"] + counters["comparisons_new_vs_new"],
        "old_vs_old": counters["comparisons_old_vs_old"],
        "state_mb": state_mb,
        "rss_data_gb": rss_data,
        "rss_peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000])  # 1M: ~20 min here
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--dup-fraction", type=float, default=0.01)
    parser.add_argument("--ivf-after", type=int, default=100_000)
    parser.add_argument("--ivf-nlist", type=int, default=1024)
    parser.add_argument("--ivf-nprobe", type=int, default=8)
    parser.add_argument("--naive-sample", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return

    results = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--worker", str(n)]
        for name in ("shards", "dup_fraction", "ivf_after", "ivf_nlist", "ivf_nprobe",
                     "naive_sample", "seed"):  # fmt: skip
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(f"done N={n}: {results[-1]['seconds_wall']:.1f} s", file=sys.stderr, flush=True)

    print(f"{args.shards} shards each, planted {args.dup_fraction:.0%} near-copies, 2-core machine")
    header = (
        f"{'N':>9} {'kind':<10} {'search':<7} {'index+search s':>14} {'naive s (extrap.)':>17} "
        f"{'speedup':>8} {'recall':>7} {'extra':>6}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        for kind, naive in (("phash", r["naive_phash_s"]), ("embedding", r["naive_embedding_s"])):
            seconds = r["seconds"][kind]
            search = "exact" if kind == "phash" or r["embedding"]["search"] == "flat" else "ivf"
            print(
                f"{r['n']:>9,} {kind:<10} {search:<7} {seconds:>14.1f} {naive:>17.0f} "
                f"{naive / seconds:>7.0f}x {r[kind]['recall']:>7.4f} {r[kind]['extra']:>6}"
            )
    print()
    print(f"{'N':>9} {'wall s':>7} {'save s':>7} {'state MB':>9} {'RSS data GB':>12} "
          f"{'RSS peak GB':>12} {'pairs covered':>15} {'old x old':>9}")  # fmt: skip
    for r in results:
        print(
            f"{r['n']:>9,} {r['seconds_wall']:>7.1f} {r['seconds']['save']:>7.1f} "
            f"{r['state_mb']:>9.0f} {r['rss_data_gb']:>12.2f} {r['rss_peak_gb']:>12.2f} "
            f"{r['pairs_covered']:>15.3g} {r['old_vs_old']:>9}"
        )


if __name__ == "__main__":
    main()
