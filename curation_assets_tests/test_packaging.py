"""The wheel holds the product only: ``curation_assets`` with its data files, no tests.

Built offline the way pip builds it (``pip wheel --no-build-isolation --no-index``: setuptools
from this venv, which torch requires), from a copy of the sources, so that setuptools' ``build/``
and ``*.egg-info`` never land in the checkout and no stale build output leaks into the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRODUCT = "curation_assets"
DATA_FILES = (
    "curation_assets/defaults/curation.yaml",
    "curation_assets/defaults/presets.yaml",
    "curation_assets/review/templates/base.html",
    "curation_assets/review/templates/clip.html",
    "curation_assets/review/templates/error.html",
    "curation_assets/review/templates/index.html",
    "curation_assets/review/static/review.css",
    "curation_assets/review/static/review.js",
)


def _build_wheel(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    # the tests are copied too: the wheel must leave them out, not merely not find them
    for name in (PRODUCT, "curation_assets_tests"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    out = tmp_path / "wheels"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "--quiet", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("curation_assets-*.whl")
    return wheel


def test_wheel_holds_the_product_and_its_data_but_no_tests(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    tests = sorted(n for n in names if n.startswith("curation_assets_tests/"))
    assert not tests, f"test files in the wheel: {tests[:10]}"
    tops = {n.split("/")[0] for n in names}
    assert tops == {PRODUCT, next(t for t in tops if t.endswith(".dist-info"))}, tops
    missing = [f for f in DATA_FILES if f not in names]
    assert not missing, f"data files missing from the wheel: {missing}"
    modules = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / PRODUCT).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules - names == set(), f"modules missing from the wheel: {sorted(modules - names)}"
    # what benchmarks import from the product instead of from the tests
    assert {
        "curation_assets/media/photo_kit.py",
        "curation_assets/captioning/tiny_model.py",
    } <= names
