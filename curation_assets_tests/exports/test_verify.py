"""verify_export: a fresh export passes; a shard edited by hand or a stray shard is caught,
and the next export repairs it."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from curation_assets.exports import export_subset, verify_export
from curation_assets_tests.exports.pattern import member, members_frame
from curation_assets_tests.exports.test_export import SPEC, _rows, _tar_members, sources  # noqa: F401


def test_verify_export_passes_a_fresh_export_and_catches_tampering(tmp_path: Path, sources) -> None:  # noqa: F811
    out = tmp_path / "export"
    rows = [*_rows(sources), member(tmp_path / "gone.mp4", 0, 30, 30, 320, 180, "16:9")]
    export_subset(members_frame(rows), out, SPEC)
    check = verify_export(out, decode=True)
    assert check.passed, check.problems
    assert (check.clips_ok, check.clips_failed, check.tars, check.decoded) == (6, 1, 5, 6)
    # a shard rewritten by hand with one clip missing, and a stray shard
    victim = out / "pretrain_test-000000.tar"
    members = _tar_members(victim)
    dropped = sorted(k for k in members if k.endswith(".mp4"))[0]
    with tarfile.open(victim, "w") as tar:
        for name, data in members.items():
            if name != dropped:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    (out / "pretrain_test-000099.tar").write_bytes(b"")
    problems = verify_export(out).problems
    assert any(dropped in p and "missing" in p for p in problems), problems
    assert any("pretrain_test-000099.tar: not in the manifest" in p for p in problems), problems
    # and the next export repairs it: the shard no longer matches its record
    report = export_subset(members_frame(rows), out, SPEC)
    assert [p.name for p in report.tars_written] == ["pretrain_test-000000.tar"]
    assert [p.name for p in report.tars_removed] == ["pretrain_test-000099.tar"]
    assert verify_export(out, decode=True).passed
