"""Fingerprints of a data root's user-facing outputs: every lineage table and every export.

Why: lineage tables and export manifests are a contract (docs/lineage.md) that refactors must
keep; ``curation_assets_tests/test_demo_contract.py`` compares the demo's fingerprints with the
previous code's (``curation_assets_tests/golden/demo_lineage.json``). All is hashed as written
except what differs between two runs of the same code on the same input: the data root (in
paths and ``file://`` uris: ``<root>``) and the times and random ids a person's review action
gives (``VOLATILE``). Column names, order and types are hashed; rows are sorted (parts are read
in no set order). Reads Parquet directly, without Dagster or the code under test.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from urllib.parse import quote

import duckdb
import polars as pl

ROOT = "<root>"
VOLATILE = {
    "reviews": ("review_id", "created_at"),
    "seed_marks": ("mark_id", "created_at"),
    "finetune_seeds": ("marked_at",),
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _roots(root: Path) -> list[str]:
    """Each way a data root can appear in a value: as a path and quoted in a file:// uri."""
    forms = {str(root), str(root.resolve()), quote(str(root)), quote(str(root.resolve()))}
    return sorted(forms, key=len, reverse=True)


def _replace_roots(text: str, roots: list[str]) -> str:
    for r in roots:
        text = text.replace(r, ROOT).replace(json.dumps(r)[1:-1], ROOT)  # also JSON-escaped
    return text


def _value(v: object, roots: list[str]) -> object:
    if isinstance(v, str):
        return _replace_roots(v, roots)
    if isinstance(v, float):
        return repr(v)  # exact and stable (nan, inf and -0.0 included)
    return v


def canonical_rows(df: pl.DataFrame, root: Path, volatile: tuple[str, ...] = ()) -> list[str]:
    """One JSON line per row, the table's column order kept, lines sorted."""
    roots = _roots(root)
    lines = []
    for row in df.iter_rows():
        vals = [
            (None if v is None else "<volatile>") if c in volatile else _value(v, roots)
            for c, v in zip(df.columns, row, strict=True)
        ]
        lines.append(json.dumps(vals, ensure_ascii=False, separators=(",", ":"), default=str))
    return sorted(lines)


def frame_fingerprint(df: pl.DataFrame, root: Path, volatile: tuple[str, ...] = ()) -> dict:
    columns = [[c, str(t)] for c, t in df.schema.items()]
    rows = canonical_rows(df, root, volatile)
    return {
        "columns": columns,
        "rows": len(rows),
        "sha256": sha256(json.dumps(columns) + "\n" + "\n".join(rows)),
        "row_sha256": sorted(sha256(r)[:16] for r in rows),
    }


def _parts_dir(store_or_path: object) -> tuple[Path, Path]:
    """(parts folder, data root) of a LineageStore, a data root or a parts folder."""
    parts = getattr(store_or_path, "parts_dir", None)
    if parts is None:
        path = Path(store_or_path)  # type: ignore[arg-type]
        parts = path / "warehouse" / "lineage" if (path / "warehouse").is_dir() else path
    parts = Path(parts)
    return parts, parts.parent.parent


def read_table(folder: Path) -> pl.DataFrame:
    """All parts of one table, as the store's views read them (union by column name)."""
    files = sorted(folder.glob("*.parquet"))  # _empty.parquet first: the full column order
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    with duckdb.connect() as con:
        return con.sql(f"SELECT * FROM read_parquet([{listed}], union_by_name = true)").pl()


def lineage_tables(store_or_path: object, root: Path | None = None) -> dict[str, dict]:
    """Per lineage table (each folder of Parquet parts): columns, row count, SHA-256 of the
    canonical rows, short hashes of each row (to name the rows that differ) and its parts."""
    parts, default_root = _parts_dir(store_or_path)
    root = Path(root) if root is not None else default_root
    out = {}
    for folder in sorted(p for p in parts.iterdir() if p.is_dir()):
        fp = frame_fingerprint(read_table(folder), root, VOLATILE.get(folder.name, ()))
        fp["parts"] = sorted(f.name for f in folder.glob("*.parquet"))
        out[folder.name] = fp
    return out


def lineage_fingerprint(store_or_path: object, root: Path | None = None) -> dict[str, str]:
    """Table name -> SHA-256 of its columns and canonical rows."""
    return {name: t["sha256"] for name, t in lineage_tables(store_or_path, root).items()}


def _text_fingerprint(path: Path, root: Path) -> dict:
    text = _replace_roots(path.read_text(encoding="utf-8"), _roots(root))
    return {"lines": text.count("\n"), "sha256": sha256(text)}


def _tar_fingerprint(path: Path, root: Path) -> dict:
    """Member names in order; text members with the root replaced, media byte for byte."""
    members = []
    with tarfile.open(path) as tar:
        for m in tar.getmembers():
            data = tar.extractfile(m).read() if m.isfile() else b""  # type: ignore[union-attr]
            if m.name.endswith((".json", ".txt")):
                digest = sha256(_replace_roots(data.decode("utf-8"), _roots(root)))
            else:
                digest = f"{m.size}:{hashlib.sha256(data).hexdigest()}"
            members.append([m.name, m.mode, m.mtime, digest])
    return {"members": len(members), "sha256": sha256(json.dumps(members))}


def export_fingerprint(data_root: Path) -> dict[str, dict]:
    """Per export folder under ``exports/`` (relative path): its manifest.parquet rows,
    manifest.jsonl and failed.jsonl text and tar shards (internal ``.export_state`` left out)."""
    data_root = Path(data_root)
    out: dict[str, dict] = {}
    for manifest in sorted((data_root / "exports").rglob("manifest.parquet")):
        folder, rows = manifest.parent, pl.read_parquet(manifest)
        entry: dict[str, dict] = {"manifest.parquet": frame_fingerprint(rows, data_root)}
        for name in ("manifest.jsonl", "failed.jsonl"):
            if (folder / name).is_file():
                entry[name] = _text_fingerprint(folder / name, data_root)
        for tar in sorted(folder.glob("*.tar")):
            entry[tar.name] = _tar_fingerprint(tar, data_root)
        out[folder.relative_to(data_root / "exports").as_posix()] = entry
    return out
