"""What the incremental ``finetune_expansion`` keeps between runs (``EXPANSION_STATE``, under
``warehouse/global/``): each seed's nearest clips so far (``Hits``, with their vectors and where
they are stored), the searched shards (fingerprint of their vectors file, digest of their pooled
clip ids) and the settings they were found under (``_settings``; a change names the reason for a
full search)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation_assets.config import CurationConfig
from curation_assets.selection.expansion import SEARCH_MARGIN, Hits, Seed
from curation_assets.storage.files import atomic_write_bytes

EXPANSION_STATE = "finetune_expansion.npz"  # under warehouse/global/
STATE_VERSION = 1


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
