"""Shared fixtures: a temporary data root and synthetic shards with known truth."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh CURATION_HOME; tests never touch ./data."""
    root = tmp_path / "curation_home"
    root.mkdir()
    monkeypatch.setenv("CURATION_HOME", str(root))
    monkeypatch.delenv("CURATION_CONFIG", raising=False)
    return root
