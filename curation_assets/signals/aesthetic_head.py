"""The LAION aesthetic heads (torch): kept apart from the analyzer so that finding analyzers
(``signals/catalogue.py``) never imports torch; the analyzer imports this when it runs.

- "linear": ``nn.Linear(embed_dim, 1)`` (e.g. ``sa_0_4_vit_l_14_linear.pth``; keys weight, bias)
- "mlp": the improved-aesthetic-predictor MLP (e.g. ``sac+logos+ava1-l14-linearMSE.pth``; keys
  ``layers.{0,2,4,6,7}.*``), trained on L2-normalised CLIP ViT-L/14 embeddings, scores ~1-10.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import nn

HeadKind = Literal["linear", "mlp"]


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
