"""open_clip embeddings of a clip and zero-shot ``human_clip`` / ``unsafe_clip`` scores against
prompt lists (the weights and prompts that made a score are in its version).

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").
Vectors go to ``Measurement.artifacts["vectors"]`` as ``{name: 1-D array}``; the runner stores
them per shard for the global near-duplicate and concept assets.

=================  ====================  ======  ==============================================
signal / vector    scorer                range   meaning
=================  ====================  ======  ==============================================
clip_embedding     open_clip             unit    mean of L2-normalised frame embeddings,
(vector)                                         renormalised
human_clip         open_clip             0-1     zero-shot softmax mass on human-activity
                                                 prompts vs non-human prompts
unsafe_clip        open_clip             0-1     zero-shot softmax mass on unsafe prompts vs
                                                 safe prompts
=================  ====================  ======  ==============================================

Measured (``curation_assets_tests/signals/test_content.py``): tiny random model only (no
weights here), ~50 ms a clip for 4 frames.

A clip with no rgb samples gets no scores and no vectors (stored as "not scored").
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from curation_assets.models.accelerate import (
    AUTO,
    Batcher,
    BatchSize,
    resolve_device,
    resolve_dtype,
)
from curation_assets.same_bits import matvec, norm
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.frame_spread import spread
from curation_assets.signals.has_human import has_human_label

HUMAN_PROMPTS: tuple[str, ...] = (
    "a person walking",
    "a person running",
    "people dancing",
    "a man talking to the camera",
    "a woman talking to the camera",
    "a person cooking in a kitchen",
    "a person riding a bicycle",
    "a person playing a guitar",
    "a person playing the piano",
    "people playing football",
    "people playing basketball",
    "a person swimming",
    "a person surfing",
    "a person skiing",
    "a person doing yoga",
    "a person lifting weights",
    "a child playing",
    "a baby",
    "a crowd of people",
    "people sitting at a table",
    "people having a conversation",
    "a person typing on a laptop",
    "a person reading a book",
    "a person painting",
    "a person singing",
    "a person driving a car",
    "a person hiking in the mountains",
    "a person climbing",
    "a person working in an office",
    "a close-up of a person's face",
    "a person's hands doing something",
    "a person applying makeup",
    "a person shopping",
    "a couple holding hands",
    "a family at home",
    "a person exercising",
    "a person giving a speech",
    "a person fishing",
    "a person gardening",
    "people at a concert",
)
NON_HUMAN_PROMPTS: tuple[str, ...] = (
    "an empty landscape",
    "a building",
    "an animal",
    "a car on a road",
    "a city street with no people",
    "the ocean",
    "a forest",
    "mountains",
    "the sky with clouds",
    "a plate of food",
    "a room with furniture",
    "a screen recording",
    "an abstract pattern",
    "text on a screen",
    "a bird",
    "a cat",
    "a dog",
    "flowers",
    "a river",
    "an aerial view",
)
UNSAFE_PROMPTS: tuple[str, ...] = (
    "nudity",
    "a naked person",
    "sexual content",
    "graphic violence",
    "gore",
    "a bloody wound",
    "a weapon pointed at someone",
    "a dead body",
)
SAFE_PROMPTS: tuple[str, ...] = (
    "a safe ordinary scene",
    "people fully clothed",
    "a landscape",
    "an everyday activity",
    "a family friendly video",
    "a product on a table",
    "a peaceful street",
    "animals in nature",
)


def zero_shot_mass(
    embedding: np.ndarray, positive: np.ndarray, negative: np.ndarray, logit_scale: float = 100.0
) -> float:
    """Softmax probability mass on the ``positive`` prompts (rows of unit text embeddings)."""
    logits = logit_scale * matvec(np.concatenate([positive, negative]), embedding).astype(
        np.float64
    )
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return float(probs[: len(positive)].sum())


def _prompts_digest(*lists: Sequence[str]) -> str:
    text = "\x1e".join("\x1f".join(prompts) for prompts in lists)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


class ClipEmbeddingAnalyzer(ClipAnalyzer):
    """open_clip embedding of a few evenly spaced samples (``clip_embedding``), and zero-shot
    ``human_clip`` / ``unsafe_clip`` against prompt lists (text embedded once per instance)."""

    name = "open_clip"
    version = "1"
    order = 40
    declares = (
        Signal(
            "human_clip",
            "zero-shot probability mass on the people prompts",
            unit="0-1",
            range=(0.0, 1.0),
        ),
        Signal(
            "unsafe_clip",
            "zero-shot probability mass on the unsafe prompts",
            unit="0-1",
            better="lower",
            range=(0.0, 1.0),
            gate=(None, 0.5),
        ),
    )

    @classmethod
    def from_config(cls, cfg):
        """Runs when an open_clip model and its weights are configured."""
        c = cfg.content
        if not (c.clip_model and c.clip_pretrained):
            return None
        prompts = {
            "human_prompts": c.human_prompts,
            "nonhuman_prompts": c.nonhuman_prompts,
            "unsafe_prompts": c.unsafe_prompts,
            "safe_prompts": c.safe_prompts,
        }
        return cls(
            model_name=c.clip_model,
            model_config=c.clip_model_config,
            pretrained=c.clip_pretrained,
            device=c.device,
            dtype=c.dtype,
            batch_size=c.batch_size,
            frames=c.frames,
            **{k: v for k, v in prompts.items() if v},
        )

    def __init__(
        self,
        model_name: str,
        pretrained: str | None,
        device: str = "cpu",
        batch_size: BatchSize = 32,
        frames: int = 4,
        model_config: str | None = None,
        human_prompts: Sequence[str] = HUMAN_PROMPTS,
        nonhuman_prompts: Sequence[str] = NON_HUMAN_PROMPTS,
        unsafe_prompts: Sequence[str] = UNSAFE_PROMPTS,
        safe_prompts: Sequence[str] = SAFE_PROMPTS,
        logit_scale: float = 100.0,
        dtype: str = "auto",
    ) -> None:
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if batch_size != AUTO and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be >= 1 or 'auto', got {batch_size!r}")
        lists = {
            "human_prompts": human_prompts,
            "nonhuman_prompts": nonhuman_prompts,
            "unsafe_prompts": unsafe_prompts,
            "safe_prompts": safe_prompts,
        }
        for key, prompts in lists.items():
            if not prompts or any(not str(p).strip() for p in prompts):
                raise ValueError(f"{key} must be a non-empty list of non-empty prompts")
        self.model_name, self.pretrained = model_name, pretrained
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.batch_size, self.frames, self.model_config = batch_size, frames, model_config
        self.batcher = Batcher.for_device(batch_size, self.device, cpu_size=32)
        self.prompts = {key: tuple(str(p) for p in prompts) for key, prompts in lists.items()}
        self.logit_scale = float(logit_scale)
        # which weights and which prompts made a score is part of its lineage
        digest = _prompts_digest(*self.prompts.values())
        self.version = f"1:{model_name}:{Path(str(pretrained)).name}:prompts-{digest}"
        self._texts: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _model(self):
        from curation_assets.signals import clip_model  # torch, on first use

        return clip_model.load_clip(
            self.model_name, self.pretrained, self.device, self.model_config
        )

    def text_embeddings(self) -> dict[str, np.ndarray]:
        """Unit text embeddings of each prompt list, computed on first use."""
        from curation_assets.signals import clip_model  # torch, on first use

        with self._lock:
            if self._texts is None:
                model, _ = self._model()
                self._texts = {
                    key: clip_model.encode_texts(self.model_name, model, prompts, self.device)
                    for key, prompts in self.prompts.items()
                }
            return self._texts

    def embed(self, clip: ClipSamples) -> np.ndarray:
        """The pooled clip embedding (unit vector)."""
        return self.embed_many([clip])[0]

    def embed_many(self, clips: Sequence[ClipSamples]) -> list[np.ndarray]:
        """Pooled embeddings of clips with samples: their frames go through the model together
        (on a GPU, in batches sized from free memory)."""
        from curation_assets.signals import clip_model  # torch, on first use

        model, preprocess = self._model()
        picks = [[clip.rgb[i] for i in spread(len(clip.rgb), self.frames)] for clip in clips]
        images = [image for frames in picks for image in frames]
        embedded = clip_model.embed_images(
            model, preprocess, images, self.device, self.batcher, self.dtype
        )
        pooled, start = [], 0
        for frames in picks:
            mean = embedded[start : start + len(frames)].mean(axis=0)
            start += len(frames)
            pooled.append((mean / max(norm(mean), 1e-12)).astype(np.float32))
        return pooled

    def analyze(self, clip: ClipSamples) -> Measurement:
        return self.analyze_many([clip])[0]

    def analyze_many(self, clips: Sequence[ClipSamples]) -> list[Measurement]:
        with_rgb = [clip for clip in clips if clip.rgb]
        embeddings = (
            dict(zip(map(id, with_rgb), self.embed_many(with_rgb), strict=True)) if with_rgb else {}
        )
        texts = self.text_embeddings() if with_rgb else {}
        scale = self.logit_scale
        out = []
        for clip in clips:
            embedding = embeddings.get(id(clip))
            if embedding is None:
                out.append(Measurement(scores={}))
                continue
            human = zero_shot_mass(
                embedding, texts["human_prompts"], texts["nonhuman_prompts"], scale
            )
            unsafe = zero_shot_mass(
                embedding, texts["unsafe_prompts"], texts["safe_prompts"], scale
            )
            out.append(
                Measurement(
                    scores={"human_clip": human, "unsafe_clip": unsafe},
                    labels=[has_human_label(human)],
                    artifacts={"vectors": {"clip_embedding": embedding}},
                )
            )
        return out
