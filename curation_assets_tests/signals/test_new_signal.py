"""Adding a signal is one analyzer module and one line of curation.yaml.

The module below (``WARMTH_MODULE``) is the whole change: a new visual analyzer declaring one
signal. The user's curation.yaml names the module (it lives outside the package) and gates on it
with one line, ``warmth: {}`` (the gate its declaration gives). Driven as a user drives it (``curate
ingest``, ``run``, ``export`` in their own processes, then ``explain``), the signal then shows in
decisions, in ``explain``, in the ``visual_filter`` asset's UI metadata, in its asset check, in the
offline captions and in the export, without a change to any other file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from curation_assets.cli import main
from curation_assets.config import Layout
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import store_for

WARMTH_MODULE = '''
"""Colour balance: red over blue. A warm grade is a look; an extreme cast is a fault."""

import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal


class WarmthAnalyzer(ClipAnalyzer):
    name = "warmth"
    version = "1"
    family = "visual_filter"
    declares = (
        Signal(
            "warmth",
            "mean red minus mean blue over the samples",
            unit="share of full scale",
            range=(-1.0, 1.0),
            gate=(-0.9, 0.9),
            export=100,
            caption=lambda v: "Warm colours." if v > 0 else "Cool colours.",
        ),
    )

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        rgb = np.stack(clip.rgb).astype(np.float64)
        warmth = (rgb[..., 0].mean() - rgb[..., 2].mean()) / 255.0
        return Measurement(scores={"warmth": float(warmth)})
'''

USER_CONFIG = """\
signal_modules: [{module}]
filters:
  visual_filter:
    warmth: {{}}
subsets:
  stages:
    everything:
      export: {{short_side: 144, fps: 12, clips_per_tar: 4}}
"""


@pytest.fixture
def ran(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    module = tmp_path / "plugins" / "warmth_signal.py"
    module.parent.mkdir()
    module.write_text(WARMTH_MODULE, encoding="utf-8")
    (home / "curation.yaml").write_text(USER_CONFIG.format(module=module), encoding="utf-8")
    incoming = tmp_path / "incoming"
    write_video(
        VideoSpec("two shots.mp4", (Shot(5, seed=3), Shot(6, "pan_right", seed=4))),
        incoming / "two shots.mp4",
    )
    # fresh processes, as a user runs `curate`: the stage `everything` becomes an asset when
    # the code location loads, which this test process may have done before the config existed
    for argv in (
        ["ingest", str(incoming), "--shard", "s1"],
        ["run", "--shard", "s1"],
        ["export", "--subset", "everything"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "curation_assets.cli", *argv], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return home, store_for(Layout(home))


def test_a_new_signal_reaches_decisions_explain_metadata_captions_and_exports(ran, capsys) -> None:
    home, store = ran
    scores = store.query(
        "SELECT clip_id, value, scorer FROM scores WHERE signal = 'warmth' ORDER BY clip_id"
    )
    clips = store.query("SELECT clip_id FROM clips ORDER BY clip_id")["clip_id"].to_list()
    assert scores["clip_id"].to_list() == clips and set(scores["scorer"]) == {"warmth"}
    assert all(-1 <= v <= 1 for v in scores["value"])

    # decisions: the declared gate, from `warmth: {}`
    decisions = store.query(
        "SELECT clip_id, passed, value, threshold FROM decisions "
        "WHERE stage = 'visual_filter' AND filter = 'warmth' ORDER BY clip_id"
    )
    assert decisions["clip_id"].to_list() == clips
    assert set(decisions["threshold"]) == {"-0.9 <= warmth <= 0.9"}
    assert decisions["value"].to_list() == pytest.approx(scores["value"].to_list())
    assert all(decisions["passed"])

    # explain
    assert main(["explain", clips[0]]) == 0
    text = capsys.readouterr().out
    assert "warmth" in text and "-0.9 <= warmth <= 0.9" in text

    # the asset's UI metadata and its check, in the instance `curate run` used
    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey("visual_filter"))
    metadata = event.asset_materialization.metadata
    assert "histogram_warmth" in metadata
    assert "mean red minus mean blue" in metadata["signals"].value
    check = instance.get_latest_asset_check_evaluation_record(
        dg.AssetCheckKey(dg.AssetKey("visual_filter"), "visual_filter_scores_valid")
    )  # the family's GX check holds the new signal to its declared range
    assert check is not None and check.event.dagster_event.event_specific_data.passed

    # captions: the declaration's sentence
    captions = store.query("SELECT caption FROM captions")["caption"].to_list()
    assert captions and all(("Warm colours." in c) != ("Cool colours." in c) for c in captions)

    # export: a score_warmth column in the manifest, and the value in each sample's JSON
    out = home / "exports" / "everything"
    manifest = pl.read_parquet(out / "manifest.parquet")
    assert "score_warmth" in manifest.columns
    assert manifest.filter(pl.col("status") == "ok")["score_warmth"].null_count() == 0
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert all("score_warmth" in r for r in rows)


def test_a_misspelt_or_undeclared_filter_is_refused_with_where_it_is(tmp_path: Path) -> None:
    from curation_assets.config import CurationConfig
    from curation_assets.signals.catalogue import check_config

    with pytest.raises(ValueError, match="filters.visual_filter: unknown filter 'sharpnes'"):
        CurationConfig.model_validate(
            {"filters": {"visual_filter": {"sharpnes": {"sharpness": {"min": 10}}}}}
        )
    undeclared = CurationConfig.model_validate({"filters": {"visual_filter": {"warmth": {}}}})
    with pytest.raises(ValueError, match="no analyzer declares a signal 'warmth'"):
        check_config(undeclared)
    with pytest.raises(ValueError, match="takes the gate its signal declares"):
        undeclared.stage_filters("visual_filter")  # never silently "not scored"

    module = tmp_path / "warmth_signal.py"
    module.write_text(WARMTH_MODULE, encoding="utf-8")
    cfg = check_config(
        CurationConfig.model_validate(
            {"signal_modules": [str(module)], "filters": {"visual_filter": {"warmth": {}}}}
        )
    )
    assert cfg.stage_filters("visual_filter")["warmth"] == {"warmth": {"min": -0.9, "max": 0.9}}
    # a built-in signal's declared gate works the same way
    cfg = check_config(CurationConfig.model_validate({"filters": {"motion_filter": {"shake": {}}}}))
    assert cfg.stage_filters("motion_filter")["shake"] == {"shake": {"max": 0.008}}
