"""LAION-style aesthetic score: an open_clip image embedding fed to a small regression head.

The heads are those the LAION aesthetic predictors publish, loaded from a state dict, a local file
or one file of a hub repo (``hf://org/name/file.pth``, pulled by ``curate models pull``):
- "linear": ``nn.Linear(embed_dim, 1)`` (e.g. ``sa_0_4_vit_l_14_linear.pth``; keys weight, bias)
- "mlp": the improved-aesthetic-predictor MLP (e.g. ``sac+logos+ava1-l14-linearMSE.pth``; keys
  ``layers.{0,2,4,6,7}.*``), trained on L2-normalised CLIP ViT-L/14 embeddings, scores ~1-10.

The CLIP model comes from open_clip by name and ``pretrained`` (a hub tag or a LOCAL checkpoint
path); ``model_config`` optionally registers a custom architecture JSON first (tests use a tiny
random model saved locally, loaded through this same code path). Models are loaded once per
process and reused.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from curation_assets.models.catalog import HUB_FILE_PREFIX
from curation_assets.models.runtime import head_file
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement
from curation_assets.signals.clip_model import embed_images, load_clip
from curation_assets.signals.frame_spread import spread

HeadKind = Literal["linear", "mlp"]
_lock = threading.Lock()
_heads: dict[tuple, nn.Module] = {}


class AestheticMLP(nn.Module):
    """The improved-aesthetic-predictor head (christophschuhmann/improved-aesthetic-predictor)."""

    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(input_size, 1024),
            nn.Dropout(0.2),
            nn.Linear(1024, 128),
            nn.Dropout(0.2),
            nn.Linear(128, 64),
            nn.Dropout(0.1),
            nn.Linear(64, 16),
            nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def build_head(kind: HeadKind, embed_dim: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(embed_dim, 1)
    if kind == "mlp":
        return AestheticMLP(embed_dim)
    raise ValueError(f"unknown aesthetic head kind {kind!r}; choose 'linear' or 'mlp'")


def load_head(path: Path | str, kind: HeadKind, embed_dim: int, device: str = "cpu") -> nn.Module:
    """A head from a local state dict; its input size must match the CLIP embedding."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    head = build_head(kind, embed_dim)
    first = "weight" if kind == "linear" else "layers.0.weight"
    if first not in state:
        raise ValueError(f"{path}: not a {kind!r} aesthetic head (no {first!r} in the state dict)")
    if state[first].shape[1] != embed_dim:
        raise ValueError(
            f"{path}: head expects {state[first].shape[1]}-d embeddings, "
            f"the CLIP model gives {embed_dim}-d"
        )
    head.load_state_dict(state)
    return head.to(device).eval()


class LaionAestheticAnalyzer(ClipAnalyzer):
    """``aesthetic`` = head(mean of the L2-normalised embeddings of a few samples, renormalised).

    The mean is renormalised to unit length because the heads were trained on unit vectors.
    """

    name = "laion_aesthetic"
    version = "1"
    signals = ("aesthetic",)

    def __init__(
        self,
        model_name: str,
        pretrained: str | None,
        head_path: str | Path,
        head_kind: HeadKind = "mlp",
        device: str = "cpu",
        frames: int = 4,
        model_config: str | None = None,
    ) -> None:
        if head_kind not in ("linear", "mlp"):
            raise ValueError(f"unknown aesthetic head kind {head_kind!r}; choose 'linear' or 'mlp'")
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if not str(head_path).startswith(HUB_FILE_PREFIX) and not Path(head_path).is_file():
            raise FileNotFoundError(f"aesthetic head not found: {head_path}")
        self.model_name, self.pretrained, self.device = model_name, pretrained, device
        self.head_path, self.head_kind = str(head_path), head_kind
        self.frames, self.model_config = frames, model_config
        # which weights made a score is part of its lineage
        self.version = (
            f"1:{model_name}:{Path(str(pretrained)).name}:{Path(head_path).name}:{head_kind}"
        )

    def _head(self, embed_dim: int) -> nn.Module:
        key = (self.head_path, self.head_kind, embed_dim, self.device)
        with _lock:
            if key not in _heads:
                path = head_file(self.head_path)  # hf://org/name/file: the pulled copy
                _heads[key] = load_head(path, self.head_kind, embed_dim, self.device)
            return _heads[key]

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        model, preprocess = load_clip(
            self.model_name, self.pretrained, self.device, self.model_config
        )
        images = [clip.rgb[i] for i in spread(len(clip.rgb), self.frames)]
        embeddings = torch.from_numpy(embed_images(model, preprocess, images, self.device))
        mean = embeddings.to(self.device).mean(dim=0, keepdim=True)
        mean = mean / mean.norm(dim=-1, keepdim=True)
        with torch.inference_mode():
            score = self._head(mean.shape[-1])(mean)
        return Measurement(scores={"aesthetic": float(score.item())})
