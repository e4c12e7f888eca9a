"""open_clip models, loaded once per process and shared by every analyzer that needs one.

``pretrained`` is a hub tag (production, e.g. ``ViT-L-14`` / ``openai``) or a LOCAL checkpoint
path; ``model_name`` may also be ``hf-hub:org/name``. Hub weights load from the local cache only,
as ``curate models pull`` left them (``curation_assets.models.runtime``); ``model_config``
optionally registers a custom architecture JSON first (tests use a tiny random model saved
locally and loaded through this same path). Image and text embeddings come
back L2-normalised as NumPy arrays, so cosine similarity is a dot product.

Text tokenizers come from ``open_clip.get_tokenizer(model_name)``. For a custom config registered
with ``open_clip.add_model_config`` it returns the standard CLIP BPE ``SimpleTokenizer`` (49,408
tokens) with the config's ``context_length``, unless the config names an ``hf_tokenizer_name``.
A tiny model must therefore keep CLIP's vocabulary size (``text_cfg.vocab_size: 49408``); a
smaller vocabulary is refused with a clear error instead of an index error deep in torch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from curation_assets.models.accelerate import Batcher, autocast

_lock = threading.Lock()
_models: dict[tuple, tuple[nn.Module, object]] = {}
_tokenizers: dict[tuple, object] = {}


def load_clip(
    model_name: str, pretrained: str | None, device: str, model_config: str | None = None
) -> tuple[nn.Module, object]:
    """(model, preprocess) from open_clip, cached per process."""
    key = (model_name, pretrained, device, model_config)
    with _lock:
        if key not in _models:
            import open_clip

            from curation_assets.models.runtime import open_clip_args

            if model_config:
                open_clip.add_model_config(model_config)
            # hub weights from the local cache only (ModelNotAvailable names the fix)
            args = open_clip_args(model_name, pretrained)
            model, _, preprocess = open_clip.create_model_and_transforms(**args, device=device)
            _models[key] = (model.eval(), preprocess)
        return _models[key]


def _normalise(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.cpu().numpy().astype(np.float32)


def embed_images(
    model: nn.Module,
    preprocess,
    images: Sequence[np.ndarray],
    device: str,
    batch_size: int | Batcher = 32,
    dtype: str = "float32",
) -> np.ndarray:
    """(n, d) float32 L2-normalised image embeddings, one row per RGB uint8 image.

    ``batch_size`` is a fixed size or a ``Batcher`` (``auto``: sized from free GPU memory);
    ``dtype`` bfloat16/float16 runs the forward passes under autocast."""
    from PIL import Image

    if not isinstance(batch_size, Batcher) and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batcher = batch_size if isinstance(batch_size, Batcher) else Batcher(batch_size)

    def run(chunk: Sequence[np.ndarray]) -> list[np.ndarray]:
        batch = torch.stack([preprocess(Image.fromarray(im)) for im in chunk]).to(device)
        with torch.inference_mode(), autocast(device, dtype):
            return list(_normalise(model.encode_image(batch)))

    rows = batcher.run(images, run)
    if not rows:
        raise ValueError("embed_images needs at least one image")
    return np.stack(rows)


def text_vocab_size(model: nn.Module) -> int | None:
    """Rows of the text token embedding (CLIP keeps it on the model, CustomTextCLIP on .text)."""
    for owner in (model, getattr(model, "text", None)):
        embedding = getattr(owner, "token_embedding", None)
        if isinstance(embedding, nn.Embedding):
            return embedding.num_embeddings
    return None


def get_tokenizer(model_name: str, context_length: int | None = None):
    """open_clip's tokenizer for ``model_name`` (register a custom config before), cached."""
    key = (model_name, context_length)
    with _lock:
        if key not in _tokenizers:
            import open_clip

            from curation_assets.models.runtime import open_clip_tokenizer_name

            _tokenizers[key] = open_clip.get_tokenizer(
                open_clip_tokenizer_name(model_name), context_length=context_length
            )
        return _tokenizers[key]


def encode_texts(
    model_name: str, model: nn.Module, texts: Sequence[str], device: str
) -> np.ndarray:
    """(m, d) float32 L2-normalised text embeddings of ``texts`` (prompts)."""
    if not texts:
        raise ValueError("encode_texts needs at least one text")
    tokenizer = get_tokenizer(model_name, getattr(model, "context_length", None))
    tokens = tokenizer(list(texts))
    vocab = text_vocab_size(model)
    if vocab is not None and int(tokens.max()) >= vocab:
        raise ValueError(
            f"{model_name}: the tokenizer emits token ids up to {int(tokens.max())} but the "
            f"text tower has only {vocab} tokens; a custom config must keep the tokenizer's "
            f"vocabulary (49408 for CLIP's BPE) or name an hf_tokenizer_name"
        )
    with torch.inference_mode():
        return _normalise(model.encode_text(tokens.to(device)))
