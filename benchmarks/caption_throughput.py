"""Captioning throughput: clips/s and generated tokens/s for the configured captioner.

Usage: .venv/bin/python benchmarks/caption_throughput.py [--model PATH_OR_HUB_ID] [--clips 12]
       [--batch-size 4] [--device auto] [--max-new-tokens 64]

Without --model it builds the tiny random Qwen2-VL the tests use (CPU, garbage text, but the
same loading, batching and generation code as production) and also times the offline
``signals`` captioner. On a GPU machine pass a real model (e.g. Qwen/Qwen2.5-VL-3B-Instruct or a
local folder) and note the card the numbers came from.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation_assets.captioning.base import CaptionInput  # noqa: E402
from curation_assets.captioning.signals_captioner import SignalsCaptioner  # noqa: E402
from curation_assets.captioning.vlm import VlmCaptioner  # noqa: E402
from curation_assets.media.synthetic import Shot, VideoSpec, write_video  # noqa: E402
from curation_assets.signals.samples import clip_samples_for_file  # noqa: E402


def _inputs(count: int) -> list[CaptionInput]:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_video(
            VideoSpec("b.mp4", (Shot(6, "pan_right"),), 640, 360), Path(tmp) / "b.mp4"
        )
        samples = clip_samples_for_file(path, 0.25, 6.0)
    return [
        CaptionInput(
            f"clip-{i:04d}",
            samples,
            {"brightness": 0.4, "motion_mean": 0.2},
            {"camera_motion": "pan_right"},
            {"camera_motion": 0.95},
        )
        for i in range(count)
    ]


def _time(captioner, items) -> tuple[float, int]:
    started = time.perf_counter()
    results = captioner.caption_all(items)
    elapsed = time.perf_counter() - started
    return elapsed, sum(r.generated_tokens for r in results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args(argv)
    items = _inputs(args.clips)
    model = args.model
    if model is None:
        from curation_assets.captioning.tiny_model import cached_tiny_qwen2_vl, torch_threads

        model, threads = str(cached_tiny_qwen2_vl()), torch_threads(1)
    else:
        import contextlib

        threads = contextlib.nullcontext()
    import torch

    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    card = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    vlm = VlmCaptioner(
        model,
        dtype=args.dtype,
        device=device,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
    )
    with threads:
        vlm.caption_all(items[: args.batch_size])  # load and warm up
        elapsed, tokens = _time(vlm, items)
    signals_elapsed, _ = _time(SignalsCaptioner(), items)
    print(
        f"model: {model}\ndevice: {device} ({card}); {args.clips} clips, batch {args.batch_size}, "
        f"max_new_tokens {args.max_new_tokens}"
    )
    print(f"{'captioner':<12}{'seconds':>9}{'clips/s':>10}{'tokens/s':>10}")
    print(f"{'vlm':<12}{elapsed:>9.2f}{args.clips / elapsed:>10.1f}{tokens / elapsed:>10.0f}")
    print(f"{'signals':<12}{signals_elapsed:>9.3f}{args.clips / signals_elapsed:>10.0f}{'-':>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
