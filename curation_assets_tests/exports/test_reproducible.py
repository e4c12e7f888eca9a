"""Exports are byte-identical whatever the machine: one core or many, run after run.

libx264 picks its thread count from the CPUs a process may use, and its macroblock tree varied
between encodes of identical frames; both used to change the exported bytes (a resumed export
differed from a clean one on a fresh machine). Each export here runs in its own interpreter under
a CPU affinity, the way x264 sees the machine it runs on.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation_assets.media import synthetic
from curation_assets_tests.exports.pattern import write_pattern_video

_REPO = Path(__file__).resolve().parents[2]
_EXPORT_UNDER_AFFINITY = r"""
import hashlib, json, os, sys
from pathlib import Path
cpus = json.loads(sys.argv[1])
os.sched_setaffinity(0, cpus)
from curation_assets.exports import ExportSpec, export_subset
from curation_assets_tests.exports.pattern import member, members_frame
wide, phone, out = (Path(p) for p in sys.argv[2:5])
rows = [
    member(wide, 0, 60, 30, 320, 180, "16:9"),
    member(wide, 37, 121, 30, 320, 180, "16:9"),
    member(phone, 0, 48, 24, 180, 320, "9:16"),
    member(phone, 48, 96, 24, 180, 320, "9:16", duration_bucket="4-6s"),
]
export_subset(members_frame(rows), out, ExportSpec("repro", clips_per_tar=2, short_side=90, fps=24))
files = [p for p in sorted(out.iterdir()) if p.is_file()]
print(json.dumps({p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}))
"""


def _export_under(cpus: list[int], sources: tuple[Path, Path], out: Path) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", _EXPORT_UNDER_AFFINITY, json.dumps(cpus), *map(str, sources), out],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # the child imports test helpers, which are not part of the installed package
        env={**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(_REPO)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity (Linux)")
def test_export_bytes_do_not_depend_on_the_cores_or_the_run(tmp_path: Path) -> None:
    wide = write_pattern_video(tmp_path / "wide.mp4", 150, 320, 180, 30)
    phone = synthetic.write_video(
        synthetic.VideoSpec("phone.mp4", (synthetic.Shot(4.0, "pan_right"),), 180, 320, 24),
        tmp_path / "phone.mp4",
    )
    every_cpu = sorted(os.sched_getaffinity(0))
    one_core = _export_under(every_cpu[:1], (wide, phone), tmp_path / "one")
    many_cores = _export_under(every_cpu, (wide, phone), tmp_path / "many")
    again = _export_under(every_cpu[-1:], (wide, phone), tmp_path / "again")
    assert any(name.endswith(".tar") for name in one_core)
    assert one_core == many_cores == again


def test_synthetic_sources_are_identical_bytes_on_every_call(tmp_path: Path) -> None:
    """Test media drive cut and filter truths: the same spec must give the same file."""
    spec = synthetic.VideoSpec(
        "cut.mp4", (synthetic.Shot(1.0, "pan_right"), synthetic.Shot(1.0, "static")), 160, 96, 24
    )
    digests = {
        hashlib.sha256(synthetic.write_video(spec, tmp_path / f"{i}.mp4").read_bytes()).hexdigest()
        for i in range(3)
    }
    assert len(digests) == 1
