"""Which copy of a near-duplicate group is kept, materialized for real: a watermarked copy at the
higher resolution loses to a clean copy at a lower one, and ``explain`` of the dropped copy names
the kept one and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation_assets.config import Layout
from curation_assets.lineage.queries import explain
from curation_assets.media.synthetic import Shot
from curation_assets.resources import store_for
from curation_assets_tests.materialize import materialize_shard
from curation_assets_tests.signals.test_watermark import LIMIT, write_marked


def _materialize(home: Path, shard: str) -> None:
    materialize_shard(home, shard, with_global=True)


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("watermark_dedup_home")
    layout = Layout(home)
    shot = Shot(6, "pan_right", seed=5)
    # the watermarked copy has the higher resolution: the old rule (longest, then resolution)
    # kept it; the clean copy comes in another shard, smaller
    write_marked(layout.shard_uploads("first") / "marked.mp4", shot, ("text", 1.0, 440, 300))
    (layout.shard_uploads("first") / "_READY").write_text("")
    _materialize(home, "first")
    second = layout.shard_uploads("second")
    write_marked(second / "clean small.mp4", shot, None, size=(480, 270))
    (second / "_READY").write_text("")
    _materialize(home, "second")
    return home


def test_the_clean_copy_is_kept_and_the_watermarked_one_dropped(copies: Path) -> None:
    store = store_for(Layout(copies))
    visual = store.query(
        "SELECT v.file_name, d.passed FROM decisions d JOIN clips c USING (clip_id) "
        "JOIN videos v USING (video_id) WHERE d.stage = 'visual_filter' "
        "AND d.filter = 'watermark' ORDER BY v.file_name"
    ).rows()
    assert visual == [("clean small.mp4", True), ("marked.mp4", False)]
    kept = store.query(
        "SELECT v.file_name, d.passed, c.clip_id FROM decisions d JOIN clips c USING (clip_id) "
        "JOIN videos v USING (video_id) WHERE d.stage = 'near_duplicates' ORDER BY v.file_name"
    ).rows()
    assert [(name, passed) for name, passed, _ in kept] == [
        ("clean small.mp4", True),
        ("marked.mp4", False),
    ]
    clean_id, marked_id = kept[0][2], kept[1][2]

    trail = explain(store, marked_id)
    (dup,) = [d for d in trail["decisions"] if d["stage"] == "near_duplicates"]
    assert dup["passed"] is False
    assert clean_id in dup["reason"]
    assert "fewer failing visual filters" in dup["reason"]
    assert "watermark" in dup["reason"]
    crop = {s["signal"]: s["value"] for s in trail["scores"] if s["signal"].startswith("watermark")}
    assert crop["watermark_confidence"] > LIMIT
    assert crop["watermark_crop_right"] > 0 or crop["watermark_crop_bottom"] > 0
