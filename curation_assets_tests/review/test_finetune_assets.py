"""finetune_candidates / finetune_set as Dagster assets, their checks and the reviews sensor."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from curation_assets.assets.finetune import (
    finetune_candidates,
    finetune_candidates_valid,
    finetune_set,
    finetune_set_valid,
)
from curation_assets.config import Layout, load_config
from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS, defs
from curation_assets.exports import read_manifest
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets.review.store import Review, ReviewStore
from curation_assets.selection.finetune import DIMENSIONS

from .conftest import SCRIPT_CAPTION, Seeded, seed

RATED = dict.fromkeys(DIMENSIONS, 4)


def _write_config(home: Path, data: dict) -> None:
    (home / "curation.yaml").write_text(yaml.safe_dump(data))


def _run(home: Path, assets) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            assets, instance=instance, resources={"curation": CurationResource(home=str(home))}
        )
        assert result.success
        return result


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def _md(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    event = next(
        e for e in result.get_asset_materialization_events() if e.asset_key.path[-1] == asset
    )
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _add(store: ReviewStore, clip_id: str, who: str, decision: str, **kw) -> None:
    store.add(Review(clip_id, who, decision, kw.get("in_s"), kw.get("out_s"), kw.get("caption"),
                     RATED), store.clip(clip_id))  # fmt: skip


def _tick(home: Path, cursor: str | None) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def("reviews_sensor")
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"curation": CurationResource(home=str(home))},
        )
        return sensor(context)


def test_candidates_leave_out_what_fails_a_gate_or_a_strict_threshold(home: Path) -> None:
    data: Seeded = seed(home)
    result = _run(home, [finetune_candidates, finetune_candidates_valid])
    ranked = data.store.query("SELECT clip_id, rank FROM finetune_candidates ORDER BY rank")
    kept = set(ranked["clip_id"].to_list())
    assert kept == set(data.clip_ids) - set(data.excluded)
    assert ranked["rank"].to_list() == list(range(1, len(kept) + 1))
    md = _md(result, "finetune_candidates")
    assert md["excluded"] == {
        "failed_near_duplicate": 1,
        "strict_text_overlay": 1,
        "strict_jitter": 1,
    }
    assert md["not_scored"] == {"unsafe": len(kept)}  # offline: recorded, not passed silently
    assert _checks(result)["finetune_candidates_valid"].passed
    # the two concepts alternate at the top of the queue
    concepts = data.store.query("SELECT concept FROM finetune_candidates ORDER BY rank LIMIT 6")
    top = concepts["concept"].to_list()
    assert all(a != b for a, b in zip(top, top[1:], strict=False))


def test_finetune_set_follows_reviews_and_the_sensor_notices_new_ones(home: Path) -> None:
    _write_config(home, {"finetune": {"export_media": False, "min_accepts": 1}})
    data = seed(home)
    _run(home, [finetune_candidates])
    reviews = ReviewStore(data.layout, load_config(home))
    first = _tick(home, None)
    assert not first.run_requests and first.skip_reason
    # before any review: an empty set, exported as an empty manifest (not an error)
    _run(home, [finetune_set])
    assert data.store.query("SELECT count(*) FROM finetune_set").item() == 0
    assert read_manifest(data.layout.exports / "finetune_set").height == 0

    a, b = data.clip_ids[0], data.clip_ids[1]
    _add(reviews, a, "ann", "accept", in_s=0.5, out_s=3.0, caption="edited <i>caption</i>")
    _add(reviews, a, "bob", "reject")  # 1 accept, 1 reject: no majority yet
    _add(reviews, b, "ann", "accept")
    second = _tick(home, first.cursor)
    assert len(second.run_requests) == 1
    assert _tick(home, second.cursor).skip_reason  # same reviews: no second run

    result = _run(home, [finetune_set, finetune_set_valid])
    rows = {r["clip_id"]: r for r in data.store.query("SELECT * FROM finetune_set").to_dicts()}
    assert set(rows) == {b}
    assert _checks(result)["finetune_set_valid"].passed

    _add(reviews, a, "cy", "accept", in_s=1.0, out_s=3.5)  # the latest accepting review wins
    third = _tick(home, second.cursor)
    assert len(third.run_requests) == 1
    _run(home, [finetune_set])
    rows = {r["clip_id"]: r for r in data.store.query("SELECT * FROM finetune_set").to_dicts()}
    assert set(rows) == {a, b}
    assert (rows[a]["start_s"], rows[a]["end_s"]) == (1.0, 3.5)
    # cy accepted last and left the caption alone: the original stays (ann's edit is superseded)
    assert rows[a]["caption"] == SCRIPT_CAPTION and not rows[a]["caption_edited"]
    assert (rows[a]["accepts"], rows[a]["rejects"]) == (2, 1)
    assert rows[b]["start_s"] == 4.0 and rows[b]["end_s"] == 8.0  # untrimmed: the whole clip

    manifest = {
        r["clip_id"]: r for r in read_manifest(data.layout.exports / "finetune_set").to_dicts()
    }
    assert set(manifest) == {a, b}
    assert manifest[a]["start_frame"] == 24 and manifest[a]["end_frame"] == 84  # 1.0-3.5 s @ 24
    # re-running changes nothing (idempotent): same rows, one part
    before = data.store.query("SELECT * FROM finetune_set ORDER BY clip_id")
    _run(home, [finetune_set])
    assert data.store.query("SELECT * FROM finetune_set ORDER BY clip_id").equals(before)
    parts = list((data.layout.lineage_parts / "finetune_set").glob("finetune_set__*.parquet"))
    assert len(parts) == 1


def test_the_caption_of_the_latest_accepting_review_is_kept_even_if_someone_else_edited(
    home: Path,
) -> None:
    _write_config(home, {"finetune": {"export_media": False}})
    data = seed(home, videos=1, clips_per_video=2)
    _run(home, [finetune_candidates])
    reviews = ReviewStore(data.layout, load_config(home))
    clip = data.clip_ids[1]
    _add(reviews, clip, "ann", "accept", caption="first edit")
    _add(reviews, clip, "bob", "accept", caption="<script>x</script> second edit")
    _run(home, [finetune_set])
    row = data.store.query("SELECT caption, caption_edited FROM finetune_set").row(0)
    assert row == ("<script>x</script> second edit", True)


@pytest.mark.slow
def test_candidates_from_a_real_shard_through_review_into_the_set(home: Path) -> None:
    """The real pipeline (decode, filters, captions, duplicates, concepts) feeds the pool."""
    # synthetic footage is 640x360: drop the resolution floors of the presets and the set
    _write_config(
        home,
        {
            "subsets": {"presets": []},
            "finetune": {"filters": {"resolution": None}, "export_media": False},
        },
    )
    layout = Layout(home)
    shard = "real"
    for name, motion, seed_ in [("pan.mp4", "pan_right", 51), ("tilt.mp4", "tilt_down", 52)]:
        write_video(
            VideoSpec(name, (Shot(6, motion, seed=seed_),), 640, 360),
            layout.shard_uploads(shard) / name,
        )
    (layout.shard_uploads(shard) / "_READY").write_text("")
    resources = {"curation": CurationResource(home=str(home))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [shard])
        assert dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key=shard, resources=resources
        ).success
        assert dg.materialize(GLOBAL_ASSETS, instance=instance, resources=resources).success
        result = dg.materialize(
            [finetune_candidates, finetune_candidates_valid], instance=instance, resources=resources
        )
    assert result.success and _checks(result)["finetune_candidates_valid"].passed
    store = store_for(layout)
    cands = store.query("SELECT * FROM finetune_candidates ORDER BY rank").to_dicts()
    clean = set(
        store.query(
            "SELECT clip_id FROM clips WHERE clip_id NOT IN "
            "(SELECT clip_id FROM decisions WHERE passed = false)"
        )["clip_id"].to_list()
    )
    assert cands and {c["clip_id"] for c in cands} <= clean
    md = _md(result, "finetune_candidates")
    assert md["candidates"] + sum(md["excluded"].values()) >= len(clean)
    reviews = ReviewStore(layout, load_config(home))
    top = cands[0]
    _add(reviews, top["clip_id"], "ann", "accept", in_s=top["start_s"] + 1, out_s=top["end_s"] - 1)
    _run(home, [finetune_set])
    member = store.query("SELECT * FROM finetune_set").to_dicts()
    assert [m["clip_id"] for m in member] == [top["clip_id"]]
    assert member[0]["caption"]  # the pipeline's own caption, kept when not edited
    assert member[0]["duration_s"] == pytest.approx(top["end_s"] - top["start_s"] - 2)
