"""A loopback hub serving tiny model repos built here, and a fresh data root per test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import open_clip
import pytest
import torch

from curation_assets.models import runtime
from curation_assets.signals import clip_model
from curation_assets_tests.models.hub_server import FakeHub, Repo

CLIP_REPO = "test-org/tiny-clip"
TINY_CFG = {  # the text tower takes CLIP's 49408-token BPE ids (open_clip's default tokenizer)
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
PREPROCESS = {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "interpolation": "bilinear"}


@pytest.fixture(scope="session")
def clip_repo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An open_clip hub repo: config, weights (~7 MB, served as LFS), a linear aesthetic head."""
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("tiny_clip_repo")
    config = {"model_cfg": TINY_CFG, "preprocess_cfg": PREPROCESS}
    (folder / "open_clip_config.json").write_text(json.dumps(config), encoding="utf-8")
    registered = folder.parent / "tiny-hub-clip.json"
    registered.write_text(json.dumps(TINY_CFG), encoding="utf-8")
    open_clip.add_model_config(registered)  # the built-in-architecture path (pretrained tags)
    torch.manual_seed(0)
    state = open_clip.create_model("tiny-hub-clip").state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "open_clip_model.safetensors")
    torch.manual_seed(1)
    torch.save(torch.nn.Linear(32, 1).state_dict(), folder / "aesthetic_head.pth")
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# tiny test CLIP\n")
    return folder


@pytest.fixture
def hub(clip_repo_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """The loopback hub with the tiny CLIP repo; ``HF_ENDPOINT`` points at it."""
    server = FakeHub()
    server.repos[CLIP_REPO] = Repo.from_folder(clip_repo_dir, licence="mit")
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_model_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No cache, active store or loaded model leaks between tests; the hub cache is the data
    root's (not a developer's HF_HOME)."""
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(runtime, "_active", None)
    monkeypatch.setattr(runtime, "_settings", None)
    monkeypatch.setattr(clip_model, "_models", {})
    monkeypatch.setattr(clip_model, "_tokenizers", {})
