"""Shards on local disk: names, completeness, listing and ingest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from curation_assets.storage.shards import (
    READY_MARKER,
    ShardError,
    check_shard_name,
    ingest,
    is_ready,
    list_shard_files,
    ready_shards,
    video_id_for,
)


@pytest.mark.parametrize(
    "name", ["a", "0", "shard-2024.06_01", "s1", "a" * 64, "x..y", "9_-.", "batch.001"]
)
def test_valid_shard_names(name):
    assert check_shard_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "A",
        "Shard",
        "-lead",
        ".hidden",
        "_lead",
        "a" * 65,
        "has space",
        "slash/inside",
        "..",
        "café",
        "ends-with-newline\n",
        "tab\t",
        "a:b",
    ],
)
def test_invalid_shard_names_are_refused_clearly(name):
    with pytest.raises(ShardError) as info:
        check_shard_name(name)
    message = str(info.value)
    assert repr(name) in message
    assert "a-z, 0-9" in message and "1-64 characters" in message


def test_shard_error_is_a_value_error():
    with pytest.raises(ValueError):
        check_shard_name("NOPE")


def _mkshard(uploads: Path, name: str, ready: bool = True) -> Path:
    folder = uploads / name
    folder.mkdir(parents=True)
    (folder / "a.mp4").write_bytes(b"x")
    if ready:
        (folder / READY_MARKER).write_text("")
    return folder


def test_ready_shards(tmp_path):
    uploads = tmp_path / "uploads"
    assert ready_shards(uploads) == []  # no uploads folder yet
    for name in ("s2", "s1", "done.3"):
        _mkshard(uploads, name)
    _mkshard(uploads, "still-copying", ready=False)
    _mkshard(uploads, "Bad Name")  # complete, but an invalid name is never a partition
    _mkshard(uploads, "_tmp")
    (uploads / "loose-file").write_text("")
    marker_dir = _mkshard(uploads, "marker-is-dir", ready=False)
    (marker_dir / READY_MARKER).mkdir()
    os.symlink(uploads / "s1", uploads / "link-to-s1")  # a link is not a shard of its own

    assert ready_shards(uploads) == ["done.3", "s1", "s2"]
    assert ready_shards(uploads, skip={"s1"}) == ["done.3", "s2"]
    assert ready_shards(uploads, skip=frozenset({"s1", "s2", "done.3"})) == []

    (uploads / "still-copying" / READY_MARKER).write_text("")
    assert ready_shards(uploads, skip={"s1", "s2", "done.3"}) == ["still-copying"]
    assert is_ready(uploads / "still-copying") and not is_ready(marker_dir)


def test_list_shard_files(tmp_path):
    shard = tmp_path / "uploads" / "s1"
    (shard / "sub" / "deeper").mkdir(parents=True)
    (shard / "b.mp4").write_bytes(b"b")
    (shard / "a clip é.mp4").write_bytes(b"a")
    (shard / "sub" / "c.mov").write_bytes(b"c")
    (shard / "sub" / "deeper" / "d.mkv").write_bytes(b"d")
    (shard / "sub" / READY_MARKER).write_text("")  # only the root marker is the marker
    (shard / READY_MARKER).write_text("")
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(b"s")
    os.symlink(outside, shard / "escape.mp4")
    os.symlink(shard / "b.mp4", shard / "inside link.mp4")
    os.symlink(tmp_path / "missing.mp4", shard / "dangling.mp4")
    os.symlink(tmp_path, shard / "dir link")

    files = {f.rel: f for f in list_shard_files(shard)}
    assert list(files) == sorted(files)
    assert set(files) == {
        "a clip é.mp4",
        "b.mp4",
        "dangling.mp4",
        "dir link",
        "escape.mp4",
        "inside link.mp4",
        "sub/_READY",
        "sub/c.mov",
        "sub/deeper/d.mkv",
    }
    assert READY_MARKER not in files
    assert files["escape.mp4"].problem == "symlink points outside the shard"
    assert files["dangling.mp4"].problem is not None
    assert files["dir link"].problem is not None
    assert files["inside link.mp4"].problem is None
    ok = [f for f in files.values() if f.problem is None]
    assert {f.rel for f in ok} == {
        "a clip é.mp4",
        "b.mp4",
        "inside link.mp4",
        "sub/_READY",
        "sub/c.mov",
        "sub/deeper/d.mkv",
    }
    assert files["sub/deeper/d.mkv"].path == shard / "sub" / "deeper" / "d.mkv"
    assert list_shard_files(tmp_path / "nowhere") == []


def test_video_id_is_stable_and_distinct():
    assert video_id_for("s1", "a.mp4") == video_id_for("s1", "a.mp4")
    assert video_id_for("s1", "a.mp4") != video_id_for("s2", "a.mp4")
    assert video_id_for("s1", "a.mp4") != video_id_for("s1", "sub/a.mp4")
    assert video_id_for("s1", "a.mp4").startswith("v") and len(video_id_for("s", "x")) == 17


@pytest.fixture
def sources(tmp_path: Path) -> tuple[Path, Path]:
    single = tmp_path / "src" / "one file.mp4"
    folder = tmp_path / "src" / "batch"
    (folder / "nested").mkdir(parents=True)
    single.write_bytes(b"1" * 1000)
    (folder / "x.mp4").write_bytes(b"x" * 10)
    (folder / "nested" / "y.mov").write_bytes(b"y" * 20)
    return single, folder


@pytest.fixture
def copies(monkeypatch) -> list[Path]:
    """Every file ``ingest`` puts in place, in order; each must land before the shard is ready."""
    placed: list[Path] = []
    real_replace = os.replace

    def spy_replace(src, dst):
        dst = Path(dst)
        assert not is_ready(dst.parent) and not is_ready(dst.parent.parent)
        placed.append(dst)
        return real_replace(src, dst)

    monkeypatch.setattr("curation_assets.storage.shards.os.replace", spy_replace)
    return placed


def test_ingest_copies_files_and_folder_contents(home, sources, copies):
    single, folder = sources
    uploads = home / "uploads"
    target, copied = ingest([single, folder], "new", uploads)

    assert target == uploads / "new" and copied == 3 and is_ready(target)
    assert sorted(p.name for p in copies) == ["one file.mp4", "x.mp4", "y.mov"]
    assert (target / "one file.mp4").read_bytes() == b"1" * 1000
    assert (target / "x.mp4").read_bytes() == b"x" * 10  # folder contents, not the folder
    assert (target / "nested" / "y.mov").read_bytes() == b"y" * 20
    assert not list(target.rglob("*.partial"))
    assert ready_shards(uploads) == ["new"]
    assert [f.rel for f in list_shard_files(target)] == ["nested/y.mov", "one file.mp4", "x.mp4"]


def test_reingest_identical_is_a_noop(home, sources):
    uploads = home / "uploads"
    target, _ = ingest(sources, "s1", uploads)
    before = {p: p.stat().st_mtime_ns for p in target.rglob("*")}
    assert ingest(sources, "s1", uploads) == (target, 0)
    assert ingest([sources[0]], "s1", uploads) == (target, 0)  # a subset is identical too
    assert {p: p.stat().st_mtime_ns for p in target.rglob("*")} == before


def test_reingest_changed_into_complete_shard_is_refused(home, sources):
    single, folder = sources
    uploads = home / "uploads"
    target, _ = ingest([single, folder], "s1", uploads)
    (folder / "x.mp4").write_bytes(b"X" * 10)  # same size, other bytes
    with pytest.raises(ShardError, match=r"already complete.*new shard name.*1 file\(s\) differ"):
        ingest([single, folder], "s1", uploads)
    extra = single.with_name("extra.mp4")
    extra.write_bytes(b"e")
    with pytest.raises(ShardError, match="already complete"):
        ingest([extra], "s1", uploads)
    assert (target / "x.mp4").read_bytes() == b"x" * 10  # nothing was touched
    assert not (target / "extra.mp4").exists()


def test_ingest_into_an_unfinished_shard_completes_it(home, sources):
    uploads = home / "uploads"
    (uploads / "s1").mkdir(parents=True)
    (uploads / "s1" / "x.mp4").write_bytes(b"half")  # an interrupted earlier ingest
    target, copied = ingest([sources[1]], "s1", uploads)
    assert copied == 2 and is_ready(target)
    assert (target / "x.mp4").read_bytes() == b"x" * 10


def test_ingest_of_a_finished_shard_folder_does_not_copy_its_marker_early(home, sources, copies):
    uploads = home / "uploads"
    first, _ = ingest([sources[1]], "first", uploads)
    copies.clear()
    target, copied = ingest([first], "second", uploads)
    assert copied == 2 and is_ready(target)
    assert [p.name for p in copies] == ["y.mov", "x.mp4"]  # "_READY" sorts first; not copied


def test_ingest_refusals(home, tmp_path):
    uploads = home / "uploads"
    with pytest.raises(ShardError, match="invalid shard name"):
        ingest([tmp_path], "Bad", uploads)
    with pytest.raises(ShardError, match="no such file or folder"):
        ingest([tmp_path / "missing.mp4"], "s1", uploads)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ShardError, match="nothing to ingest"):
        ingest([empty], "s1", uploads)
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "same.mp4").write_bytes(d.name.encode())
    with pytest.raises(ShardError, match="same file name"):
        ingest([a, b], "s1", uploads)
    assert not (uploads / "s1").exists()  # refused before anything was copied
