"""The ``finetune_expansion`` step: the seeds' neighbours, searched incrementally across shards.

The ``finetune_expansion`` asset is incremental across shards, like ``near_duplicates``: each
seed's nearest clips so far (``Hits``, with their vectors), the searched shards (fingerprint of
their vectors file, digest of their pooled clip ids) and the settings they were found under are
kept in ``warehouse/global/finetune_expansion.npz`` (``finetune_expansion_state.py``). A run
searches only shards not searched before and merges their hits with the kept ones
(``merge_hits``: the same bits as a search of everything), then picks (``select``) from the
merged hits as a full run would. Anything else that would change the kept hits (seeds, expansion
settings, embedding kind or model, an earlier shard's vectors file, gone, or the pool membership
of its clips) means a full search, and the mode says why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curation_assets.review.similar import ExpansionResult, concepts_by_clip, neighbour_rows
from curation_assets.review.store import ReviewStore
from curation_assets.selection.expansion import (
    Hits,
    Seed,
    merge_hits,
    search,
    search_depth,
    select,
    unit_rows,
    usable_seeds,
)
from curation_assets.steps.finetune_expansion_state import (
    EXPANSION_STATE,
    _digest,
    _file_ids,
    _fingerprint,
    _load_state,
    _save_state,
    _settings,
    _settings_change,
)
from curation_assets.storage.vectors import embedding_files, global_lock, load_vectors

_INDEX_BITS = 32  # a hit's key: (the shard's place in the shard order) << 32 | its row in the file


def update_expansion(reviews: ReviewStore, seeds: list[Seed]) -> ExpansionResult:
    """The seeds' neighbours among the candidate pool's eligible clips, searching only shards
    not searched before when what the last run kept still holds (module docstring)."""
    with global_lock(reviews.layout, "finetune_expansion"):
        return _update_expansion(reviews, seeds)


def _update_expansion(reviews: ReviewStore, seeds: list[Seed]) -> ExpansionResult:
    cfg = reviews.config.finetune
    path = reviews.layout.warehouse / "global" / EXPANSION_STATE
    pool, _ = reviews.build_candidates()
    eligible = set(pool.eligible)
    kind, files = embedding_files(reviews.layout)
    rank = {shard: i for i, shard in enumerate(files)}
    settings = _settings(reviews.config, seeds, kind)
    seed_ids = {s.clip_id for s in seeds}
    ids_of: dict[str, list[str]] = {}

    def file_ids(shard: str) -> list[str]:
        if shard not in ids_of:
            ids_of[shard] = _file_ids(files[shard])
        return ids_of[shard]

    state, reason = _load_state(path)
    kept: dict[str, dict] = {}  # shard -> what the state says of it, still true
    if state is not None:
        reason = _settings_change(state.meta.get("settings", {}), settings)
    if state is not None and reason is None:
        for shard, info in sorted(state.meta["shards"].items()):
            if shard not in files:
                reason = f"shard {shard} is gone"
            elif _fingerprint(files[shard]) != info["fingerprint"]:
                reason = f"embeddings of shard {shard} changed"
            elif _digest([c for c in file_ids(shard) if c in eligible]) != info["digest"]:
                reason = f"pool membership of shard {shard}'s clips changed"
            if reason:
                break
            kept[shard] = info
    if state is not None and reason is None:
        searched_before = set().union(*(file_ids(s) for s in kept))
        for shard in (s for s in files if s not in kept):
            new = set(file_ids(shard))
            if new & seed_ids:
                reason = f"new shard {shard} holds a seed's clip"
            elif new & searched_before:
                reason = f"new shard {shard} repeats clip ids of an earlier shard"
            if reason:
                break
    incremental = state is not None and reason is None
    depth = search_depth(cfg.expansion_k, len(seed_ids))

    if incremental:
        seed_vectors = dict(zip(state.meta["usable"], state.seed_vectors, strict=True))
        where, vectors = state.where, state.vectors
        keys = [[_key(rank, *where[c]) for c in row] for row in state.hits.ids.tolist()]
        hits = Hits(
            state.hits.ids,
            state.hits.sims,
            np.asarray(keys, np.int64).reshape(state.hits.ids.shape),
        )
        shard_info = dict(kept)
    else:
        kept = {}
        seed_vectors = _seed_vectors(files, seed_ids, file_ids)
        where, vectors, shard_info = {}, {}, {}
    usable, problems = usable_seeds(seeds, seed_vectors)
    if not incremental:
        hits = Hits.empty(len(usable))
    queries = unit_rows(np.stack([seed_vectors[s.clip_id] for s in usable])) if usable else None

    to_search = [s for s in files if s not in kept]
    searched = 0
    for shard in to_search:
        fingerprint = _fingerprint(files[shard])  # before reading: a later change is seen
        ids, stored = load_vectors(files[shard])
        rows = [i for i, c in enumerate(ids) if c in eligible]
        shard_info[shard] = {
            "fingerprint": fingerprint,
            "pool": len(rows),
            "digest": _digest([ids[i] for i in rows]),
        }
        searched += len(rows)
        if not rows or queries is None:
            continue
        part = unit_rows(stored[rows].astype(np.float32))
        found = search(
            queries, [ids[i] for i in rows], part, [_key(rank, shard, i) for i in rows], depth
        )
        local = {i: j for j, i in enumerate(rows)}
        for cid, key in zip(found.ids.ravel().tolist(), found.keys.ravel().tolist(), strict=True):
            row = key & ((1 << _INDEX_BITS) - 1)
            where[cid], vectors[cid] = (shard, row), part[local[row]]
        hits = merge_hits(hits, found, depth)
        held = set(hits.ids.ravel().tolist())
        for cid in [c for c in where if c not in held]:
            del where[cid], vectors[cid]

    pool_size = sum(info["pool"] for info in shard_info.values())
    expansion = select(
        seeds,
        usable,
        hits,
        vectors,
        cfg.expansion_k,
        pool_size,
        mmr_lambda=cfg.expansion_mmr_lambda,
        per_concept=cfg.expansion_per_concept,
        concept_of=concepts_by_clip(reviews),
        problems=problems,
    )
    if not incremental or to_search:
        used = [seed_vectors[s.clip_id] for s in usable]
        _save_state(
            path,
            {
                "settings": settings,
                "shards": shard_info,
                "usable": [s.clip_id for s in usable],
            },
            np.stack(used).astype(np.float32) if used else np.zeros((0, 1), np.float32),
            hits,
            where,
            vectors,
        )
    mode = (
        f"incremental (searched shards: {', '.join(to_search) or 'none'})"
        if incremental
        else f"full ({reason})"
    )
    return ExpansionResult(
        expansion,
        neighbour_rows(expansion, kind),
        kind,
        pool_size,
        mode,
        searched,
        to_search,
    )


def _key(rank: dict[str, int], shard: str, row: int) -> int:
    return (rank[shard] << _INDEX_BITS) | row


def _seed_vectors(files: dict[str, Path], seed_ids: set[str], file_ids) -> dict[str, np.ndarray]:
    """Each seed's stored vector (the last shard holding it wins, as in ``stored_embeddings``),
    reading only the vectors files that hold a seed."""
    holder: dict[str, tuple[str, int]] = {}
    for shard in files:
        for i, cid in enumerate(file_ids(shard)):
            if cid in seed_ids:
                holder[cid] = (shard, i)
    out: dict[str, np.ndarray] = {}
    for shard in sorted({s for s, _ in holder.values()}, key=list(files).index):
        _, stored = load_vectors(files[shard])
        for cid, (where, i) in holder.items():
            if where == shard:
                out[cid] = np.asarray(stored[i], np.float32)
    return out
