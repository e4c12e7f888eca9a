"""LAION-style aesthetic score: an open_clip image embedding fed to a small regression head.

The heads are those the LAION aesthetic predictors publish (``signals/aesthetic_head.py``),
loaded from a state dict, a local file or one file of a hub repo (``hf://org/name/file.pth``,
pulled by ``curate models pull``). torch is imported only when a clip is scored.

The CLIP model comes from open_clip by name and ``pretrained`` (a hub tag or a LOCAL checkpoint
path); ``model_config`` optionally registers a custom architecture JSON first (tests use a tiny
random model saved locally, loaded through this same code path). Models are loaded once per
process and reused.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

from curation_assets.models.accelerate import resolve_device, resolve_dtype
from curation_assets.models.catalog import HUB_FILE_PREFIX
from curation_assets.models.runtime import head_file
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.frame_spread import spread

HeadKind = Literal["linear", "mlp"]
_lock = threading.Lock()
_heads: dict[tuple, Any] = {}  # torch modules, loaded once per process


class LaionAestheticAnalyzer(ClipAnalyzer):
    """``aesthetic`` = head(mean of the L2-normalised embeddings of a few samples, renormalised).

    The mean is renormalised to unit length because the heads were trained on unit vectors.
    """

    name = "laion_aesthetic"
    version = "1"
    order = 60
    declares = (
        Signal(
            "aesthetic",
            "LAION aesthetic head on open_clip embeddings (about 1-10)",
            better="higher",
            gate=(4.0, None),
            plot_in_subsets=True,
            export=1,
        ),
    )

    @classmethod
    def from_config(cls, cfg):
        """Runs when a CLIP model, its weights and a head are all configured."""
        v = cfg.visual
        if not (v.aesthetic_clip_model and v.aesthetic_clip_pretrained and v.aesthetic_head_path):
            return None
        return cls(
            model_name=v.aesthetic_clip_model,
            pretrained=v.aesthetic_clip_pretrained,
            head_path=v.aesthetic_head_path,
            head_kind=v.aesthetic_head_kind,
            device=v.device,
            dtype=v.dtype,
        )

    def __init__(
        self,
        model_name: str,
        pretrained: str | None,
        head_path: str | Path,
        head_kind: HeadKind = "mlp",
        device: str = "cpu",
        frames: int = 4,
        model_config: str | None = None,
        dtype: str = "auto",
    ) -> None:
        if head_kind not in ("linear", "mlp"):
            raise ValueError(f"unknown aesthetic head kind {head_kind!r}; choose 'linear' or 'mlp'")
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if not str(head_path).startswith(HUB_FILE_PREFIX) and not Path(head_path).is_file():
            raise FileNotFoundError(f"aesthetic head not found: {head_path}")
        self.model_name, self.pretrained = model_name, pretrained
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.head_path, self.head_kind = str(head_path), head_kind
        self.frames, self.model_config = frames, model_config
        # which weights made a score is part of its lineage
        self.version = (
            f"1:{model_name}:{Path(str(pretrained)).name}:{Path(head_path).name}:{head_kind}"
        )

    def _head(self, embed_dim: int):
        from curation_assets.signals.aesthetic_head import load_head

        key = (self.head_path, self.head_kind, embed_dim, self.device)
        with _lock:
            if key not in _heads:
                path = head_file(self.head_path)  # hf://org/name/file: the pulled copy
                _heads[key] = load_head(path, self.head_kind, embed_dim, self.device)
            return _heads[key]

    def analyze(self, clip: ClipSamples) -> Measurement:
        import torch

        from curation_assets.signals.clip_model import embed_images, load_clip

        if not clip.rgb:
            return Measurement(scores={})
        model, preprocess = load_clip(
            self.model_name, self.pretrained, self.device, self.model_config
        )
        images = [clip.rgb[i] for i in spread(len(clip.rgb), self.frames)]
        embedded = embed_images(model, preprocess, images, self.device, dtype=self.dtype)
        embeddings = torch.from_numpy(embedded)
        mean = embeddings.to(self.device).mean(dim=0, keepdim=True)
        mean = mean / mean.norm(dim=-1, keepdim=True)
        with torch.inference_mode():
            score = self._head(mean.shape[-1])(mean)
        return Measurement(scores={"aesthetic": float(score.item())})
