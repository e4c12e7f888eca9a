"""Model stages through Dagster: a missing model stops the stage with the fix; a pulled one runs
offline in the analyzer worker processes and shows in the asset metadata; the resource reports
the inventory."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from curation_assets.assets.filters import content_filter
from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets_tests.models.conftest import CLIP_REPO
from curation_assets_tests.models.hub_server import FakeHub

CLIP_ONLY = f"content:\n  clip_model: hf-hub:{CLIP_REPO}\n  clip_pretrained: hf-hub:{CLIP_REPO}\n"


def test_a_missing_model_stops_its_stage_with_the_command_that_fixes_it(home: Path) -> None:
    (home / "curation.yaml").write_text(CLIP_ONLY)
    resources = {"curation": CurationResource(home=str(home))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["s1"])
        result = dg.materialize(
            [content_filter],
            instance=instance,
            partition_key="s1",
            resources=resources,
            raise_on_error=False,
        )
    assert not result.success
    [failure] = result.get_step_failure_events()
    data = failure.step_failure_data
    description = data.user_failure_data.description
    assert "content_filter needs 1 model(s) that are not in the local cache" in description
    assert f"hf-hub:{CLIP_REPO}: not pulled" in description
    assert "curate models pull" in description
    assert str(home / "models" / "hub") in description


def test_resource_reports_the_inventory(home: Path) -> None:
    (home / "curation.yaml").write_text(CLIP_ONLY)
    report = CurationResource(home=str(home)).models()
    assert report["hub_cache"] == str(home / "models" / "hub")
    [row] = report["models"]
    assert row["stage"] == "content_filter" and row["repo_id"] == CLIP_REPO
    assert row["present"] is False


@pytest.mark.slow
def test_pulled_hub_model_runs_offline_in_the_workers_and_shows_in_metadata(
    home: Path, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from curation_assets.cli import main

    (home / "curation.yaml").write_text(CLIP_ONLY)
    assert main(["models", "pull"]) == 0
    commit = hub.repos[CLIP_REPO].commit
    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # the resource names the data root; the environment names another: worker processes must
    # find the cache through the settings they are given, not through $CURATION_HOME
    monkeypatch.setenv("CURATION_HOME", str(tmp_path / "elsewhere"))
    folder = Layout(home).shard_uploads("hubbed")
    write_video(VideoSpec("a.mp4", (Shot(5, "pan_right", seed=41),)), folder / "a.mp4")
    write_video(VideoSpec("b.mp4", (Shot(5, "zoom_in", seed=42),)), folder / "b.mp4")
    (folder / "_READY").write_text("")
    resources = {"curation": CurationResource(home=str(home))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["hubbed"])
        result = dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key="hubbed", resources=resources
        )
        assert result.success
        [event] = [
            m
            for m in result.get_asset_materialization_events()
            if m.asset_key == dg.AssetKey("content_filter")
        ]
        models = event.materialization.metadata["models"].value
        visual = [
            m.materialization.metadata["models"].value
            for m in result.get_asset_materialization_events()
            if m.asset_key == dg.AssetKey("visual_filter")
        ]
    assert CLIP_REPO in models and commit[:12] in models and "| mit |" in models
    assert visual == [
        "No configured model: this stage computes its model signals with offline scorers."
    ]
    store = store_for(Layout(home))
    scorers = store.query(
        "SELECT signal, scorer, count(*) n FROM scores "
        "WHERE signal IN ('human_clip', 'unsafe_clip') GROUP BY ALL ORDER BY signal"
    ).rows()
    assert [(s, scorer) for s, scorer, _ in scorers] == [
        ("human_clip", "open_clip"),
        ("unsafe_clip", "open_clip"),
    ]
    errors = store.query("SELECT count(*) FROM decisions WHERE filter = 'analysis_error'").item()
    assert errors == 0  # the workers found the pulled weights (none fell into per-clip errors)
