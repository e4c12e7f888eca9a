"""Fine-tune expansion ("more like these seeds"): nearest neighbours per theme, diversified, one
theme per clip, near copies and seeds excluded, what cannot be done reported."""

from __future__ import annotations

import numpy as np
import pytest

from curation_assets.selection.expansion import (
    Hits,
    Seed,
    expand,
    merge_hits,
    nearest,
    search,
    search_depth,
    select,
    unit_rows,
)


def _pool(seed: int = 0, per_cluster: int = 40, clusters: int = 5, dim: int = 32):
    """Clusters of unit vectors; ids name their cluster ("c2-017")."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)) * 3
    ids, rows = [], []
    for c in range(clusters):
        for i in range(per_cluster):
            ids.append(f"c{c}-{i:03d}")
            rows.append(centres[c] + rng.standard_normal(dim))
    return ids, unit_rows(np.asarray(rows))


def test_nearest_is_exact_and_ordered() -> None:
    ids, pool = _pool()
    queries = pool[[3, 70, 150]]
    sims, rows = nearest(queries, pool, 10, chunk=17)  # chunks that do not divide the pool
    brute = queries @ pool.T
    for q in range(3):
        expected = np.argsort(-brute[q], kind="stable")[:10]
        assert rows[q].tolist() == expected.tolist()
        assert np.allclose(sims[q], brute[q][expected])
    assert rows[0][0] == 3 and sims[0][0] == pytest.approx(1.0)


def test_neighbours_come_from_each_theme_seeds_cluster_and_never_twice() -> None:
    ids, pool = _pool()
    vectors = dict(zip(ids, pool, strict=True))
    seeds = [
        Seed("c1-000", "forest"),
        Seed("c1-001", "forest"),
        Seed("c3-000", "city"),
        Seed("c4-005"),  # no theme: its own
    ]
    result = expand(seeds, vectors, ids, pool, k=10)
    assert not result.problems
    by_theme: dict[str, list] = {}
    for n in result.neighbours:
        by_theme.setdefault(n.theme, []).append(n)
    assert sorted(by_theme) == ["city", "forest", "seed:c4-005"]
    assert [n.clip_id[:2] for n in by_theme["forest"]] == ["c1"] * 10
    assert [n.clip_id[:2] for n in by_theme["city"]] == ["c3"] * 10
    assert [n.clip_id[:2] for n in by_theme["seed:c4-005"]] == ["c4"] * 10
    picked = [n.clip_id for n in result.neighbours]
    assert len(picked) == len(set(picked)), "a clip goes to one theme only"
    assert not {s.clip_id for s in seeds} & set(picked), "seeds are not their own neighbours"
    for n in by_theme["forest"]:
        assert n.neighbour_of in {"c1-000", "c1-001"}
        best = max(float(vectors[n.clip_id] @ vectors[s]) for s in ("c1-000", "c1-001"))
        assert n.similarity == pytest.approx(best, abs=1e-5)
    assert [n.rank for n in by_theme["city"]] == list(range(1, 11))
    again = expand(seeds, vectors, ids, pool, k=10)
    assert again.neighbours == result.neighbours  # deterministic


def test_near_copies_are_picked_once_and_relevance_trades_against_redundancy() -> None:
    ids, pool = _pool()
    # ten exact copies of one clip next to the seed, plus the ordinary cluster
    copies = [f"copy-{i}" for i in range(10)]
    ids2 = ids + copies
    pool2 = np.concatenate([pool, np.repeat(pool[[41]], 10, axis=0)])
    vectors = dict(zip(ids2, pool2, strict=True))
    result = expand([Seed("c1-000", "t")], vectors, ids2, pool2, k=8)
    picked = [n.clip_id for n in result.neighbours]
    assert sum(c in copies or c == "c1-001" for c in picked) == 1
    # lambda 1 (relevance only) is the plain top-k, minus copies
    plain = expand([Seed("c1-000", "t")], vectors, ids, pool, k=5, mmr_lambda=1.0)
    sims = pool[ids.index("c1-000")] @ pool.T
    order = [ids[i] for i in np.argsort(-sims, kind="stable") if ids[i] != "c1-000"][:5]
    assert [n.clip_id for n in plain.neighbours] == order


def test_per_concept_cap() -> None:
    ids, pool = _pool()
    concept = {c: ("a" if int(c.split("-")[1]) % 2 else "b") for c in ids}
    result = expand(
        [Seed("c2-000", "t")], dict(zip(ids, pool, strict=True)), ids, pool, k=10,
        per_concept=3, concept_of=concept,
    )  # fmt: skip
    kinds = [concept[n.clip_id] for n in result.neighbours]
    assert sorted(kinds) == ["a"] * 3 + ["b"] * 3
    assert result.problems == [
        {
            "theme": "t",
            "problem": "only 6 of 10 neighbours (pool 200, near copies and other themes' picks "
            "excluded)",
        }
    ]


def test_what_cannot_be_done_is_reported_not_raised() -> None:
    ids, pool = _pool()
    vectors = dict(zip(ids, pool, strict=True))
    result = expand([Seed("gone", "t"), Seed("c0-000", "t")], vectors, ids, pool, k=3)
    assert {"seed": "gone", "theme": "t", "problem": "no stored embedding"} in result.problems
    assert len(result.neighbours) == 3
    empty = expand([Seed("c0-000")], vectors, [], np.zeros((0, 32), np.float32), k=3)
    assert empty.neighbours == [] and "empty pool" in empty.problems[0]["problem"]
    small = expand([Seed("c0-000", "t")], vectors, ids[:4], pool[:4], k=10)
    assert len(small.neighbours) == 3 and "only 3 of 10" in small.problems[0]["problem"]
    with pytest.raises(ValueError, match="k must be"):
        expand([Seed("c0-000")], vectors, ids, pool, k=0)


def test_searching_the_pool_in_parts_and_merging_is_one_search_bit_for_bit() -> None:
    """What the incremental asset relies on: a new shard searched alone, merged with what earlier
    shards left, gives the hits (and then the picks) of one search of everything, ties and
    similarities included, whatever order the parts come in."""
    ids, pool = _pool(seed=4, per_cluster=60)
    # exact copies of clips near the seeds (ties), and a few rows not quite unit length
    ids = ids + [f"dup-{i:02d}" for i in range(12)]
    pool = np.concatenate([pool, pool[[10, 1, 2, 3, 80, 61, 62, 63, 125, 121, 122, 123]]])
    pool[[5, 70]] *= 1.5
    vectors = dict(zip(ids, pool, strict=True))
    concept = {c: ("a" if int(c.split("-")[1]) % 3 else "b") for c in ids}
    seeds = [Seed("c0-010", "x"), Seed("c0-011", "x"), Seed("c1-020", "y"), Seed("c2-005")]
    settings = {"mmr_lambda": 0.6, "per_concept": 4, "concept_of": concept}
    whole = expand(seeds, vectors, ids, pool, k=8, candidates=24, **settings)
    assert len(whole.neighbours) == 24 and not whole.problems

    queries = unit_rows(np.stack([vectors[s.clip_id] for s in seeds]))
    depth = search_depth(8, len(seeds), 24)
    assert depth == 28 and len(ids) > 10 * depth  # every part's hits are cut at the depth
    one = search(queries, ids, unit_rows(pool), None, depth)
    rng = np.random.default_rng(0)
    part_of = rng.integers(0, 3, len(ids))  # three interleaved parts ("shards")
    for order in ([0, 1, 2], [2, 0, 1]):
        hits, found_vectors = Hits.empty(len(seeds)), {}
        for part in order:
            rows = np.flatnonzero(part_of == part)
            unit = unit_rows(pool[rows])
            found = search(queries, [ids[r] for r in rows], unit, rows, depth)
            found_vectors.update({ids[r]: unit[j] for j, r in enumerate(rows)})
            hits = merge_hits(hits, found, depth)
        assert np.array_equal(hits.ids, one.ids) and np.array_equal(hits.keys, one.keys)
        assert hits.sims.tobytes() == one.sims.tobytes()
        picked = select(seeds, seeds, hits, found_vectors, 8, len(ids), **settings)
        assert picked.neighbours == whole.neighbours and picked.problems == whole.problems
    # ties: an exact copy of a seed comes right after it (the pool's order), same similarity
    first = one.ids[0].tolist()
    assert first[:2] == ["c0-010", "dup-00"] and one.sims[0][0] == one.sims[0][1]
