"""The fine-tune seeds and expansion steps: lineage and stored vectors in, table rows out.

Thin assets call these (``assets/finetune_assets.py``); the rules live in
``selection/seeds.py`` and ``selection/expansion.py``.

The ``finetune_expansion`` asset is incremental across shards, like ``near_duplicates``: each
seed's nearest clips so far (``Hits``, with their vectors), the searched shards (fingerprint of
their vectors file, digest of their pooled clip ids) and the settings they were found under are
kept in ``warehouse/global/finetune_expansion.npz``. A run searches only shards not searched
before and merges their hits with the kept ones (``merge_hits``: the same bits as a search of
everything), then picks (``select``) from the merged hits as a full run would. Anything else
that would change the kept hits (seeds, expansion settings, embedding kind or model, an earlier
shard's vectors file, gone, or the pool membership of its clips) means a full search, and the
mode says why.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curation_assets.config import CurationConfig
from curation_assets.global_steps import embedding_files, global_lock, stored_embeddings
from curation_assets.review.store import ReviewStore
from curation_assets.selection.expansion import (
    SEARCH_MARGIN,
    Expansion,
    Hits,
    Seed,
    expand,
    merge_hits,
    search,
    search_depth,
    select,
    unit_rows,
    usable_seeds,
)
from curation_assets.selection.seeds import (
    SeedsFileError,
    read_seeds_file,
    recorded_seeds,
    seeds_in_force,
)
from curation_assets.signals.runner import load_vectors
from curation_assets.storage.files import atomic_write_bytes
from curation_assets.vocabulary import Stage

EXPANSION_STATE = "finetune_expansion.npz"  # under warehouse/global/
STATE_VERSION = 1
_INDEX_BITS = 32  # a hit's key: (the shard's place in the shard order) << 32 | its row in the file


@dataclass
class SeedsResult:
    seeds: list[Seed] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the file as a whole


@dataclass
class ExpansionResult:
    expansion: Expansion = field(default_factory=Expansion)
    rows: list[dict] = field(default_factory=list)
    embedding: str = ""
    pool: int = 0  # eligible clips with a stored embedding, over every shard
    mode: str = "full"  # "incremental (searched shards: ...)" or "full (<why>)"
    searched: int = 0  # pool clips this run searched
    searched_shards: list[str] = field(default_factory=list)


def _dropped_copies(reviews: ReviewStore) -> dict[str, str]:
    """clip -> the kept copy of its near-duplicate group, for every dropped copy."""
    stage = Stage.NEAR_DUPLICATES.value
    rows = reviews.lineage.query(
        "SELECT l.clip_id, any_value(k.clip_id) AS kept FROM clip_labels l "
        "JOIN decisions d ON d.clip_id = l.clip_id AND d.stage = ? AND NOT d.passed "
        "AND d.filter = 'near_duplicate' "
        "JOIN clip_labels k ON k.kind = 'duplicate_group' AND k.label = l.label "
        "JOIN decisions dk ON dk.clip_id = k.clip_id AND dk.stage = ? AND dk.passed "
        "AND dk.filter = 'near_duplicate' "
        "WHERE l.kind = 'duplicate_group' GROUP BY l.clip_id",
        [stage, stage],
        tables=["clip_labels", "decisions"],
    )
    return dict(rows.rows())


def update_seeds(reviews: ReviewStore) -> SeedsResult:
    result = SeedsResult()
    file_seeds: list[Seed] = []
    path = reviews.config.finetune.seeds_file
    if path:
        try:
            file_seeds = read_seeds_file(Path(path).expanduser())
        except SeedsFileError as err:
            result.problems.append(str(err))
    known = set(reviews.lineage.query("SELECT clip_id FROM clips", tables=["clips"])["clip_id"])
    result.seeds, result.rows = seeds_in_force(
        reviews.seed_marks().to_dicts(), file_seeds, known, _dropped_copies(reviews)
    )
    return result


def similar_clips(reviews: ReviewStore, clip_id: str, k: int = 12) -> ExpansionResult:
    """ "More like this": one clip's nearest eligible neighbours (the review page)."""
    return expand_seeds(reviews, [Seed(clip_id, f"like:{clip_id}")], k=k, per_concept=None)


def expand_seeds(
    reviews: ReviewStore, seeds: list[Seed], k: int | None = None, per_concept: int | None = -1
) -> ExpansionResult:
    """Neighbours of the seeds among the clips that pass the candidate pool's strictest limits
    (every gate, every subset stage, ``finetune.filters``)."""
    cfg = reviews.config.finetune
    pool, _ = reviews.build_candidates()
    eligible = set(pool.eligible)
    kind, ids, vectors = stored_embeddings(reviews.layout)
    row_of = {cid: i for i, cid in enumerate(ids)}
    pool_rows = sorted(row_of[c] for c in eligible if c in row_of)
    concept_of = dict(
        reviews.lineage.query(
            "SELECT clip_id, any_value(label) FROM clip_labels WHERE kind = 'concept' "
            "GROUP BY clip_id",
            tables=["clip_labels"],
        ).rows()
    )
    result = ExpansionResult(embedding=kind, pool=len(pool_rows))
    result.expansion = expand(
        seeds,
        {s.clip_id: vectors[row_of[s.clip_id]] for s in seeds if s.clip_id in row_of},
        [ids[r] for r in pool_rows],
        vectors[pool_rows] if pool_rows else np.zeros((0, vectors.shape[1]), np.float32),
        k or cfg.expansion_k,
        mmr_lambda=cfg.expansion_mmr_lambda,
        per_concept=cfg.expansion_per_concept if per_concept == -1 else per_concept,
        concept_of=concept_of,
    )
    result.rows = _rows(result.expansion, kind)
    return result


def _rows(expansion: Expansion, kind: str) -> list[dict]:
    return [
        {
            "theme": n.theme,
            "clip_id": n.clip_id,
            "neighbour_of": n.neighbour_of,
            "similarity": n.similarity,
            "rank": n.rank,
            "embedding": kind,
        }
        for n in expansion.neighbours
    ]


def _concepts(reviews: ReviewStore) -> dict[str, str]:
    return dict(
        reviews.lineage.query(
            "SELECT clip_id, any_value(label) FROM clip_labels WHERE kind = 'concept' "
            "GROUP BY clip_id",
            tables=["clip_labels"],
        ).rows()
    )


def lineage_seeds(reviews: ReviewStore) -> list[Seed]:
    """The seeds ``finetune_seeds`` recorded (its lineage table), not recomputed."""
    rows = reviews.lineage.query("SELECT * FROM finetune_seeds", tables=["finetune_seeds"])
    return recorded_seeds(rows.to_dicts())


# -- the incremental expansion (the finetune_expansion asset) ---------------------------------


@dataclass
class _State:
    """What the last run kept (``EXPANSION_STATE``)."""

    meta: dict  # settings, shards searched {shard: fingerprint, pool, digest}, usable seeds
    seed_vectors: np.ndarray  # (usable seeds, dim) as stored
    hits: Hits  # keys to be recomputed (the shard order changes as shards arrive)
    where: dict[str, tuple[str, int]]  # hit clip -> (shard, row in its vectors file)
    vectors: dict[str, np.ndarray]  # hit clip -> unit vector


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def _file_ids(path: Path) -> list[str]:
    """A vectors file's clip ids, without reading its vectors."""
    with np.load(path) as data:
        return [str(c) for c in data["clip_ids"]]


def _settings(config: CurationConfig, seeds: list[Seed], kind: str) -> dict:
    """Everything the kept hits depend on besides the shards themselves (order: the first that
    differs names the reason for a full search)."""
    cfg, content = config.finetune, config.content
    embedding = kind
    if kind == "clip_embedding":
        names = ("clip_model", "clip_pretrained", "clip_model_config")
        model = ":".join(str(getattr(content, n, None) or "") for n in names).rstrip(":")
        embedding += f" ({model})" if model else ""
    return {
        "version": STATE_VERSION,
        "embedding": embedding,
        "seeds": [[s.clip_id, s.theme] for s in seeds],
        "expansion_k": cfg.expansion_k,
        "expansion_mmr_lambda": cfg.expansion_mmr_lambda,
        "expansion_per_concept": cfg.expansion_per_concept,
        "search_margin": SEARCH_MARGIN,
    }


def _settings_change(before: dict, now: dict) -> str | None:
    for name, value in now.items():
        old = before.get(name)
        if old == value:
            continue
        if name == "embedding":
            return f"embedding changed: {old} -> {value}"
        if name == "seeds":
            return "seeds changed"
        if name.startswith("expansion_"):
            return f"settings changed: finetune.{name} {old} -> {value}"
        return f"{name} changed"
    return None


def _load_state(path: Path) -> tuple[_State | None, str | None]:
    if not path.exists():
        return None, "no earlier search"
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            ids = [str(c) for c in data["cand_ids"]]
            shards = [str(c) for c in data["cand_shards"]]
            return _State(
                meta,
                data["seed_vectors"],
                Hits(data["hit_ids"], data["hit_sims"], np.zeros(data["hit_ids"].shape, np.int64)),
                {c: (s, int(i)) for c, s, i in zip(ids, shards, data["cand_rows"], strict=True)},
                dict(zip(ids, data["cand_vectors"], strict=True)),
            ), None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        return None, f"earlier search unreadable ({type(err).__name__})"


def _save_state(path: Path, meta: dict, seed_vectors: np.ndarray, hits: Hits, where, vectors):
    ids = sorted(where)
    dim = seed_vectors.shape[1] if seed_vectors.ndim == 2 else 1
    buf = io.BytesIO()
    np.savez(
        buf,
        meta=np.asarray(json.dumps(meta, sort_keys=True)),
        seed_vectors=seed_vectors,
        hit_ids=hits.ids,
        hit_sims=hits.sims,
        cand_ids=np.asarray(ids, dtype=str),
        cand_shards=np.asarray([where[c][0] for c in ids], dtype=str),
        cand_rows=np.asarray([where[c][1] for c in ids], np.int64),
        cand_vectors=np.stack([vectors[c] for c in ids]) if ids else np.zeros((0, dim), np.float32),
    )
    atomic_write_bytes(path, buf.getvalue())


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
        concept_of=_concepts(reviews),
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
        _rows(expansion, kind),
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
