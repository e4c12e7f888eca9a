"""Lineage reads share one in-memory DuckDB per process (a cursor each, not a new database each):
what a reader sees must still be exactly the parts on disk, in threads and in a forked child."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from curation_assets.lineage.store import LineageStore, tables_in


def _clip(clip_id: str, shard: str = "s1") -> dict:
    return {"clip_id": clip_id, "video_id": "v", "shard": shard, "start_s": 0.0, "end_s": 4.0}


def _store(tmp_path: Path) -> LineageStore:
    return LineageStore(tmp_path / "parts", tmp_path / "lineage.duckdb")


def test_a_query_names_only_the_tables_it_reads():
    assert tables_in("SELECT c.clip_id FROM clips c JOIN videos v USING (video_id)") == [
        "videos",
        "clips",
    ]
    assert tables_in("SELECT count(*) AS n FROM subset_members WHERE subset = ?") == [
        "subset_members"
    ]


def test_every_query_sees_the_parts_as_they_are_now(tmp_path):
    store = _store(tmp_path)
    for n in range(1, 6):  # the same part replaced again and again within a second
        store.replace("shot_clips", "s1", {"clips": [_clip(f"c{i}") for i in range(n)]})
        assert store.query("SELECT count(*) AS n FROM clips")["n"][0] == n
    store.replace("shot_clips", "s2", {"clips": [_clip("d0", "s2")]})
    with store.connect(["clips"], partitions=["s2"]) as con:
        assert con.execute("SELECT clip_id FROM clips").fetchall() == [("d0",)]
    with store.connect(["clips"]) as con:  # another session: not limited to s2
        assert con.execute("SELECT count(*) FROM clips").fetchone() == (6,)


def test_sessions_in_threads_keep_their_own_views(tmp_path):
    store = _store(tmp_path)
    for shard in ("a", "b", "c", "d"):
        rows = [_clip(f"{shard}{i}", shard) for i in range(ord(shard) - ord("a") + 1)]
        store.replace("shot_clips", shard, {"clips": rows})

    def count(shard: str) -> int:
        totals = set()
        for _ in range(20):
            with store.connect(["clips"], partitions=[shard]) as con:
                totals.add(con.execute("SELECT count(*) FROM clips").fetchone()[0])
        assert len(totals) == 1
        return totals.pop()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(count, ["a", "b", "c", "d"] * 3)) == [1, 2, 3, 4] * 3


def _child_count(parts: str, out) -> None:
    store = LineageStore(Path(parts), Path(parts).parent / "lineage.duckdb")
    out.put(int(store.query("SELECT count(*) AS n FROM clips")["n"][0]))


def test_a_forked_child_reads_with_its_own_database(tmp_path):
    store = _store(tmp_path)
    store.replace("shot_clips", "s1", {"clips": [_clip("c0"), _clip("c1")]})
    assert store.query("SELECT count(*) AS n FROM clips")["n"][0] == 2  # the parent's database
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_child_count, args=(str(store.parts_dir), out))
    child.start()
    assert out.get(timeout=120) == 2
    child.join(timeout=120)
    assert child.exitcode == 0


def test_the_catalog_is_remade_when_removed_or_stale_after_this_process_checked_it(tmp_path):
    import duckdb

    store = _store(tmp_path)
    store.replace("shot_clips", "s1", {"clips": [_clip("c0")]})
    catalog = store.ensure_catalog()
    assert store.ensure_catalog() == catalog  # checked once: the second call trusts the file
    catalog.unlink()
    store.ensure_catalog()
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM clips").fetchone() == (1,)
    with duckdb.connect(str(catalog)) as con:  # another version of the project wrote it
        con.execute("UPDATE catalog_info SET stamp = 'old'")
    store.ensure_catalog()
    with duckdb.connect(str(catalog), read_only=True) as con:
        assert con.execute("SELECT stamp FROM catalog_info").fetchone() != ("old",)
