"""A tiny random open_clip model saved as a local checkpoint, loaded by the tests through the
same path as real weights (``clip_model`` + ``clip_pretrained`` + ``clip_model_config``)."""

from __future__ import annotations

import json
from pathlib import Path

import open_clip
import torch

TINY_CLIP_CFG = {  # the text tower takes CLIP's 49408-token BPE ids (open_clip's tokenizer)
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def save_tiny_clip(
    folder: Path, name: str, *, vocab_size: int = 49408, checkpoint: str = "tiny_clip.pt"
) -> dict[str, Path]:
    """Registers architecture ``name`` and saves seed-0 random weights: {config, checkpoint}."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / f"{name}.json"
    text = {**TINY_CLIP_CFG["text_cfg"], "vocab_size": vocab_size}
    config.write_text(json.dumps({**TINY_CLIP_CFG, "text_cfg": text}), encoding="utf-8")
    open_clip.add_model_config(config)
    torch.manual_seed(0)
    weights = folder / checkpoint
    torch.save(open_clip.create_model(name).state_dict(), weights)
    return {"config": config, "checkpoint": weights}
