"""content_filter with open_clip weights configured: a tiny random CLIP saved to disk and loaded
through curation.yaml by the production code path, end to end into the global assets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from curation_assets.config import Layout
from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets.storage.vectors import load_vectors
from curation_assets_tests.tiny_clip import save_tiny_clip

TINY = "tiny-vit-pipeline-test"


def test_open_clip_weights_flow_through_content_filter_and_dedup(tmp_path: Path) -> None:
    models = tmp_path / "models"
    config = save_tiny_clip(models, TINY, checkpoint="tiny.pt")["config"]

    home = tmp_path / "home"
    folder = Layout(home).shard_uploads("clipped")
    write_video(VideoSpec("a.mp4", (Shot(5, "pan_right", seed=41),)), folder / "a.mp4")
    write_video(VideoSpec("b.mp4", (Shot(5, "zoom_in", seed=42),)), folder / "b.mp4")
    (folder / "_READY").write_text("")
    (home / "curation.yaml").write_text(
        "content:\n"
        f"  clip_model: {TINY}\n  clip_pretrained: {models / 'tiny.pt'}\n"
        f"  clip_model_config: {config}\n"
    )
    resources = {"curation": CurationResource(home=str(home))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["clipped"])
        assert dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key="clipped", resources=resources
        ).success
        assert dg.materialize(GLOBAL_ASSETS, instance=instance, resources=resources).success

    store = store_for(Layout(home))
    scorers = store.query(
        "SELECT DISTINCT signal, scorer FROM scores WHERE signal IN ('human_clip', 'unsafe_clip')"
    ).rows()
    assert sorted(scorers) == [("human_clip", "open_clip"), ("unsafe_clip", "open_clip")]
    unsafe = store.query(
        "SELECT passed FROM decisions WHERE stage = 'content_filter' AND filter = 'unsafe'"
    )
    assert unsafe["passed"].is_not_null().all()  # scored now, not "not scored"
    ids, vectors = load_vectors(
        Layout(home).shard_warehouse("clipped") / "vectors" / "clip_embedding.npz"
    )
    assert len(ids) == 2 and vectors.shape == (2, 32)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-4
    concept_scorer = store.query(
        "SELECT DISTINCT scorer FROM clip_labels WHERE kind = 'concept'"
    ).item()
    assert concept_scorer == "kmeans:clip_embedding"
