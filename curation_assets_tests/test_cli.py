"""`curate` as a user drives it: ingest, run, explain, funnel, errors, concurrency, re-runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.synthetic_junk import write_junk
from curation_assets.resources import store_for

TABLES = ["videos", "decode_passes", "shots", "clips", "decisions", "scores", "clip_labels"]


def _source(folder: Path, seed: int) -> Path:
    write_video(
        VideoSpec("two shots.mp4", (Shot(5, seed=seed), Shot(6, "pan_right", seed=seed + 1))),
        folder / "two shots.mp4",
    )
    write_video(
        VideoSpec("café long.mp4", (Shot(20, seed=seed + 2),), fps=12), folder / "café long.mp4"
    )
    write_junk(folder / "junk")
    return folder


def _snapshot(home: Path) -> dict[str, list]:
    store = store_for(Layout(home))
    snapshot = {}
    for table in TABLES:
        rows = store.query(f"SELECT * FROM {table}")
        snapshot[table] = rows.sort(rows.columns[:2]).rows()
    return snapshot


def test_ingest_run_explain_funnel_and_rerun_changes_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    source = _source(tmp_path / "incoming", seed=10)
    assert main(["ingest", str(source), "--shard", "s1"]) == 0
    assert (home / "uploads" / "s1" / "_READY").is_file()
    assert (home / "uploads" / "s1" / "junk" / "notes.txt").is_file()

    assert main(["run", "--shard", "s1"]) == 0
    first = _snapshot(home)
    assert len(first["videos"]) == 2 + 9  # every file, junk included
    assert len(first["clips"]) == 4  # 2 single shots + 2 windows of the 20 s take
    capsys.readouterr()

    assert main(["explain", "two shots.mp4"]) == 0
    text = capsys.readouterr().out
    assert "ADMITTED" in text and "shot 0: 0.000-5.000 s -> 1 clip(s)" in text

    clip_id = store_for(Layout(home)).query("SELECT clip_id FROM clips ORDER BY clip_id").item(0, 0)
    assert main(["explain", clip_id, "--json"]) == 0
    trail = json.loads(capsys.readouterr().out)
    assert trail["kind"] == "clip" and trail["decisions"][0]["stage"] == "shot_clips"

    assert main(["explain", "junk/tone only.m4a"]) == 0
    assert "REJECTED - no_video_stream" in capsys.readouterr().out

    assert main(["funnel", "--json"]) == 0
    steps = {s["step"]: s for s in json.loads(capsys.readouterr().out)}
    # per media kind: junk/still.png is a (too small) image, the other 10 files count as videos
    assert steps["files"]["videos"] == 10 and steps["files"]["images"] == 1
    assert steps["admitted"]["videos"] == 2 and steps["admitted"]["images"] == 0
    assert steps["single-shot clips"]["clips"] == 4

    # Re-running the shard, and re-ingesting the same files, change nothing.
    assert main(["ingest", str(source), "--shard", "s1"]) == 0
    assert main(["run", "--shard", "s1"]) == 0
    assert _snapshot(home) == first


def test_clear_errors_for_bad_shards(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--shard", "Not Valid"]) == 2
    assert "invalid shard name" in capsys.readouterr().err
    assert main(["run", "--shard", "missing"]) == 2
    assert "no shard 'missing'" in capsys.readouterr().err
    (home / "uploads" / "half").mkdir(parents=True)
    assert main(["run", "--shard", "half"]) == 2
    assert "not complete yet" in capsys.readouterr().err
    assert main(["explain", "nothing-here"]) == 1


def test_the_command_exits_with_mains_code_and_its_whole_output(home: Path) -> None:
    """``curate`` skips the interpreter's teardown (cli.run): the exit code is still main's and
    piped output (block-buffered) still arrives whole."""
    env = {**os.environ, "CURATION_HOME": str(home)}
    curate = [sys.executable, "-m", "curation_assets.cli"]

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*curate, *args], env=env, capture_output=True, text=True)

    helped = call("--help")
    assert helped.returncode == 0
    assert "doctor" in helped.stdout and "usage: curate" in helped.stdout
    missing = call("run", "--shard", "missing")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert "no shard 'missing'" in missing.stderr
    assert call("no-such-command").returncode == 2
    doctor = call("doctor", "--json")  # several kB through a pipe: all of it, valid JSON
    assert doctor.returncode == 0
    assert {"config", "signals", "models", "device", "decode"} <= set(json.loads(doctor.stdout))


def test_two_shards_run_at_the_same_time_lose_no_rows(home: Path, tmp_path: Path) -> None:
    env = {**os.environ, "CURATION_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dh")}
    (tmp_path / "dh").mkdir()
    # An instance that has been used before (as a user's is): SQLite creates Dagster's tables on
    # first use, which two brand-new processes must not race on; curate serialises that too.
    import dagster as dg

    with dg.DagsterInstance.from_config(str(tmp_path / "dh")) as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        instance.add_dynamic_partitions("source_shard", ["alpha", "beta"])
    for shard, seed in (("alpha", 1), ("beta", 50)):
        assert main(["ingest", str(_source(tmp_path / shard, seed)), "--shard", shard]) == 0
    curate = [sys.executable, "-m", "curation_assets.cli"]
    procs = [
        subprocess.Popen(
            [*curate, "run", "--shard", s],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for s in ("alpha", "beta")
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    if [p.returncode for p in procs] != [0, 0]:
        problems = [
            line
            for out in outputs
            for line in out.splitlines()
            if "ERROR" in line or "Error" in line or "FAIL" in line or "failed" in line
        ]
        pytest.fail("a concurrent run failed:\n" + "\n".join(problems[-40:]))
    store = store_for(Layout(home))
    counts = store.query(
        "SELECT shard, count(*) AS n FROM videos GROUP BY shard ORDER BY shard"
    ).rows()
    assert counts == [("alpha", 11), ("beta", 11)]
    clips = store.query("SELECT shard, count(*) FROM clips GROUP BY shard ORDER BY shard").rows()
    assert clips == [("alpha", 4), ("beta", 4)]
    # the read-only catalog for users sees both shards too
    import duckdb

    with duckdb.connect(str(home / "lineage.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(DISTINCT shard) FROM clips").fetchone()[0] == 2


def test_dagster_cli_materializes_a_shard_partition(home: Path, tmp_path: Path) -> None:
    import dagster as dg

    dagster_home = tmp_path / "dh"
    dagster_home.mkdir()
    assert main(["ingest", str(_source(tmp_path / "in", seed=3)), "--shard", "cli-1"]) == 0
    env = {**os.environ, "CURATION_HOME": str(home), "DAGSTER_HOME": str(dagster_home)}
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        instance.add_dynamic_partitions("source_shard", ["cli-1"])
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "curation_assets.definitions",
            "--select",
            "source_videos,shot_clips",
            "--partition",
            "cli-1",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    store = store_for(Layout(home))
    assert store.query("SELECT count(*) FROM videos WHERE shard = 'cli-1'").item() == 11
    assert store.query("SELECT count(*) FROM clips WHERE shard = 'cli-1'").item() == 4
