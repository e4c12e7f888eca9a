"""Nothing changes for users: the demo shard, built and exported by this tree exactly as
``curate demo`` and ``curate export`` do, gives every lineage table and every export manifest
the code before the change gave (``golden/demo_lineage.json``, written by
``scripts/golden_demo_lineage``; see curation_assets/lineage/fingerprint.py for what is hashed
and what is normalised)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from curation_assets.lineage.fingerprint import (
    VOLATILE,
    canonical_rows,
    export_fingerprint,
    lineage_tables,
    read_table,
    sha256,
)

REPO = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "demo_lineage.json"
DEMO_EXPORTS = ("demo_all", "demo_balanced", "demo_images")
SHOW = 5  # differing rows shown per table
# The CLI's own entry point, in one fresh interpreter: the code location reads the demo's
# curation.yaml (its subset stages) when first imported, which a pytest process already did.
_CLI = (
    "import sys\nfrom curation_assets.cli import main\n"
    "rc = main(['demo'])\n"
    "for s in sys.argv[1:]:\n    rc = main(['export', '--subset', s]) or rc\n"
    "sys.exit(rc)\n"
)
# What a developer's shell may set that would change the demo's outputs (or where they go).
_UNSET = ("CURATION_CONFIG", "DAGSTER_HOME", "CURATION_EXECUTOR", "HF_HOME", "HF_HUB_CACHE")


def build_demo(home: Path, code_root: Path = REPO) -> str:
    """``curate demo`` then ``curate export --subset S`` for each demo stage into data root
    ``home``, running the package of ``code_root``; returns the output, raises on failure."""
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env.update(CURATION_HOME=str(home), GX_ANALYTICS_ENABLED="false", PYTHONPATH=str(code_root))
    proc = subprocess.run(
        [sys.executable, "-c", _CLI, *DEMO_EXPORTS],
        cwd=code_root, env=env, capture_output=True, text=True, encoding="utf-8",
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 or "demo: no photos" in out:
        raise RuntimeError(f"demo build failed (rc {proc.returncode}):\n{out[-6000:]}")
    return out


def fingerprints(home: Path) -> dict:
    return {"tables": lineage_tables(home), "exports": export_fingerprint(home)}


def _row_diff(rows: list[str], was: dict) -> list[str]:
    """Canonical rows now vs a golden entry: rows no golden row equals (+) and golden rows gone
    (-, shown in full when in the golden sample)."""
    known, hashes = set(was["row_sha256"]), {sha256(r)[:16] for r in rows}
    added = [r for r in rows if sha256(r)[:16] not in known]
    gone = [h for h in was["row_sha256"] if h not in hashes]
    sample = was.get("sample", {})
    lines = [f"  + {r}" for r in added[:SHOW]]
    lines += [f"  - {sample.get(h, h + ' (a row outside the golden sample)')}" for h in gone[:SHOW]]
    return [f"  {len(added)} row(s) new or changed, {len(gone)} golden row(s) gone:", *lines]


def _table_problem(home: Path, name: str, now: dict | None, was: dict | None) -> list[str]:
    if now is None or was is None:
        return [f"{name}: {'the table is gone' if now is None else 'a new table'}"]
    if now["sha256"] == was["sha256"] and now["parts"] == was["parts"]:
        return []
    msg = [f"{name}: {was['rows']} rows in the golden demo, {now['rows']} now"]
    if now["columns"] != was["columns"]:
        msg += [f"  columns were {was['columns']}", f"  columns are  {now['columns']}"]
    if now["parts"] != was["parts"]:  # a renamed writer leaves old parts behind in a data root
        before, after = set(was["parts"]), set(now["parts"])
        msg.append(f"  parts gone: {sorted(before - after)}, new: {sorted(after - before)}")
    if now["sha256"] != was["sha256"]:
        frame = read_table(home / "warehouse" / "lineage" / name)
        msg += _row_diff(canonical_rows(frame, home, VOLATILE.get(name, ())), was)
    return msg


def _export_problems(home: Path, exports: dict, was: dict) -> list[str]:
    problems = []
    for folder in sorted(set(exports) | set(was)):
        if folder not in exports or folder not in was:
            problems.append(f"exports/{folder}: {'gone' if folder in was else 'new'}")
            continue
        for item in sorted(set(exports[folder]) | set(was[folder])):
            x, y = was[folder].get(item), exports[folder].get(item)
            if x is not None and y is not None and x["sha256"] == y["sha256"]:
                continue
            same_columns = x and y and x.get("columns") == y.get("columns")
            hide = ("row_sha256", "sample", "columns") if same_columns else ("row_sha256", "sample")
            was_brief = {k: v for k, v in (x or {}).items() if k not in hide}
            brief = {k: v for k, v in (y or {}).items() if k not in hide}
            problems += [f"exports/{folder}/{item}:", f"  was {was_brief}", f"  is  {brief}"]
            if item == "manifest.parquet" and same_columns:
                frame = pl.read_parquet(home / "exports" / folder / item)
                problems += _row_diff(canonical_rows(frame, home), x)
    return problems


@pytest.mark.slow
def test_demo_lineage_and_exports_are_unchanged(tmp_path: Path) -> None:
    """One test, one build (~2 minutes): under pytest -n the tables and the exports would
    otherwise each build the demo on their own worker."""
    pytest.importorskip("skimage", reason="the demo's photos need scikit-image (dev extra)")
    home = tmp_path / "home"
    build_demo(home)
    now, golden = fingerprints(home), json.loads(GOLDEN.read_text(encoding="utf-8"))
    tables, was = now["tables"], golden["tables"]
    problems = []
    for name in sorted(set(tables) | set(was)):
        problems += _table_problem(home, name, tables.get(name), was.get(name))
    problems += _export_problems(home, now["exports"], golden["exports"])
    assert not problems, (
        f"the demo differs from {GOLDEN.name} (built by {golden['built_by']['commit'][:10]}):\n"
        + "\n".join(problems)
    )
