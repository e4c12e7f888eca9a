"""Pulled models load offline through the project's own loaders, with the hub gone.

Each test pulls from the loopback hub, stops it, sets ``HF_HUB_OFFLINE=1`` and then loads
through the code a run uses: ``signals.clip_model.load_clip`` (open_clip by ``hf-hub:`` id and
by built-in architecture + pretrained tag), the LAION aesthetic analyzer with its head named
``hf://org/name/file``, and the VLM captioner with a tiny Qwen2-VL named by hub id. A model
that was never pulled fails with ``ModelNotAvailable`` naming ``curate models pull``.
"""

from __future__ import annotations

from pathlib import Path

import open_clip
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from curation_assets.captioning import CaptionInput, VlmCaptioner
from curation_assets.captioning.tiny_model import tiny_qwen2_vl, torch_threads
from curation_assets.config import CurationConfig
from curation_assets.config.sections import ModelsConfig
from curation_assets.models import ModelNotAvailable, ModelStore, catalog, inventory
from curation_assets.models.catalog import open_clip_source, transformers_source
from curation_assets.models.pull import pull
from curation_assets.models.runtime import activate
from curation_assets.signals.base import ClipSamples
from curation_assets.signals.clip_model import embed_images, encode_texts, load_clip
from curation_assets.signals.visual.aesthetic import LaionAestheticAnalyzer
from curation_assets_tests.clips import random_clip
from curation_assets_tests.models.conftest import CLIP_REPO, PREPROCESS
from curation_assets_tests.models.hub_server import FakeHub, Repo

VLM_REPO = "test-org/tiny-qwen2-vl"
TAG = {  # a pretrained tag of the registered tiny architecture, as open_clip's table has them
    "url": "",
    "hf_hub": f"{CLIP_REPO}/",
    "mean": (0.1, 0.2, 0.3),
    "std": (0.3, 0.2, 0.1),
    "interpolation": "bilinear",
    "resize_mode": "squash",
}


@pytest.fixture
def store(home: Path) -> ModelStore:
    settings = ModelsConfig().resolved(home)
    activate(settings)
    return ModelStore(settings)


def _go_offline(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.stop()
    hub.requests.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _clip(frames: int = 4) -> ClipSamples:
    return random_clip(frames)


def test_open_clip_by_hub_id_loads_offline_from_the_cache(
    hub: FakeHub, store: ModelStore, clip_repo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"hf-hub:{CLIP_REPO}"
    pull(store, [open_clip_source(name, None)])
    _go_offline(hub, monkeypatch)
    model, preprocess = load_clip(name, name, "cpu")
    saved = load_file(clip_repo_dir / "open_clip_model.safetensors")
    for key, value in model.state_dict().items():  # the pulled weights, not a random init
        assert torch.equal(value, saved[key]), key
    assert list(model.visual.preprocess_cfg["mean"]) == PREPROCESS["mean"]
    texts = encode_texts(name, model, ["a person walking", "an empty street"], "cpu")
    images = embed_images(model, preprocess, _clip().rgb[:2], "cpu")
    assert texts.shape == (2, 32) and images.shape == (2, 32)
    assert hub.requests == []


def test_pretrained_tag_and_hub_head_load_offline_for_the_aesthetic_score(
    hub: FakeHub,
    store: ModelStore,
    clip_repo_dir: Path,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(open_clip.pretrained._PRETRAINED, "tiny-hub-clip", {"tiny_tag": TAG})
    head = f"hf://{CLIP_REPO}/aesthetic_head.pth"
    (home / "curation.yaml").write_text(
        "visual:\n  aesthetic_clip_model: tiny-hub-clip\n  aesthetic_clip_pretrained: tiny_tag\n"
        f"  aesthetic_head_path: {head}\n  aesthetic_head_kind: linear\n"
    )
    cfg = CurationConfig.from_yaml(home / "curation.yaml")
    needs = catalog(cfg).needs
    assert [(n.source.repo_id, n.source.loader) for n in needs] == [
        (CLIP_REPO, "open_clip"),
        (CLIP_REPO, "file"),
    ]
    assert needs[0].source.required == (
        ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
    )
    [result] = pull(store, catalog(cfg).hub_sources())  # one repo, both needs' files
    assert result["files"] == ["aesthetic_head.pth", "open_clip_model.safetensors"]
    assert all(r["present"] for r in inventory(cfg, store)["models"])
    _go_offline(hub, monkeypatch)

    analyzer = LaionAestheticAnalyzer("tiny-hub-clip", "tiny_tag", head, "linear", frames=2)
    clip = _clip()
    score = analyzer.analyze(clip).scores["aesthetic"]
    # the same computation from the repo's own files, with the tag's preprocessing
    model, _, preprocess = open_clip.create_model_and_transforms(
        "tiny-hub-clip",
        pretrained=str(clip_repo_dir / "open_clip_model.safetensors"),
        image_mean=TAG["mean"],
        image_std=TAG["std"],
        image_interpolation="bilinear",
        image_resize_mode="squash",
    )
    loaded, _ = load_clip("tiny-hub-clip", "tiny_tag", "cpu")
    assert tuple(loaded.visual.preprocess_cfg["mean"]) == TAG["mean"]
    batch = torch.stack([preprocess(Image.fromarray(clip.rgb[i])) for i in (0, 3)])
    with torch.no_grad():
        feats = model.eval().encode_image(batch)
        feats = feats / feats.norm(dim=-1, keepdim=True)
        mean = feats.mean(0, keepdim=True)
        mean = mean / mean.norm(dim=-1, keepdim=True)
        state = torch.load(clip_repo_dir / "aesthetic_head.pth", weights_only=True)
        expected = float((mean @ state["weight"].T + state["bias"]).item())
    assert score == pytest.approx(expected, abs=1e-5)
    assert hub.requests == []


def test_vlm_by_hub_id_loads_and_captions_offline(
    hub: FakeHub, store: ModelStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.repos[VLM_REPO] = Repo.from_folder(tiny_qwen2_vl(tmp_path / "qwen"), licence="apache-2.0")
    [result] = pull(store, [transformers_source(VLM_REPO)])
    assert "config.json" in result["files"] and "model.safetensors" in result["files"]
    assert result["licence"] == "apache-2.0"
    _go_offline(hub, monkeypatch)
    captioner = VlmCaptioner(VLM_REPO, batch_size=1, frames_per_clip=2, max_new_tokens=8)
    with torch_threads(1):
        processor, model = captioner.load()
        [out] = captioner.caption_batch([CaptionInput("c", _clip(), {}, {}, {})])
    assert type(model).__name__ == "Qwen2VLForConditionalGeneration"
    assert Path(model.name_or_path) == store.snapshot(VLM_REPO, result["commit"])
    assert out.model == VLM_REPO and 1 <= out.generated_tokens <= 8  # lineage keeps the hub id
    assert hub.requests == []


def test_models_never_pulled_fail_with_the_fix_not_a_library_trace(
    store: ModelStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        ModelNotAvailable, match=r"test-org/absent .*has not been pulled.*curate models pull"
    ):
        load_clip("hf-hub:test-org/absent", "x", "cpu")
    with pytest.raises(ModelNotAvailable, match="curate models pull"):
        VlmCaptioner("test-org/absent-vlm").load()
    analyzer = LaionAestheticAnalyzer(
        "hf-hub:test-org/absent", "x", "hf://test-org/absent/head.pth", "linear"
    )
    with pytest.raises(ModelNotAvailable, match="curate models pull"):
        analyzer.analyze(_clip())
