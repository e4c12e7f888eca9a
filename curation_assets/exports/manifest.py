"""The export's manifest: one row per member clip, ok or failed, with where it landed.

Written last (JSONL, failed.jsonl, then Parquet, the export's "complete" mark) and removed
before shards change, so a manifest on disk always describes the shards beside it.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from curation_assets.exports.plan import Shard
from curation_assets.storage.files import atomic_write_bytes

MANIFEST_PARQUET = "manifest.parquet"
MANIFEST_JSONL = "manifest.jsonl"
FAILED_JSONL = "failed.jsonl"

OUTPUT_COLUMNS = {
    "status": pl.String,
    "reason": pl.String,
    "detail": pl.String,
    "tar": pl.String,
    "key": pl.String,
    "out_frames": pl.Int64,
    "out_fps": pl.Float64,
    "out_width": pl.Int64,
    "out_height": pl.Int64,
    "out_duration_s": pl.Float64,
    "out_bytes": pl.Int64,
    "out_jpeg": pl.String,  # still images: copied (the source's bytes) or reencoded; video: null
}


def build_manifest(
    members: pl.DataFrame, shards: list[Shard], results: dict[str, dict], subset: str
) -> pl.DataFrame:
    """Members in shard order (with ``media``, video where it was missing), then the outputs."""
    order = [c.row["clip_id"] for s in shards for c in s.clips]
    out = pl.DataFrame(
        {
            "clip_id": pl.Series(order, dtype=pl.String),
            **{
                col: pl.Series([results[cid].get(col) for cid in order], dtype=dtype)
                for col, dtype in OUTPUT_COLUMNS.items()
            },
        }
    )
    ids = pl.DataFrame({"clip_id": pl.Series(order, dtype=pl.String)})
    ordered = ids.join(members, on="clip_id", how="left")
    return ordered.join(out, on="clip_id", how="left").select(
        pl.lit(subset).alias("subset"), pl.all()
    )


def write_manifest(out_dir: Path, manifest: pl.DataFrame) -> None:
    jsonl = manifest.write_ndjson().encode()
    buf = io.BytesIO()
    manifest.write_parquet(buf, compression="zstd", statistics=True)
    failed = manifest.filter(pl.col("status") == "failed").select(
        "clip_id", "uri", "start_s", "end_s", "reason", "detail"
    )
    paths = [out_dir / MANIFEST_JSONL, out_dir / FAILED_JSONL, out_dir / MANIFEST_PARQUET]
    # jsonl first, parquet last: the parquet file is the export's "complete" mark
    atomic_write_bytes(paths[0], jsonl, durable=True)
    atomic_write_bytes(
        paths[1], failed.write_ndjson().encode() if failed.height else b"", durable=True
    )
    atomic_write_bytes(paths[2], buf.getvalue(), durable=True)


def remove_manifest(out_dir: Path) -> None:
    for name in (MANIFEST_PARQUET, MANIFEST_JSONL, FAILED_JSONL):
        (out_dir / name).unlink(missing_ok=True)


def read_manifest(out_dir: Path) -> pl.DataFrame:
    """The complete manifest of an export (raises ``FileNotFoundError`` while none is complete)."""
    return pl.read_parquet(Path(out_dir) / MANIFEST_PARQUET)
