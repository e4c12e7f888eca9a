"""The GPU path on any machine: batch sizes from free memory, half precision, embeddings batched
across clips, the vLLM caption backend's requests, and hardware decode's fallback.

No GPU is needed. Free memory and out-of-memory errors come from ``SimulatedGpu`` (the
``CudaMemory`` interface over a byte budget), so the sizing and the split-and-retry logic run as
they would on a GPU; models are tiny random ones loaded through the real paths. The vLLM backend
is driven by a stand-in ``vllm`` module that records what it is asked (vLLM itself needs a CUDA
GPU): the prompts come from the real Qwen2-VL processor's chat template.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from curation_assets.captioning import CaptionInput, Parse, VlmCaptioner
from curation_assets.captioning.run import build_captioner
from curation_assets.captioning.tiny_model import cached_tiny_qwen2_vl, torch_threads
from curation_assets.captioning.vllm_backend import VllmCaptioner
from curation_assets.config import CurationConfig
from curation_assets.config.sections import CaptioningConfig
from curation_assets.media import hw_decode
from curation_assets.media.decode import single_pass
from curation_assets.media.image_kit import street_cyclists
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.models import require
from curation_assets.models.accelerate import (
    Batcher,
    batch_size_from_memory,
    resolve_device,
    resolve_dtype,
)
from curation_assets.models.errors import BackendNotInstalled
from curation_assets.signals import clip_model
from curation_assets.signals.content.clip_embedding import ClipEmbeddingAnalyzer
from curation_assets.signals.samples import clip_samples_for_file
from curation_assets_tests.tiny_clip import save_tiny_clip


class SimulatedOOM(RuntimeError):
    pass


class SimulatedGpu:
    """``CudaMemory``'s interface over ``total`` bytes: a batch of n items needs
    ``fixed + n * per_item`` bytes at its peak and raises ``SimulatedOOM`` beyond ``total``.
    ``run`` calls ``use(n)`` to account a batch."""

    def __init__(self, total: int, per_item: int, fixed: int = 0, hidden: int = 0) -> None:
        self.total, self.per_item, self.fixed = total, per_item, fixed
        self.hidden = hidden  # extra per-item cost the first (measured) batch does not show
        self.peak = 0
        self.batches: list[int] = []
        self.releases = 0

    def free(self) -> int:
        return self.total - self.fixed

    def start_peak(self) -> int:
        self.peak = self.fixed
        return self.fixed

    def peak_since(self, baseline: int) -> int:
        return self.peak - baseline

    def is_out_of_memory(self, exc: BaseException) -> bool:
        return isinstance(exc, SimulatedOOM)

    def release(self) -> None:
        self.releases += 1

    def use(self, n: int) -> None:
        need = self.fixed + n * self.per_item + (n - 1) * self.hidden
        if need > self.total:
            raise SimulatedOOM(f"CUDA out of memory: {n} items need {need} of {self.total}")
        self.peak = need
        self.batches.append(n)


def test_batch_size_from_memory_keeps_a_reserve() -> None:
    assert batch_size_from_memory(10_000, 100) == 80  # 20% kept spare
    assert batch_size_from_memory(10_000, 100, reserve=0.5) == 50
    assert batch_size_from_memory(50, 100) == 1  # never zero
    assert batch_size_from_memory(10**12, 100, cap=64) == 64


def test_fixed_and_cpu_batches() -> None:
    seen: list[int] = []

    def run(batch: Sequence[int]) -> list[int]:
        seen.append(len(batch))
        return [2 * x for x in batch]

    assert Batcher(4).run(range(10), run) == [2 * x for x in range(10)]
    assert seen == [4, 4, 2]
    seen.clear()
    assert Batcher("auto", memory=None, cpu_size=3).run(list(range(7)), run) == [
        2 * x for x in range(7)
    ]
    assert seen == [3, 3, 1]
    with pytest.raises(ValueError, match="batch size"):
        Batcher(0)


def test_auto_batches_are_sized_from_free_memory() -> None:
    gpu = SimulatedGpu(total=10_000, per_item=300, fixed=1_000)
    batcher = Batcher("auto", memory=gpu, cap=1000)

    def run(batch: Sequence[int]) -> list[int]:
        gpu.use(len(batch))
        return list(batch)

    assert batcher.run(list(range(100)), run) == list(range(100))
    # first batch: one item, measured (300 bytes); then 80% of 9000 free // 300 = 24 a batch
    assert gpu.batches[:3] == [1, 24, 24]
    assert sum(gpu.batches) == 100 and batcher.plan.per_item_bytes == 300
    assert batcher.plan.halved == 0


def test_out_of_memory_batch_is_split_and_retried_none_lost() -> None:
    # items cost more together than alone (activations grow): the measured size is too big
    gpu = SimulatedGpu(total=10_000, per_item=300, fixed=1_000, hidden=200)
    batcher = Batcher("auto", memory=gpu, cap=1000)

    def run(batch: Sequence[int]) -> list[int]:
        gpu.use(len(batch))
        return [x * x for x in batch]

    assert batcher.run(list(range(60)), run) == [x * x for x in range(60)]
    assert batcher.plan.halved >= 1 and gpu.releases == batcher.plan.halved
    assert max(gpu.batches[1:]) < 24  # what fits: 300 n + 200 (n - 1) <= 9000 -> n <= 18
    assert all(300 * n + 200 * (n - 1) <= 9_000 for n in gpu.batches)


def test_other_errors_and_fixed_sizes_are_not_retried() -> None:
    gpu = SimulatedGpu(total=1_000, per_item=300)
    with pytest.raises(SimulatedOOM):  # a fixed size the user chose: their error to see
        Batcher(8, memory=gpu).run(list(range(8)), lambda b: gpu.use(len(b)) or list(b))
    with pytest.raises(KeyError):
        Batcher("auto", memory=gpu).run([1, 2], lambda b: {}[0])


def test_device_and_precision_resolution() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("bfloat16", "cpu") == "bfloat16"
    if torch.cuda.is_available():
        want = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        assert resolve_dtype("auto", "cuda") == want
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("float8", "cpu")


def test_batch_size_setting_accepts_auto() -> None:
    assert CurationConfig(content={"batch_size": "auto"}).content.batch_size == "auto"
    assert CaptioningConfig(batch_size="auto").batch_size == "auto"
    with pytest.raises(ValueError):
        CaptioningConfig(batch_size=0)
    with pytest.raises(ValueError):
        CaptioningConfig(batch_size="many")


# -- embeddings ----------------------------------------------------------------------------

TINY = "tiny-vit-gpu-path-test"


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip_gpu_path"), TINY)


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> list:
    folder = tmp_path_factory.mktemp("gpu_path_clips")
    clips = []
    for k, motion in enumerate(("pan_right", "static", "zoom_in")):
        spec = VideoSpec(f"c{k}.mp4", (Shot(4.5, motion, seed=11 + k),), 320, 180)
        clips.append(clip_samples_for_file(write_video(spec, folder / spec.name)))
    return clips


def test_bfloat16_embeddings_agree_with_float32(tiny_clip) -> None:
    model, preprocess = clip_model.load_clip(
        TINY, str(tiny_clip["checkpoint"]), "cpu", str(tiny_clip["config"])
    )
    photo = street_cyclists()
    images = [photo, photo[::-1].copy(), np.ascontiguousarray(photo[:, ::-1])]
    full = clip_model.embed_images(model, preprocess, images, "cpu", 2, "float32")
    half = clip_model.embed_images(model, preprocess, images, "cpu", 2, "bfloat16")
    assert half.dtype == np.float32 and half.shape == full.shape
    cosine = (full * half).sum(axis=1)
    assert cosine.min() > 0.99, cosine
    assert not np.array_equal(full, half)  # it did compute in bfloat16


def test_clip_embeddings_batched_across_clips_equal_one_by_one(tiny_clip, footage) -> None:
    def analyzer(batch_size) -> ClipEmbeddingAnalyzer:
        return ClipEmbeddingAnalyzer(
            TINY,
            str(tiny_clip["checkpoint"]),
            frames=4,
            batch_size=batch_size,
            model_config=str(tiny_clip["config"]),
        )

    calls: list[int] = []
    batched = analyzer("auto")  # CPU: a fixed 32 frames a pass
    real = clip_model.embed_images

    def counting(model, preprocess, images, *args, **kwargs):
        calls.append(len(images))
        return real(model, preprocess, images, *args, **kwargs)

    clip_model.embed_images = counting
    try:
        together = batched.analyze_many(footage)
    finally:
        clip_model.embed_images = real
    assert calls == [12]  # three clips' 4 frames in one call
    single = analyzer(1)
    for clip, measured in zip(footage, together, strict=True):
        alone = single.analyze(clip)
        assert measured.scores == pytest.approx(alone.scores, abs=1e-5)
        a = measured.artifacts["vectors"]["clip_embedding"]
        b = alone.artifacts["vectors"]["clip_embedding"]
        assert np.allclose(a, b, atol=1e-5)


# -- captioning ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_vlm() -> Path:
    return cached_tiny_qwen2_vl()


@pytest.fixture
def one_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


def _items(footage) -> list[CaptionInput]:
    labels, confidence = {"camera_motion": "pan_right"}, {"camera_motion": 0.95}
    return [
        CaptionInput(f"clip-{k}", clip, {}, labels if k == 0 else {}, confidence if k == 0 else {})
        for k, clip in enumerate(footage)
    ]


def test_auto_captioning_batches_split_on_out_of_memory(tiny_vlm, footage, one_thread) -> None:
    items = _items(footage) * 2  # six clips
    items = [
        CaptionInput(f"clip-{k}", i.samples, {}, i.labels, i.label_confidence)
        for k, i in enumerate(items)
    ]
    gpu = SimulatedGpu(total=10_000, per_item=1_000, hidden=3_000)  # 3 clips fit, not 4+

    class OnSimulatedGpu(VlmCaptioner):
        def batcher(self) -> Batcher:
            if self._batcher is None:
                self._batcher = Batcher("auto", memory=gpu, cap=64)
            return self._batcher

        def caption_batch(self, batch):
            gpu.use(len(batch))
            return super().caption_batch(batch)

    captioner = OnSimulatedGpu(str(tiny_vlm), device="cpu", batch_size="auto", max_new_tokens=8)
    results = captioner.caption_all(items)
    assert [r.clip_id for r in results] == [i.clip_id for i in items]
    assert all(r.error is None for r in results)
    assert captioner.batcher().plan.halved >= 1
    assert gpu.batches[0] == 1 and max(gpu.batches) <= 2  # 1000 n + 3000 (n - 1) <= 8000 at 80%
    fixed = VlmCaptioner(str(tiny_vlm), device="cpu", batch_size=1, max_new_tokens=8)
    assert [r.raw for r in fixed.caption_all(items)] == [r.raw for r in results]


@dataclass
class _Completion:
    text: str
    token_ids: list[int]


@dataclass
class _RequestOutput:
    outputs: list[_Completion]


class _RecordingLLM:
    """Stands in for ``vllm.LLM``: records how it was built and what it was asked."""

    built: list[dict] = []
    asked: list[tuple[list[dict], object]] = []

    def __init__(self, **kwargs) -> None:
        _RecordingLLM.built.append(kwargs)

    def generate(self, requests, params, use_tqdm=True):
        _RecordingLLM.asked.append((list(requests), params))
        answer = '{"dense_description": "Cyclists ride along a street.", "style": "realistic"}'
        return [_RequestOutput([_Completion(answer, [1, 2, 3, 4])]) for _ in requests]


@pytest.fixture
def fake_vllm(monkeypatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = _RecordingLLM
    module.SamplingParams = lambda **kw: dict(kw)
    _RecordingLLM.built.clear()
    _RecordingLLM.asked.clear()
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_vllm_backend_sends_templated_prompts_with_the_frames(tiny_vlm, footage, fake_vllm):
    cfg = CaptioningConfig(
        captioner="vlm", backend="vllm", model=str(tiny_vlm), frames_per_clip=3,
        batch_size="auto", max_new_tokens=64, device="cpu",
    )  # fmt: skip
    captioner = build_captioner(cfg)
    assert isinstance(captioner, VllmCaptioner)
    still = clip_samples_for_file_image(footage)
    items = [*_items(footage), CaptionInput("still", still, media="image")]
    results = captioner.caption_all(items)
    (engine,) = _RecordingLLM.built
    assert engine["model"] == str(tiny_vlm) and engine["dtype"] == "float32"
    assert engine["limit_mm_per_prompt"] == {"image": 3}
    assert 0 < engine["gpu_memory_utilization"] <= 1
    (asked,) = _RecordingLLM.asked  # auto: every clip in one call, vLLM batches inside
    requests, params = asked
    assert params == {"temperature": 0.0, "max_tokens": 64, "seed": 0}
    assert [len(r["multi_modal_data"]["image"]) for r in requests] == [3, 3, 3, 1]
    for request in requests:
        images = request["multi_modal_data"]["image"]
        # the chat template puts one vision placeholder per image in the prompt
        assert request["prompt"].count("<|vision_start|>") == len(images)
    assert "one still image" in requests[3]["prompt"] and "frames" in requests[0]["prompt"]
    assert [r.clip_id for r in results] == [i.clip_id for i in items]
    assert all(r.captioner == "vllm" and r.parse == Parse.OK for r in results)
    assert results[0].caption == "Camera pans right. Cyclists ride along a street."
    assert results[3].caption == "Cyclists ride along a street."
    assert results[0].generated_tokens == 4


def clip_samples_for_file_image(footage):
    """An image item: one sample of the first clip, as a still."""
    first = footage[0]
    return type(first)(**{**first.__dict__, "rgb": first.rgb[:1], "rgb_times": first.rgb_times[:1]})


def test_vllm_missing_names_the_install_command(tiny_vlm, footage, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails as if not installed
    captioner = VllmCaptioner(str(tiny_vlm), device="cpu")
    with pytest.raises(BackendNotInstalled, match=r"pip install -e '\.\[vllm\]'"):
        captioner.load()
    # the captions stage checks before touching a clip, like a model missing from the cache
    cfg = CurationConfig(captioning={"captioner": "vlm", "backend": "vllm", "model": str(tiny_vlm)})
    with pytest.raises(BackendNotInstalled, match=r"captioning.backend is vllm"):
        require(cfg, "captions")
    require(
        cfg.model_copy(
            update={"captioning": cfg.captioning.model_copy(update={"backend": "transformers"})}
        ),
        "captions",
    )


# -- hardware decode -----------------------------------------------------------------------


def _unusable_type() -> str:
    for kind in hw_decode.PREFERENCE:
        if kind not in hw_decode.available() or not hw_decode.probe(kind)[0]:
            return kind
    pytest.skip("every hardware decoder type opens on this machine")


def test_hw_decode_auto_falls_back_to_the_cpu_and_off_is_software(tmp_path: Path) -> None:
    assert hw_decode.device_for("off") is None
    auto = hw_decode.device_for("auto")
    assert auto is None or hw_decode.probe(auto)[0]
    shots = (Shot(3.0, "pan_right", seed=1), Shot(3.0, "static", seed=2))
    spec = VideoSpec("cuts.mp4", shots, 320, 180)
    path = write_video(spec, tmp_path / "cuts.mp4")
    cfg = CurationConfig()
    off = single_pass(path, cfg.shots, cfg.samples)
    on = single_pass(path, cfg.shots.model_copy(update={"hw_decode": "auto"}), cfg.samples)
    assert on.frames == off.frames == 144 and on.error is None  # 6 s at 24 fps
    assert on.cuts == off.cuts and len(off.cuts) == 1
    if auto is None:  # decoded on the CPU: the very same samples
        pairs = zip(on.samples.rgb, off.samples.rgb, strict=True)
        assert all(np.array_equal(a, b) for a, b in pairs)


def test_a_named_hw_decoder_missing_here_is_a_clear_error() -> None:
    kind = _unusable_type()
    with pytest.raises(hw_decode.HwDecodeUnavailable, match="curate doctor"):
        hw_decode.device_for(kind)


def test_caption_journals_keep_their_name_and_vllm_gets_its_own() -> None:
    """The name journals had before backends existed (no clip captioned twice on upgrade)."""
    from curation_assets.captioning.run import captioner_key

    default = CaptioningConfig()
    assert captioner_key(default) == "signals-af9e6efecfe2"
    roomier = default.model_copy(update={"gpu_memory_utilization": 0.5, "max_model_len": 4096})
    assert captioner_key(roomier) == captioner_key(default)
    assert captioner_key(default.model_copy(update={"backend": "vllm"})) != captioner_key(default)
