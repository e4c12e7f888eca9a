"""Shared fixtures: a temporary data root and synthetic shards with known truth."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# The code location reads curation.yaml (its subset stages) when it is first imported: with the
# default data root that is the user's ./data, e.g. the demo's stages after `scripts/demo`. Tests
# start from an empty root of their own instead (each test's `home` fixture then sets its own).
os.environ["CURATION_HOME"] = tempfile.mkdtemp(prefix="curation-tests-home-")
os.environ.pop("CURATION_CONFIG", None)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CURATION_HOME; tests never touch ./data."""
    root = tmp_path / "curation_home"
    root.mkdir()
    monkeypatch.setenv("CURATION_HOME", str(root))
    monkeypatch.delenv("CURATION_CONFIG", raising=False)
    return root
