"""The captions step on a materialized shard: eligibility, resumability, the VLM path."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from curation_assets.assets.captions import captions_complete
from curation_assets.captioning.base import CaptionResult, Parse
from curation_assets.captioning.run import caption_shard, captioner_key
from curation_assets.captioning.signals_captioner import SignalsCaptioner
from curation_assets.config import CurationConfig, Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets_tests.materialize import materialize_shard

VIDEOS = {
    "pan.mp4": (Shot(5, "pan_right", seed=21),),
    "two shots.mp4": (Shot(5, "drift", seed=22), Shot(5, "tilt_down", seed=23)),
    "dark.mp4": (Shot(5, "drift", seed=24, effects=("dark:0.15",)),),  # fails exposure
    "still.mp4": (Shot(5, "static", seed=25, objects=0),),  # fails static
}


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("captions_home")
    folder = Layout(home).shard_uploads("cap")
    for name, shots in VIDEOS.items():
        write_video(VideoSpec(name, shots), folder / name)
    (folder / "_READY").write_text("")
    materialize_shard(home, "cap")
    return home


def _store(home: Path):
    return store_for(Layout(home))


def test_only_clips_passing_every_filter_are_captioned(shard: Path) -> None:
    store = _store(shard)
    captions = store.query(
        "SELECT v.file_name, c.caption, c.captioner, c.fields_json FROM captions c "
        "JOIN clips USING (clip_id) JOIN videos v USING (video_id) ORDER BY v.file_name"
    )
    names = captions["file_name"].to_list()
    assert names == ["pan.mp4", "two shots.mp4", "two shots.mp4"]  # dark and still filtered out
    pan = captions.row(0, named=True)
    assert pan["captioner"] == "signals"
    assert "camera pans right" in pan["caption"].lower()
    fields = json.loads(pan["fields_json"])
    assert fields["dense_description"] == ""  # the offline captioner never invents one
    decisions = store.query(
        "SELECT count(*) FROM decisions WHERE stage = 'captions' AND passed"
    ).item()
    assert decisions == 3


class _Interrupting(SignalsCaptioner):
    """Dies like a killed worker after its first batch (not an Exception: nothing catches it)."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_size = 1
        self.calls = 0

    def caption_batch(self, items):
        self.calls += 1
        if self.calls > 1:
            raise KeyboardInterrupt("killed mid-shard")
        return super().caption_batch(items)


class _Counting(SignalsCaptioner):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def caption_batch(self, items):
        self.seen.extend(i.clip_id for i in items)
        return super().caption_batch(items)


def test_a_killed_run_recaptions_only_the_missing_clips(shard: Path, tmp_path: Path) -> None:
    cfg, store = CurationConfig(), _store(shard)
    journal = tmp_path / "journal"
    with pytest.raises(KeyboardInterrupt):
        caption_shard(store, "cap", journal, cfg, captioner=_Interrupting())
    lines = (journal / f"{captioner_key(cfg.captioning)}.jsonl").read_text().splitlines()
    assert len(lines) == 1  # the first batch is durable
    survivor = json.loads(lines[0])["clip_id"]

    counting = _Counting()
    rows = caption_shard(store, "cap", journal, cfg, captioner=counting)
    assert rows.reused == 1 and rows.captioned_now == 2
    assert survivor not in counting.seen and len(counting.seen) == 2
    assert len(rows.captions) == rows.eligible == 3

    again = _Counting()
    rerun = caption_shard(store, "cap", journal, cfg, captioner=again)
    assert again.seen == [] and rerun.captions == rows.captions  # idempotent


class _Looping(SignalsCaptioner):
    """A captioner whose output is a degenerate loop: QC must catch it and retry once."""

    name = "looping"

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def caption_batch(self, items):
        self.calls += len(items)
        text = "a cat a cat a cat a cat a cat a cat a cat a cat a cat a cat a cat a cat"
        return [
            CaptionResult(
                i.clip_id, text, {"dense_description": text}, text, Parse.OK, self.name, "loop-v1"
            )
            for i in items
        ]


def test_captions_failing_qc_are_retried_once_then_flagged(shard: Path, tmp_path: Path) -> None:
    cfg, store = CurationConfig(), _store(shard)
    looping = _Looping()
    rows = caption_shard(store, "cap", tmp_path, cfg, captioner=looping)
    assert rows.retried == 3 and looping.calls == 6
    assert {d["passed"] for d in rows.decisions} == {False}
    assert {d["reason"] for d in rows.decisions} == {"caption_repetition"}


def test_tiny_vlm_captions_the_shard_through_the_production_loader(
    shard: Path, tmp_path: Path
) -> None:
    from curation_assets.captioning.tiny_model import cached_tiny_qwen2_vl, torch_threads

    model = cached_tiny_qwen2_vl()
    cfg = CurationConfig.model_validate(
        {
            "captioning": {
                "captioner": "vlm",
                "model": str(model),
                "max_new_tokens": 24,
                "device": "cpu",
                "dtype": "float32",
            }
        }
    )
    with torch_threads(1):
        rows = caption_shard(_store(shard), "cap", tmp_path, cfg)
    assert len(rows.captions) == 3 and rows.generated_tokens > 0
    assert {c["captioner"] for c in rows.captions} == {"vlm"}
    # random weights write garbage: parsed or flagged, never a crash
    assert all(d["passed"] in (True, False) for d in rows.decisions)
    assert any(not d["passed"] for d in rows.decisions)


def test_captions_check_fails_when_an_eligible_clip_has_no_caption(
    shard: Path, tmp_path: Path
) -> None:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(shard, home)
    store = _store(home)
    kept = store.query("SELECT * FROM captions ORDER BY clip_id").to_dicts()[1:]
    store.replace("captions", "cap", {"captions": kept})
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["cap"])
        result = dg.materialize(
            [*PER_SHARD_ASSETS, captions_complete],
            instance=instance,
            resources={"curation": CurationResource(home=str(home))},
            selection=dg.AssetSelection.checks(captions_complete),
            tags={"dagster/partition": "cap"},
            raise_on_error=False,
        )
    evaluation = result.get_asset_check_evaluations()[0]
    assert not evaluation.passed
    assert evaluation.metadata["expectations_failed"].value >= 1
