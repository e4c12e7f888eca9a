"""Fine-tune pool expansion: "more like these seeds", the way Movie Gen grows its fine-tune set.

People pick a few seed clips of the kind they want (optionally under a theme, such as "slow
cinematic landscape"); the pool is expanded with the seeds' nearest neighbours in embedding
space among clips that already pass the strictest pre-training stage. No Dagster here.

- Search: exact inner product over unit vectors (``nearest``: a matrix product per chunk of the
  pool and a partial sort), ``candidates`` per seed.
- A theme's candidates are the union of its seeds' candidates, each scored by its best seed.
- Selection: themes take turns (round robin, themes in name order), each picking its next clip
  by maximal marginal relevance, ``lambda * sim(theme) - (1 - lambda) * max sim(picked)``, so
  the k clips of a theme are not k copies of one shot; a clip goes to one theme only, never a
  seed, never one within ``copy_similarity`` of a clip already picked (a near copy), and at most
  ``per_concept`` clips of one concept per theme.
- What cannot be done is said, never raised: a seed with no stored embedding, a theme with fewer
  neighbours than k, an empty pool (``problems``).
- In parts: ``expand`` is ``search`` (each seed's ``search_depth`` nearest clips, ``Hits``) then
  ``select`` (the themes' picks). Hits of two parts of the pool merge (``merge_hits``) into the
  hits of the whole: the top over a union is the top of the parts' tops, ties broken by the
  pool's order (``keys``), each pair's cosine computed alone (``search``), so a new shard is
  searched alone and merged with what earlier shards left, bit for bit a search of everything.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from curation_assets.same_bits import matvec

NO_THEME = ""


@dataclass(frozen=True)
class Seed:
    clip_id: str
    theme: str = NO_THEME  # "" -> the seed is its own theme ("seed:<clip_id>")
    marked_by: str = ""
    marked_at: str = ""  # ISO 8601, UTC
    source: str = "review"  # review (the review page) or file (finetune.seeds_file)

    @property
    def theme_key(self) -> str:
        return self.theme or f"seed:{self.clip_id}"


@dataclass(frozen=True)
class Neighbour:
    theme: str
    clip_id: str
    neighbour_of: str  # the seed it is most similar to
    similarity: float  # cosine to that seed
    rank: int  # 1-based, in the order the theme picked it


@dataclass
class Expansion:
    neighbours: list[Neighbour] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)
    searched: int = 0  # pool clips searched


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1; stored embeddings already are, and then come back uncopied.

    Row by row (a row's result never depends on the others), so a clip's vector is the same
    bits whether its shard is searched alone or with every other shard."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    off = np.abs(norms - 1.0) >= 1e-4
    if not off.any():
        return vectors
    out = vectors.copy()
    out[off] = vectors[off] / np.maximum(norms[off], 1e-12)[:, None]
    return out


def nearest(
    queries: np.ndarray, pool: np.ndarray, top: int, chunk: int = 65536
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, row indices), each (queries, top), best first; exact, unit vectors in.

    One matrix product per chunk of the pool and a partial sort of each chunk's scores: no
    index to build or keep (the pool changes with every shard) and no copy of the pool. On
    2 cores this beat faiss's flat index 2x (its OpenMP threads spin when the machine is busy).
    """
    top = min(top, len(pool))
    nq = len(queries)
    if top == 0 or nq == 0:
        return np.zeros((nq, 0), np.float32), np.zeros((nq, 0), np.int64)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    best_sims = np.full((nq, 0), -np.inf, np.float32)
    best_rows = np.zeros((nq, 0), np.int64)
    for start in range(0, len(pool), chunk):
        scores = queries @ pool[start : start + chunk].T
        keep = min(top, scores.shape[1])
        part = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
        sims = np.concatenate([best_sims, np.take_along_axis(scores, part, axis=1)], axis=1)
        rows = np.concatenate([best_rows, part + start], axis=1)
        # ties: the lower row first (stable order of the pool)
        order = np.lexsort((rows, -sims), axis=1)[:, :top]
        best_sims = np.take_along_axis(sims, order, axis=1)
        best_rows = np.take_along_axis(rows, order, axis=1)
    return best_sims, best_rows


SEARCH_MARGIN = 16  # extra nearest clips each search re-scores, beyond its depth


def search_depth(k: int, seeds: int, candidates: int | None = None) -> int:
    """Nearest clips each seed keeps: enough for k picks per theme once seeds, near copies and
    other themes' picks are set aside."""
    return (candidates or max(4 * k, 64)) + seeds


@dataclass
class Hits:
    """Each query's nearest pool clips, best first (ties: the lower key first); one row per
    query, every row the same length (``min(depth, pool)``)."""

    ids: np.ndarray  # (queries, m) clip ids
    sims: np.ndarray  # (queries, m) float32 cosine, each pair computed alone
    keys: np.ndarray  # (queries, m) int64: the clip's place in the pool's order

    @classmethod
    def empty(cls, queries: int) -> Hits:
        return cls(
            np.zeros((queries, 0), dtype="<U1"),
            np.zeros((queries, 0), np.float32),
            np.zeros((queries, 0), np.int64),
        )


def pair_similarities(queries: np.ndarray, vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(queries, m) float32 cosine of query q to ``vectors[rows[q]]``, in float64, one row at a
    time: a matrix product's rounding depends on the shapes multiplied (how much of the pool is
    searched at once), this does not."""
    out = np.empty(rows.shape, np.float32)
    for q in range(len(queries)):
        block = vectors[rows[q]].astype(np.float64)
        out[q] = matvec(block, queries[q].astype(np.float64))
    return out


def search(
    queries: np.ndarray,
    ids: Sequence[str],
    vectors: np.ndarray,
    keys: np.ndarray | None,
    depth: int,
) -> Hits:
    """Each query's ``depth`` nearest rows of (a part of) the pool; unit vectors in, ``keys``
    the rows' places in the whole pool's order (None: the row numbers).

    ``nearest`` (a matrix product) finds ``depth + SEARCH_MARGIN`` per query; those are
    re-scored one pair at a time (``pair_similarities``) and the best ``depth`` kept, ordered by
    (similarity, key). A part's hits are then exactly the whole pool's hits restricted to that
    part, which is what ``merge_hits`` needs."""
    nq = len(queries)
    _, rows = nearest(queries, vectors, depth + SEARCH_MARGIN)
    if rows.shape[1] == 0 or depth < 1:
        return Hits.empty(nq)
    sims = pair_similarities(queries, vectors, rows)
    keys = np.arange(len(vectors), dtype=np.int64) if keys is None else np.asarray(keys, np.int64)
    found = keys[rows]
    order = np.lexsort((found, -sims), axis=1)[:, :depth]
    rows = np.take_along_axis(rows, order, axis=1)
    names = np.asarray([[ids[r] for r in row] for row in rows.tolist()], dtype=str)
    return Hits(
        names.reshape(rows.shape),
        np.take_along_axis(sims, order, axis=1),
        np.take_along_axis(found, order, axis=1),
    )


def merge_hits(a: Hits, b: Hits, depth: int) -> Hits:
    """The hits of two disjoint parts of the pool -> the hits of their union (same keys)."""
    if a.ids.shape[0] != b.ids.shape[0]:
        raise ValueError(f"hits of {a.ids.shape[0]} and {b.ids.shape[0]} queries")
    if b.ids.shape[1] == 0 or a.ids.shape[0] == 0:
        return a
    if a.ids.shape[1] == 0:
        return b
    ids = np.concatenate([a.ids, b.ids], axis=1)
    sims = np.concatenate([a.sims, b.sims], axis=1)
    keys = np.concatenate([a.keys, b.keys], axis=1)
    order = np.lexsort((keys, -sims), axis=1)[:, :depth]
    return Hits(
        np.take_along_axis(ids, order, axis=1),
        np.take_along_axis(sims, order, axis=1),
        np.take_along_axis(keys, order, axis=1),
    )


def usable_seeds(
    seeds: Sequence[Seed], seed_vectors: Mapping[str, np.ndarray]
) -> tuple[list[Seed], list[dict]]:
    """(seeds with a stored embedding, one problem per seed without)."""
    usable, problems = [], []
    for seed in seeds:
        if seed.clip_id in seed_vectors:
            usable.append(seed)
        else:
            problems.append(
                {"seed": seed.clip_id, "theme": seed.theme_key, "problem": "no stored embedding"}
            )
    return usable, problems


def _check(k: int, mmr_lambda: float) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0.0 <= mmr_lambda <= 1.0:
        raise ValueError(f"mmr_lambda must be in [0, 1], got {mmr_lambda}")


def expand(
    seeds: Sequence[Seed],
    seed_vectors: Mapping[str, np.ndarray],
    pool_ids: Sequence[str],
    pool_vectors: np.ndarray,
    k: int,
    *,
    candidates: int | None = None,
    mmr_lambda: float = 0.7,
    copy_similarity: float = 0.97,
    per_concept: int | None = None,
    concept_of: Mapping[str, str] | None = None,
) -> Expansion:
    """Up to ``k`` neighbours per theme from the pool (see the module docstring)."""
    _check(k, mmr_lambda)
    usable, problems = usable_seeds(seeds, seed_vectors)
    if not len(pool_ids) or not usable:
        hits, vectors = Hits.empty(len(usable)), {}
    else:
        pool = unit_rows(pool_vectors)
        queries = unit_rows(np.stack([seed_vectors[s.clip_id] for s in usable]))
        depth = search_depth(k, len({s.clip_id for s in seeds}), candidates)
        hits = search(queries, pool_ids, pool, None, depth)
        vectors = {pool_ids[r]: pool[r] for r in np.unique(hits.keys).tolist()}
    return select(
        seeds,
        usable,
        hits,
        vectors,
        k,
        len(pool_ids),
        mmr_lambda=mmr_lambda,
        copy_similarity=copy_similarity,
        per_concept=per_concept,
        concept_of=concept_of,
        problems=problems,
    )


def select(
    seeds: Sequence[Seed],
    usable: Sequence[Seed],
    hits: Hits,
    vectors: Mapping[str, np.ndarray],
    k: int,
    pool_size: int,
    *,
    mmr_lambda: float = 0.7,
    copy_similarity: float = 0.97,
    per_concept: int | None = None,
    concept_of: Mapping[str, str] | None = None,
    problems: Sequence[dict] = (),
) -> Expansion:
    """The themes' picks from the seeds' hits (``usable``: the seeds the hits' rows belong to,
    in order; ``vectors``: each hit's unit vector; ``pool_size``: clips the hits came from)."""
    _check(k, mmr_lambda)
    out = Expansion(problems=list(problems), searched=pool_size)
    if not pool_size:
        out.problems.append({"problem": "empty pool: no clip passes the strictest stage"})
        return out
    if not usable:
        return out
    seed_ids = {s.clip_id for s in seeds}
    key_of: dict[str, int] = {}
    for names, keys in zip(hits.ids.tolist(), hits.keys.tolist(), strict=True):
        key_of.update(zip(names, keys, strict=True))
    pool_ids = sorted(key_of, key=key_of.__getitem__)  # the pool's order, hits only
    row_of = {cid: i for i, cid in enumerate(pool_ids)}
    dim = next(iter(vectors.values())).shape[0] if vectors else 1
    pool = (
        np.ascontiguousarray(np.stack([vectors[c] for c in pool_ids]), dtype=np.float32)
        if pool_ids
        else np.zeros((0, dim), np.float32)
    )

    # per theme: candidate row -> (best similarity, the seed that gave it)
    themes: dict[str, dict[int, tuple[float, str]]] = defaultdict(dict)
    for q, seed in enumerate(usable):
        found = themes[seed.theme_key]
        for cid, sim in zip(hits.ids[q].tolist(), hits.sims[q].tolist(), strict=True):
            if cid in seed_ids:
                continue
            row = row_of[cid]
            if row not in found or sim > found[row][0]:
                found[row] = (float(sim), seed.clip_id)
    order = sorted(themes)
    state = {
        t: _Theme(themes[t], pool, mmr_lambda, per_concept, concept_of, pool_ids) for t in order
    }
    holders: dict[int, list[str]] = defaultdict(list)  # candidate row -> themes that have it
    for t in order:
        for row in themes[t]:
            holders[row].append(t)
    taken = np.empty((k * len(order), pool.shape[1]), np.float32)  # vectors picked so far
    count = 0
    open_themes = [t for t in order if themes[t]]
    while open_themes:
        for theme in list(open_themes):
            row = state[theme].pick(pool, taken[:count], copy_similarity)
            if row is None:
                open_themes.remove(theme)
                continue
            taken[count] = pool[row]
            count += 1
            for other in holders[row]:
                state[other].drop(row)
            sim, seed_id = themes[theme][row]
            rank = len(state[theme].picked)
            out.neighbours.append(Neighbour(theme, pool_ids[row], seed_id, round(sim, 6), rank))
            if rank >= k:
                open_themes.remove(theme)
    picked = {t: state[t].picked for t in order}
    for theme in order:
        if len(picked[theme]) < k:
            out.problems.append(
                {
                    "theme": theme,
                    "problem": f"only {len(picked[theme])} of {k} neighbours "
                    f"(pool {pool_size}, near copies and other themes' picks excluded)",
                }
            )
    out.neighbours.sort(key=lambda n: (n.theme, n.rank))
    return out


class _Theme:
    """One theme's candidates and its maximal-marginal-relevance state."""

    def __init__(
        self,
        found: dict[int, tuple[float, str]],
        pool: np.ndarray,
        mmr_lambda: float,
        per_concept: int | None,
        concept_of: Mapping[str, str] | None,
        pool_ids: Sequence[str],
    ) -> None:
        self.rows = np.asarray(sorted(found), np.int64)  # the pool's stable clip-id order
        self.relevance = np.asarray([found[r][0] for r in self.rows], np.float32)
        self.redundancy = np.zeros(len(self.rows), np.float32)
        self.alive = np.ones(len(self.rows), bool)
        self.position = {int(r): i for i, r in enumerate(self.rows)}
        self.vectors = pool[self.rows] if len(self.rows) else np.zeros((0, pool.shape[1]))
        self.mmr_lambda = mmr_lambda
        self.cap = per_concept if concept_of is not None else None
        self.concepts = [concept_of.get(pool_ids[r], "") for r in self.rows] if concept_of else []
        self.per_concept: dict[str, int] = defaultdict(int)
        self.picked: list[int] = []

    def drop(self, row: int) -> None:
        i = self.position.get(int(row))
        if i is not None:
            self.alive[i] = False

    def pick(self, pool: np.ndarray, taken: np.ndarray, copy_similarity: float) -> int | None:
        lam = self.mmr_lambda
        while self.alive.any():
            score = lam * self.relevance - (1.0 - lam) * self.redundancy
            score = np.where(self.alive, score, -np.inf)
            i = int(np.argmax(score))  # ties: the first, i.e. the lower row
            row = int(self.rows[i])
            self.alive[i] = False
            if self.cap is not None and self.per_concept[self.concepts[i]] >= self.cap:
                continue
            # small matrix-vector products: einsum's own loop, no BLAS threads to wake
            if len(taken) and float(matvec(taken, pool[row]).max()) >= copy_similarity:
                continue  # a near copy of a clip already picked (by any theme)
            self.picked.append(row)
            if self.cap is not None:
                self.per_concept[self.concepts[i]] += 1
            self.redundancy = np.maximum(self.redundancy, matvec(self.vectors, pool[row]))
            return row
        return None
