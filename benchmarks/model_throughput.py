"""What do the full-size models cost per clip on this hardware, and what would a pool cost?

Usage: .venv/bin/python benchmarks/model_throughput.py [--clips 3] [--vlm-size 3B|7B|none]
       [--max-new-tokens 48] [--device auto] [--pool-hours 1000] [--clips-per-hour 360]

No weights are downloaded: the real architectures are built at full size with random weights
(random weights change no FLOPs, so the timings stand for the real models):

- open_clip ViT-B-32 and ViT-L-14 (``open_clip.create_model_and_transforms(arch)``), embedding
  ``content.frames`` samples per clip through the project's ``embed_images`` with
  ``content.batch_size``;
- the LAION aesthetic head (``signals.aesthetic.build_head``) on the ViT-L-14 embedding;
- a Qwen2.5-VL captioner at the given size (3B: 36 layers of width 2048; 7B: 28 of width 3584;
  the 32-block vision tower of width 1280; vocabulary 151,936), run through the project's
  ``VlmCaptioner.caption_batch`` (its frame sampling, chat template, batching and generation)
  with Qwen2-VL's default image pixel budget. bf16 on CUDA, float32 on CPU (as the captioner's
  ``dtype: auto`` does). The tokenizer is the tiny test tokenizer (it only turns ids into text).

The clip is 6 s of 1280x720 synthetic footage decoded by the single pass, as the pipeline
stores it. Printed: per-clip latency of each model (the first clip is a warm-up, not counted),
clips/hour, where the VLM's time goes (prefill vs each generated token), and what
``--pool-hours`` of source video would cost at ``--clips-per-hour`` clips per source hour.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from curation_assets.captioning.base import CaptionInput  # noqa: E402
from curation_assets.captioning.tiny_model import CHAT_TEMPLATE, SPECIAL_TOKENS, _tokenizer  # noqa: E402
from curation_assets.captioning.vlm import VlmCaptioner  # noqa: E402
from curation_assets.config import CurationConfig  # noqa: E402
from curation_assets.media.synthetic import Shot, VideoSpec, write_video  # noqa: E402
from curation_assets.signals.aesthetic_head import build_head  # noqa: E402
from curation_assets.signals.clip_model import embed_images  # noqa: E402
from curation_assets.signals.frame_spread import spread  # noqa: E402
from curation_assets.signals.samples import clip_samples_for_file  # noqa: E402

# Qwen2.5-VL text towers (the published configs); the vision tower is the same for both
QWEN25_VL = {
    "3B": {"hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36,
           "num_attention_heads": 16, "num_key_value_heads": 2},
    "7B": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28,
           "num_attention_heads": 28, "num_key_value_heads": 4},
}  # fmt: skip
QWEN25_VISION = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16,
                 "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
                 "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]}  # fmt: skip
VOCAB = 151_936


def _clip(folder: Path):
    path = write_video(VideoSpec("m.mp4", (Shot(6, "pan_right"),), 1280, 720), folder / "m.mp4")
    return clip_samples_for_file(path, 0.25, 6.0)


def _timed(run, clips: int) -> list[float]:
    run()  # warm-up: allocations, kernels, lazy init
    out = []
    for _ in range(clips):
        started = time.perf_counter()
        run()
        out.append(time.perf_counter() - started)
    return out


def _embed_cost(arch: str, images, cfg: CurationConfig, device: str, clips: int) -> dict:
    import open_clip

    started = time.perf_counter()
    precision = "bf16" if device.startswith("cuda") else "fp32"
    model, _, preprocess = open_clip.create_model_and_transforms(
        arch, pretrained=None, device=device, precision=precision
    )
    model.eval()
    built = time.perf_counter() - started
    batch = cfg.content.batch_size
    seconds = {arch: statistics.median(
        _timed(lambda: embed_images(model, preprocess, images, device, batch), clips)
    )}  # fmt: skip
    params = sum(p.numel() for p in model.parameters()) / 1e6
    print(
        f"open_clip {arch:<9} {params:6.0f} M params, built in {built:4.1f} s: "
        f"{seconds[arch]:6.2f} s/clip ({len(images)} frames, batch {batch}), "
        f"{3600 / seconds[arch]:8.0f} clips/hour"
    )
    if arch == "ViT-L-14":
        dim = model.visual.output_dim
        head = build_head("mlp", dim).to(device).eval()
        embedding = torch.randn(1, dim, device=device)

        def score() -> None:
            with torch.inference_mode():
                head(embedding)

        seconds["aesthetic"] = statistics.median(_timed(score, max(clips, 20)))
        print(f"aesthetic MLP head on ViT-L-14: {seconds['aesthetic'] * 1000:6.2f} ms/clip")
    return seconds


def bench_clip(samples, cfg: CurationConfig, device: str, clips: int) -> dict[str, float]:
    images = [samples.rgb[i] for i in spread(len(samples.rgb), cfg.content.frames)]
    seconds: dict[str, float] = {}
    for arch in ("ViT-B-32", "ViT-L-14"):
        seconds.update(_embed_cost(arch, images, cfg, device, clips))
    return seconds


def _mrope(text: dict) -> list[int]:
    """Qwen2.5-VL's (time, height, width) rotary split: [16, 24, 24] of a 128-wide head."""
    half = text["hidden_size"] // text["num_attention_heads"] // 2
    return [half // 4, 3 * half // 8, half - half // 4 - 3 * half // 8]


def _qwen(size: str, device: str):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = _tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = QWEN25_VL[size]
    config = Qwen2_5_VLConfig(
        text_config={**text, "vocab_size": VOCAB, "max_position_embeddings": 32768,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0,
                                         "mrope_section": _mrope(text)},
                     "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]},
        vision_config={**QWEN25_VISION, "out_hidden_size": text["hidden_size"]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=size == "3B",
    )  # fmt: skip
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    started = time.perf_counter()
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).to(dtype=dtype, device=device).eval()
    built = time.perf_counter() - started
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(),  # the real checkpoints' default pixel budget
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    params = sum(p.numel() for p in model.parameters()) / 1e9
    print(f"Qwen2.5-VL-{size}: {params:.2f} B params ({dtype}), built in {built:.0f} s")
    return processor, model


def bench_vlm(samples, cfg: CurationConfig, size: str, device: str, clips: int, tokens: int):
    processor, model = _qwen(size, device)
    captioner = VlmCaptioner(
        "benchmark",
        device=device,
        batch_size=1,
        frames_per_clip=cfg.captioning.frames_per_clip,
        max_new_tokens=tokens,
    )
    captioner._loaded = (processor, model)  # the built model, not a pulled checkpoint
    item = CaptionInput("clip-0", samples, {}, {"camera_motion": "pan_right"}, {})
    frames = captioner.frames(item)
    text = processor.apply_chat_template(
        captioner.messages(item, len(frames)), tokenize=False, add_generation_prompt=True
    )
    prompt_tokens = processor(text=[text], images=[frames], return_tensors="pt")["input_ids"].shape[
        1
    ]

    def run(new: int) -> float:
        captioner.max_new_tokens = new
        model.generation_config.min_new_tokens = new  # random weights: no early stop
        started = time.perf_counter()
        captioner.caption_batch([item])
        return time.perf_counter() - started

    run(1)  # warm-up
    prefill = statistics.median(run(1) for _ in range(max(1, clips)))
    full = statistics.median(run(tokens) for _ in range(max(1, clips)))
    per_token = (full - prefill) / max(1, tokens - 1)
    caption_s = prefill + per_token * (cfg.captioning.max_new_tokens - 1)
    print(
        f"Qwen2.5-VL-{size} via VlmCaptioner: {len(frames)} frames -> {prompt_tokens} prompt "
        f"tokens; prefill (vision + prompt) {prefill:.1f} s, {per_token * 1000:.0f} ms per "
        f"generated token ({tokens} timed); at max_new_tokens {cfg.captioning.max_new_tokens}: "
        f"{caption_s:.1f} s/clip, {3600 / caption_s:.0f} clips/hour"
    )
    return caption_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=3)
    parser.add_argument("--vlm-size", choices=(*QWEN25_VL, "none"), default="3B")
    parser.add_argument("--max-new-tokens", type=int, default=48, help="tokens timed")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pool-hours", type=float, default=1000.0)
    parser.add_argument("--clips-per-hour", type=float, default=360.0)
    args = parser.parse_args()
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    name = torch.cuda.get_device_name() if device.startswith("cuda") else "CPU"
    print(f"device: {device} ({name}), torch threads {torch.get_num_threads()}")
    cfg = CurationConfig()
    with tempfile.TemporaryDirectory() as tmp:
        samples = _clip(Path(tmp))
    seconds = bench_clip(samples, cfg, device, args.clips)
    if args.vlm_size != "none":
        seconds["caption"] = bench_vlm(
            samples, cfg, args.vlm_size, device, args.clips, args.max_new_tokens
        )
    clips = args.pool_hours * args.clips_per_hour
    print(f"\n{args.pool_hours:.0f} source hours x {args.clips_per_hour:.0f} clips/hour = "
          f"{clips:,.0f} clips on this device ({name}), one process:")  # fmt: skip
    for what, keys in (
        ("embed (ViT-L-14) + aesthetic head", ("ViT-L-14", "aesthetic")),
        ("embed (ViT-B-32)", ("ViT-B-32",)),
        (f"caption (Qwen2.5-VL-{args.vlm_size})", ("caption",)),
    ):
        if all(k in seconds for k in keys):
            total = sum(seconds[k] for k in keys) * clips / 3600
            print(f"  {what:<36} {total:12,.0f} device-hours")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
