"""Detailed, structured captions from a vision-language model through transformers.

Production names a hub id or local folder (e.g. ``Qwen/Qwen2.5-VL-7B-Instruct``; a hub id loads
offline from what ``curate models pull`` cached, see ``curation_assets.models``); tests load a
tiny random Qwen2-VL saved the same way (``curation_assets/captioning/tiny_model.py``), so the
loading, prompting, batching, decoding and parsing below are the code that runs for real.

Each clip is shown as ``frames_per_clip`` images evenly spread over its stored samples (frames as
images work with every image-text-to-text processor; video inputs are processor-specific). The
prompt asks for JSON with the structured fields; ``parsing.parse_fields`` copes with what comes
back. Prompts in a batch are padded on the left so every row's new tokens start at the same
column, and only those new tokens are decoded. The camera prefix comes from the motion filter's
label, not from the model: a dedicated classifier is more reliable for camera motion.

A still image (``CaptionInput.media == "image"``) is shown as its one sample, a single image
entry in the chat message, with ``IMAGE_PROMPT``: the same structured fields without camera
motion (``IMAGE_FIELDS``), nothing about time. Its answer is parsed for those fields only and
never gets a camera prefix.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from curation_assets.captioning.base import (
    FIELDS,
    IMAGE_FIELDS,
    Captioner,
    CaptionInput,
    CaptionResult,
    empty_fields,
)
from curation_assets.captioning.parsing import parse_fields
from curation_assets.captioning.prefix import (
    DEFAULT_MIN_CONFIDENCE,
    camera_phrase,
    check_min_confidence,
    with_camera_prefix,
)
from curation_assets.models.accelerate import (
    AUTO,
    DTYPES,
    Batcher,
    BatchSize,
    resolve_device,
    resolve_dtype,
)
from curation_assets.signals.frame_spread import spread

DEFAULT_PROMPT = (
    "These are {frames} frames, in order, from one video clip of {duration:.1f} seconds. "
    "Describe the clip as a single JSON object with exactly these string fields:\n"
    '"short_description": one sentence summarising the main content;\n'
    '"dense_description": about 100 words describing the subjects, their appearance and '
    "actions, and how the scene changes over time;\n"
    '"background": the setting behind the subjects;\n'
    '"style": e.g. realistic, cinematic, animation, documentary;\n'
    '"shot_type": e.g. close-up, medium shot, wide shot, aerial view;\n'
    '"lighting": the lighting conditions;\n'
    '"atmosphere": the mood of the scene;\n'
    '"camera_motion": e.g. static, pans left, zooms in, handheld.\n'
    "Describe only what is visible. Do not start with phrases like 'The image shows' or "
    "'In this video'. Answer with the JSON object only."
)

IMAGE_PROMPT = (
    "This is one still image, a single moment (a photograph or a picture, not a video). "
    "Describe it as a single JSON object with exactly these string fields:\n"
    '"short_description": one sentence summarising the main content;\n'
    '"dense_description": about 100 words describing the subjects, their appearance, pose and '
    "expression, and what surrounds them;\n"
    '"background": the setting behind the subjects;\n'
    '"style": e.g. realistic photograph, illustration, painting, animation, render;\n'
    '"shot_type": e.g. close-up, medium shot, wide shot, aerial view;\n'
    '"lighting": the lighting conditions;\n'
    '"atmosphere": the mood of the scene.\n'
    "Describe only what is visible in this one picture. Do not start with phrases like "
    "'The image shows' or 'This image'. Answer with the JSON object only."
)
"""The prompt for a still image: ``IMAGE_FIELDS`` (HunyuanVideo's fields without camera motion)."""


class VlmCaptioner(Captioner):
    """A transformers image-text-to-text model; loaded lazily on first use, once per instance."""

    name = "vlm"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        device: str = "auto",
        batch_size: BatchSize = 4,
        frames_per_clip: int = 4,
        max_new_tokens: int = 320,
        prompt: str = DEFAULT_PROMPT,
        image_prompt: str = IMAGE_PROMPT,
        camera_min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        revision: str | None = None,
    ) -> None:
        if not model:
            raise ValueError("model must name a hub id or a local checkpoint folder")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if batch_size != AUTO and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be >= 1 or 'auto', got {batch_size!r}")
        for label, value in (
            ("frames_per_clip", frames_per_clip),
            ("max_new_tokens", max_new_tokens),
        ):
            if value < 1:
                raise ValueError(f"{label} must be >= 1, got {value}")
        try:
            prompt.format(frames=1, duration=1.0)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"prompt may only use the placeholders {{frames}} and {{duration}}: {exc}"
            ) from exc
        self.model = model
        self.dtype = dtype
        self.device = device
        self.batch_size = batch_size
        self.frames_per_clip = frames_per_clip
        self.max_new_tokens = max_new_tokens
        self.prompt = prompt
        self.image_prompt = image_prompt  # used as written (no placeholders)
        self.camera_min_confidence = check_min_confidence(camera_min_confidence)
        self.revision = revision
        self._loaded: tuple[Any, Any] | None = None
        self._lock = threading.Lock()
        self._batcher: Batcher | None = None

    # -- loading ----------------------------------------------------------------------------

    def load(self) -> tuple[Any, Any]:
        """(processor, model); the first call loads them."""
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            return self._loaded

    def batcher(self) -> Batcher:
        """``auto``: batches sized from free GPU memory, learnt once per captioner."""
        if self._batcher is None:
            device = resolve_device(self.device)
            self._batcher = Batcher.for_device(self.batch_size, device, cpu_size=4, cap=64)
        return self._batcher

    def source(self) -> tuple[str, dict]:
        """Where the weights load from: a hub id's pulled snapshot, offline (ModelNotAvailable
        names the fix), or a local folder."""
        from curation_assets.models.runtime import pulled_folder

        folder = pulled_folder(self.model)
        source = str(folder) if folder else self.model
        return source, {"local_files_only": True} if folder else {"revision": self.revision}

    def _load(self) -> tuple[Any, Any]:
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        device = resolve_device(self.device)
        dtype = resolve_dtype(self.dtype, device)
        source, where = self.source()
        processor = AutoProcessor.from_pretrained(source, **where)
        processor.tokenizer.padding_side = "left"
        model = AutoModelForImageTextToText.from_pretrained(
            source, dtype=getattr(torch, dtype), **where
        )
        model.to(device).eval()
        return processor, model

    # -- captioning -------------------------------------------------------------------------

    def frames(self, item: CaptionInput) -> list[np.ndarray]:
        """``frames_per_clip`` samples spread over a video clip; an image's one sample."""
        rgb = item.samples.rgb
        if item.is_image:
            return list(rgb[:1])
        return [rgb[i] for i in spread(len(rgb), self.frames_per_clip)]

    def prompt_for(self, item: CaptionInput, frames: int) -> str:
        if item.is_image:
            return self.image_prompt
        return self.prompt.format(frames=frames, duration=item.samples.duration_s)

    def messages(self, item: CaptionInput, frames: int) -> list[dict]:
        """One user turn: an image entry per frame (one for a still image), then the prompt."""
        if item.is_image:
            frames = min(frames, 1)
        content: list[dict] = [{"type": "image"} for _ in range(frames)]
        content.append({"type": "text", "text": self.prompt_for(item, frames)})
        return [{"role": "user", "content": content}]

    def caption_batch(self, items: Sequence[CaptionInput]) -> list[CaptionResult]:
        import torch

        if not items:
            return []
        processor, model = self.load()
        images = [self.frames(item) for item in items]
        for item, frames in zip(items, images, strict=True):
            if not frames:
                raise ValueError(f"clip {item.clip_id} has no rgb samples to caption")
        texts = [
            processor.apply_chat_template(
                self.messages(item, len(frames)), tokenize=False, add_generation_prompt=True
            )
            for item, frames in zip(items, images, strict=True)
        ]
        inputs = processor(text=texts, images=images, padding=True, return_tensors="pt")
        inputs = inputs.to(model.device)
        with torch.inference_mode():
            output = model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new_tokens = output[:, inputs["input_ids"].shape[1] :].cpu()
        raws = processor.batch_decode(new_tokens, skip_special_tokens=True)
        counts = generated_counts(new_tokens, _stop_ids(model))
        return [
            self.to_result(item, raw, count)
            for item, raw, count in zip(items, raws, counts, strict=True)
        ]

    def to_result(self, item: CaptionInput, raw: str, generated: int) -> CaptionResult:
        """Parse one raw answer and add the camera prefix (also for answers from a served model).

        An image's answer is parsed for ``IMAGE_FIELDS`` only (a ``camera_motion`` the model wrote
        anyway is dropped) and gets no prefix."""
        parsed = parse_fields(raw, IMAGE_FIELDS if item.is_image else FIELDS)
        fields = empty_fields()
        fields.update(parsed.fields)
        conf, media = self.camera_min_confidence, item.media
        phrase = camera_phrase(item.labels, item.label_confidence, conf, media)
        if phrase:
            fields["camera_motion"] = phrase  # the classifier's word wins over the model's
        description = fields["dense_description"] or fields["short_description"]
        caption = with_camera_prefix(description, item.labels, item.label_confidence, conf, media)
        return CaptionResult(
            clip_id=item.clip_id,
            caption=caption,
            fields=fields,
            raw=raw,
            parse=parsed.parse,
            captioner=self.name,
            model=self.model,
            generated_tokens=generated,
        )


def _stop_ids(model: Any) -> set[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is None:
        eos = getattr(model.config, "eos_token_id", None)
    if eos is None:
        return set()
    return {int(e) for e in (eos if isinstance(eos, list | tuple) else [eos])}


def generated_counts(new_tokens: Any, stop_ids: set[int]) -> list[int]:
    """Tokens each row really generated: up to and including its first stop token (later
    columns are padding added while other rows went on); all columns when it never stopped."""
    counts = []
    for row in np.asarray(new_tokens):
        stops = np.flatnonzero(np.isin(row, sorted(stop_ids)))
        counts.append(int(stops[0]) + 1 if len(stops) else len(row))
    return counts
