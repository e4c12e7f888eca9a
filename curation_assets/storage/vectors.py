"""The vectors ``content_filter`` keeps per shard (``vectors/<name>.npz``: hashes, embeddings),
written and read here for the global steps (``near_duplicates``, ``concepts``, ``finetune``),
and the lock their global indexes share. No Dagster here; nothing is decoded."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from curation_assets.config import Layout
from curation_assets.storage.files import atomic_output

WRITER_PARTITION = "all"  # the lineage partition every global writer replaces


def save_vectors(folder: Path, vectors: dict[str, list[tuple[str, np.ndarray]]]) -> dict[str, Path]:
    """One ``<name>.npz`` per vector kind (clip_ids, vectors), sorted by clip id, atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, pairs in sorted(vectors.items()):
        pairs = sorted(pairs, key=lambda p: p[0])
        target = folder / f"{name}.npz"
        with atomic_output(target) as tmp, open(tmp, "wb") as fh:
            np.savez(
                fh,
                clip_ids=np.asarray([p[0] for p in pairs], dtype=object).astype(str),
                vectors=np.stack([p[1] for p in pairs]) if pairs else np.zeros((0, 0)),
            )
        written[name] = target
    for stale in folder.glob("*.npz"):
        if stale.stem not in vectors:
            stale.unlink()  # a vector kind this run no longer produces (e.g. model removed)
    return written


def load_vectors(path: Path) -> tuple[list[str], np.ndarray]:
    with np.load(path) as data:
        return [str(c) for c in data["clip_ids"]], data["vectors"]


def shard_vector_files(layout: Layout, name: str) -> dict[str, Path]:
    root = layout.warehouse / "shards"
    if not root.is_dir():
        return {}
    return {p.parent.parent.name: p for p in sorted(root.glob(f"*/vectors/{name}.npz"))}


def embedding_files(layout: Layout) -> tuple[str, dict[str, Path]]:
    """(kind, shard -> its vectors file): open_clip's embeddings when every shard has them, else
    the offline thumbnail embeddings (the kind says which); shards in ``stored_embeddings``'
    order."""
    real = shard_vector_files(layout, "clip_embedding")
    thumbs = shard_vector_files(layout, "thumbnail_embedding")
    if real and set(real) == set(thumbs):
        return "clip_embedding", real
    return "thumbnail_embedding", thumbs


def stored_embeddings(layout: Layout) -> tuple[str, list[str], np.ndarray]:
    """(kind, clip ids, vectors) over all shards (``embedding_files``)."""
    kind, files = embedding_files(layout)
    ids: list[str] = []
    chunks = []
    for path in files.values():
        clip_ids, vectors = load_vectors(path)
        if len(clip_ids):
            ids.extend(clip_ids)
            chunks.append(vectors.astype(np.float32))
    if not chunks:
        return kind, [], np.zeros((0, 1), np.float32)
    return kind, ids, np.concatenate(chunks)


def _fingerprint(*paths: Path | None) -> str:
    parts = []
    for path in paths:
        if path is not None and path.exists():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


@contextmanager
def global_lock(layout: Layout, name: str):
    """One writer at a time for a global index: two shard runs finishing together each trigger
    the global assets, and their index files must not interleave (waits, never fails)."""
    folder = layout.warehouse / "global"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{name}.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
