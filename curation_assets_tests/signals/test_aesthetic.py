"""The LAION aesthetic analyzer through its real loading path, with a tiny random CLIP.

No weights can be downloaded here, so a tiny open_clip architecture (ViT width 64, 2 layers,
patch 16, 64 px; 1-layer text tower) is registered from a JSON config, saved with torch.save and
loaded back through ``LaionAestheticAnalyzer`` with ``pretrained=<local path>``, exactly as a
production ``ViT-L-14`` checkpoint would be.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from curation_assets.signals.aesthetic_head import AestheticMLP, load_head
from curation_assets.signals.base import ClipSamples
from curation_assets.signals.visual.aesthetic import LaionAestheticAnalyzer
from curation_assets_tests.clips import random_clip
from curation_assets_tests.tiny_clip import save_tiny_clip

TINY = "tiny-vit-test"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny_clip")
    saved = save_tiny_clip(folder, TINY, vocab_size=512)
    config = saved["config"]
    torch.manual_seed(1)
    torch.save(torch.nn.Linear(32, 1).state_dict(), folder / "linear_head.pth")
    torch.save(AestheticMLP(32).state_dict(), folder / "mlp_head.pth")
    return {
        "config": config,
        "checkpoint": folder / "tiny_clip.pt",
        "linear": folder / "linear_head.pth",
        "mlp": folder / "mlp_head.pth",
    }


def _clip(frames: int = 6) -> ClipSamples:
    return random_clip(frames)


def _manual_score(tiny: dict[str, Path], head_kind: str, images: list[np.ndarray]) -> float:
    """The same computation written out: fresh model and head loaded from the saved files."""
    model, _, preprocess = open_clip.create_model_and_transforms(
        TINY, pretrained=str(tiny["checkpoint"])
    )
    model.eval()
    batch = torch.stack([preprocess(Image.fromarray(im)) for im in images])
    with torch.no_grad():
        feats = model.encode_image(batch)
        feats = feats / feats.norm(dim=-1, keepdim=True)
        mean = feats.mean(0, keepdim=True)
        mean = mean / mean.norm(dim=-1, keepdim=True)
        if head_kind == "linear":
            state = torch.load(tiny["linear"], weights_only=True)
            return float((mean @ state["weight"].T + state["bias"]).item())
        head = AestheticMLP(32)
        head.load_state_dict(torch.load(tiny["mlp"], weights_only=True))
        return float(head.eval()(mean).item())


@pytest.mark.parametrize("head_kind", ["linear", "mlp"])
def test_score_equals_manual_computation(tiny, head_kind: str) -> None:
    analyzer = LaionAestheticAnalyzer(
        model_name=TINY,
        pretrained=str(tiny["checkpoint"]),
        head_path=tiny[head_kind],
        head_kind=head_kind,
        frames=4,
        model_config=str(tiny["config"]),
    )
    clip = _clip()
    start = time.perf_counter()
    m = analyzer.analyze(clip)
    print(f"\n{head_kind}: aesthetic {m.scores} in {(time.perf_counter() - start) * 1000:.0f} ms")
    assert set(m.scores) == set(analyzer.signals) == {"aesthetic"}
    images = [clip.rgb[i] for i in (0, 2, 3, 5)]  # 4 of 6, evenly spaced
    assert m.scores["aesthetic"] == pytest.approx(_manual_score(tiny, head_kind, images), abs=1e-5)
    assert analyzer.analyze(clip).scores == m.scores  # deterministic (dropout off)


def test_checkpoint_weights_are_really_loaded(tiny) -> None:
    """Different weights give a different score: the local checkpoint is used, not a random init."""
    kwargs = {"head_path": tiny["linear"], "head_kind": "linear", "frames": 2}
    saved = LaionAestheticAnalyzer(TINY, str(tiny["checkpoint"]), **kwargs)
    other_path = tiny["checkpoint"].with_name("other.pt")
    torch.manual_seed(42)
    torch.save(open_clip.create_model(TINY).state_dict(), other_path)
    other = LaionAestheticAnalyzer(TINY, str(other_path), **kwargs)
    clip = _clip()
    assert saved.analyze(clip).scores != other.analyze(clip).scores


def test_head_mismatch_is_a_clear_error(tiny, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pth"
    torch.save(torch.nn.Linear(768, 1).state_dict(), wrong)
    with pytest.raises(ValueError, match="768-d embeddings"):
        load_head(wrong, "linear", 32)
    with pytest.raises(ValueError, match="not a 'mlp' aesthetic head"):
        load_head(tiny["linear"], "mlp", 32)


def test_bad_settings_fail_in_the_constructor(tiny, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LaionAestheticAnalyzer(TINY, None, head_path=tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="head kind"):
        LaionAestheticAnalyzer(TINY, None, head_path=tiny["linear"], head_kind="svm")  # type: ignore[arg-type]


def test_no_samples_is_not_scored(tiny) -> None:
    analyzer = LaionAestheticAnalyzer(TINY, str(tiny["checkpoint"]), head_path=tiny["linear"])
    assert analyzer.analyze(_clip(0)).scores == {}
