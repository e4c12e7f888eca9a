"""Reviews survive a writer killed at any moment: every acknowledged review is readable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl

from curation_assets.config import load_config
from curation_assets.review.store import ReviewStore

from .conftest import seed

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from curation_assets.config import Layout, load_config
    from curation_assets.review.store import Review, ReviewStore
    from curation_assets.selection.finetune import DIMENSIONS

    home = Path(sys.argv[1])
    store = ReviewStore(Layout(home), load_config(home))
    clips = sys.argv[2:]
    info = {c: store.clip(c) for c in clips}
    n = 0
    while True:  # until killed
        clip = clips[n % len(clips)]
        review = Review(clip, "crashy", "accept", None, None, f"caption {n}",
                        dict.fromkeys(DIMENSIONS, 3))
        print(store.add(review, info[clip]), flush=True)  # printed = acknowledged
        n += 1
    """
)


def test_a_killed_writer_loses_no_acknowledged_review(home: Path) -> None:
    data = seed(home, videos=1, clips_per_video=3)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), *data.clip_ids],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    acked = []
    try:
        while len(acked) < 25:
            line = proc.stdout.readline()
            assert line, "writer died before writing"
            acked.append(line.strip())
    finally:
        proc.send_signal(signal.SIGKILL)  # mid-write, most likely: it never pauses
        proc.wait(30)
    stored = ReviewStore(data.layout, load_config(home)).reviews()
    assert set(acked) <= set(stored["review_id"].to_list())
    # every part on disk is a complete, readable review; leftovers of the killed write are
    # temporary files that no reader looks at
    folder = data.layout.lineage_parts / "reviews"
    for part in folder.glob("review__*.parquet"):
        assert pl.read_parquet(part).height == 1
    assert all(p.name.startswith(".") for p in folder.iterdir() if not p.name.endswith(".parquet"))


def test_a_compaction_killed_midway_leaves_every_review_readable_once(home: Path) -> None:
    """Merged file written, originals not yet removed: duplicates on disk, none in reviews()."""
    data = seed(home, videos=1, clips_per_video=3)
    store = ReviewStore(data.layout, load_config(home))
    from curation_assets.review.store import Review, compacted_parts, loose_parts
    from curation_assets.selection.finetune import DIMENSIONS

    ids = [
        store.add(
            Review(c, f"r{i}", "reject", None, None, None, dict.fromkeys(DIMENSIONS, 2)),
            store.clip(c),
        )
        for i in range(4)
        for c in data.clip_ids
    ]
    folder = data.layout.lineage_parts / "reviews"
    keep = [p.read_bytes() for p in loose_parts(folder)]
    names = [p.name for p in loose_parts(folder)]
    assert store.compact() == len(ids)
    assert len(compacted_parts(folder)) == 1 and not loose_parts(folder)
    for name, raw in zip(names, keep, strict=True):  # as if the deletes never happened
        (folder / name).write_bytes(raw)
    assert sorted(store.reviews()["review_id"].to_list()) == sorted(ids)
    assert store.compact() == len(ids)  # the next compaction folds the copies away
    assert sorted(store.reviews()["review_id"].to_list()) == sorted(ids)
    assert len(compacted_parts(folder)) == 1 and not loose_parts(folder)
