"""The VLM captioner served by vLLM: the same frames, prompts and parsing, generated faster.

vLLM schedules requests itself (continuous batching, paged KV cache sized by
``gpu_memory_utilization``), which on a GPU gives several times the captions per hour of
transformers' ``generate`` with padded batches. Everything that decides what a caption says is
shared with ``VlmCaptioner``: frames chosen from the stored samples, the chat template of the
model's own processor (so images land where the model expects them), the image prompt for a
still, JSON parsing and the camera prefix. vLLM is an optional extra (``pip install -e
'.[vllm]'``; Linux with a CUDA GPU); without it, asking for this backend fails with the command
that fixes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from curation_assets.captioning.base import CaptionInput, CaptionResult
from curation_assets.captioning.vlm import VlmCaptioner
from curation_assets.models.accelerate import AUTO, Batcher, resolve_device, resolve_dtype
from curation_assets.models.errors import VLLM_INSTALL, BackendNotInstalled

REQUESTS_PER_CALL = 256  # with ``auto``: vLLM batches inside a call by what memory allows


class VllmCaptioner(VlmCaptioner):
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int = 8192,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, **kwargs)
        if not 0 < gpu_memory_utilization <= 1:
            raise ValueError(
                f"gpu_memory_utilization must be in (0, 1], got {gpu_memory_utilization}"
            )
        self.gpu_memory_utilization = gpu_memory_utilization
        self.max_model_len = max_model_len

    def batcher(self) -> Batcher:
        """vLLM sizes its own batches from memory: ``auto`` hands it many requests at once."""
        if self._batcher is None:
            size = REQUESTS_PER_CALL if self.batch_size == AUTO else self.batch_size
            self._batcher = Batcher(size)
        return self._batcher

    def engine_args(self, source: str, where: dict) -> dict:
        """What ``vllm.LLM`` is built with (greedy decoding is set per request)."""
        device = resolve_device(self.device)
        args = {
            "model": source,
            "dtype": resolve_dtype(self.dtype, device),
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "max_model_len": self.max_model_len,
            "limit_mm_per_prompt": {"image": self.frames_per_clip},
            "seed": 0,
        }
        if where.get("revision"):
            args["revision"] = where["revision"]
        return args

    def _load(self) -> tuple[Any, Any]:
        try:
            import vllm
        except ImportError as exc:
            raise BackendNotInstalled(
                f"captioning.backend is vllm but vLLM is not installed: {VLLM_INSTALL}, "
                "or set captioning.backend: transformers"
            ) from exc
        from transformers import AutoProcessor

        source, where = self.source()
        processor = AutoProcessor.from_pretrained(source, **where)
        return processor, vllm.LLM(**self.engine_args(source, where))

    def requests(self, processor: Any, items: Sequence[CaptionInput]) -> list[dict]:
        """One vLLM prompt per clip: the chat-templated text and its frames as PIL images."""
        from PIL import Image

        out = []
        for item in items:
            frames = self.frames(item)
            if not frames:
                raise ValueError(f"clip {item.clip_id} has no rgb samples to caption")
            text = processor.apply_chat_template(
                self.messages(item, len(frames)), tokenize=False, add_generation_prompt=True
            )
            images = [Image.fromarray(frame) for frame in frames]
            out.append({"prompt": text, "multi_modal_data": {"image": images}})
        return out

    def caption_batch(self, items: Sequence[CaptionInput]) -> list[CaptionResult]:
        if not items:
            return []
        processor, llm = self.load()
        import vllm

        params = vllm.SamplingParams(temperature=0.0, max_tokens=self.max_new_tokens, seed=0)
        outputs = llm.generate(self.requests(processor, items), params, use_tqdm=False)
        results = []
        for item, output in zip(items, outputs, strict=True):
            best = output.outputs[0]
            results.append(self.to_result(item, best.text, len(best.token_ids)))
        return results
