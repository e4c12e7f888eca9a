"""kill -9 a shard run midway, re-run it: the lineage equals a clean run's, row for row.

Two kills of the same shard: one in the middle of the decode pass (some sample files written, no
lineage yet), one in the middle of the filters (visual_filter's part written, the others not).
Then a re-run completes, and every lineage table and every output file must match a clean run of
the same shard in another data root: nothing missing, nothing twice, no partial file counted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.lineage.schema import TABLES
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.synthetic_junk import write_junk
from curation_assets.resources import store_for

SHARD = "crash-1"


def _source(folder: Path) -> Path:
    """Enough videos that the decode pass and the filters each take a few seconds."""
    for n in range(6):
        spec = VideoSpec(
            f"take {n}.mp4",
            (Shot(7, seed=100 + n), Shot(9, "pan_right", seed=200 + n), Shot(6, "zoom_in")),
            fps=24,
        )
        write_video(spec, folder / spec.name)
    write_junk(folder / "junk")
    return folder


def _curate(home: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "CURATION_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "GX_ANALYTICS_ENABLED": "false",
    }
    (home / "dagster_home").mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "curation_assets.cli", "run", "--shard", SHARD],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill takes every worker with it
    )


# Guards against a hang, not speed expectations: under one-core affinity, beside the clean run
# and another test worker, the re-run needed more than 300 s to reach the second kill point.
HANG_S = 1800


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], timeout: float = HANG_S) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail("the run ended before the kill point:\n" + proc.stdout.read()[-3000:])
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the kill point was never reached")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)


def _finish(proc: subprocess.Popen) -> None:
    out = proc.communicate(timeout=HANG_S)[0]
    assert proc.returncode == 0, out[-4000:]


def _lineage(home: Path) -> dict[str, list[tuple]]:
    """Every table's rows for the shard, paths made relative to the data root."""
    store = store_for(Layout(home))
    snapshot = {}
    for table in TABLES:
        rows = store.query(f"SELECT * FROM {table}")
        if "shard" in rows.columns:
            rows = rows.filter(rows["shard"] == SHARD)
        snapshot[table] = sorted(
            tuple(v.replace(str(home), "<home>") if isinstance(v, str) else v for v in row)
            for row in rows.rows()
        )
    return snapshot


def _outputs(home: Path) -> set[str]:
    root = home / "warehouse" / "shards" / SHARD
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_kill_9_midway_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    source = _source(tmp_path / "incoming")
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    for home in (crashed, clean):
        os.environ["CURATION_HOME"] = str(home)
        try:
            assert main(["ingest", str(source), "--shard", SHARD]) == 0
        finally:
            os.environ.pop("CURATION_HOME")
    reference = _curate(clean)

    samples = crashed / "warehouse" / "shards" / SHARD / "samples"
    parts = crashed / "warehouse" / "lineage"
    # 1. midway through the decode pass: the first sample file exists, shot_clips has no part yet
    _kill_when(_curate(crashed), lambda: any(samples.glob("*.npz")))
    assert not (parts / "clips" / f"shot_clips__{SHARD}.parquet").exists()
    # 2. midway through the filters: visual_filter's scores are in, the content step's are not
    _kill_when(
        _curate(crashed),
        lambda: (parts / "scores" / f"visual_filter__{SHARD}.parquet").exists(),
    )
    assert not (parts / "captions" / f"captions__{SHARD}.parquet").exists()
    _finish(_curate(crashed))
    _finish(reference)

    got, want = _lineage(crashed), _lineage(clean)
    assert want["clips"] and want["scores"] and want["captions"]  # the clean run did the work
    for table in TABLES:
        assert got[table] == want[table], f"{table} differs after the crash and re-run"

    # no part file other than the complete ones, and no temporary left behind
    leftovers = [p for p in crashed.rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers, leftovers
    assert _outputs(crashed) == _outputs(clean)
    # every sample file the lineage points at is whole (a half-written .npz fails to load)
    store = store_for(Layout(crashed))
    paths = store.query(
        "SELECT samples_path FROM decode_passes WHERE shard = ? AND samples_path IS NOT NULL",
        [SHARD],
    )["samples_path"].to_list()
    assert paths
    for path in paths:
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
        with np.load(path) as data:
            assert data["frame_times"].size > 0


def test_caption_journal_cut_mid_line_loses_no_later_record(tmp_path: Path) -> None:
    """A kill mid-append leaves half a line; the next append must not glue onto it."""
    from curation_assets.captioning.run import _append, _read_journal

    journal = tmp_path / "captions" / "journal.jsonl"
    _append(journal, [{"clip_id": "a", "caption": "first"}])
    with open(journal, "a", encoding="utf-8") as fh:
        fh.write('{"clip_id": "b", "capt')  # what kill -9 leaves behind
    _append(journal, [{"clip_id": "c", "caption": "after the crash"}])
    done = _read_journal(journal)
    assert sorted(done) == ["a", "c"]  # b is captioned again, c is kept
    assert done["c"]["caption"] == "after the crash"
