"""The whole per-shard pipeline with models on the accelerator: clips per device-hour, by stage.

Usage: .venv/bin/python benchmarks/gpu_pipeline.py [--files 16] [--models auto|tiny|full]
       [--vlm-size 3B|7B] [--max-new-tokens 320] [--backend transformers|vllm]

One command on a GPU machine. It writes a curation.yaml that turns every model on, in the
settings a GPU run uses: ``device: auto`` (CUDA when torch sees it), ``dtype: auto`` (bfloat16
where the GPU has it), ``batch_size: auto`` (from free GPU memory) for open_clip embeddings and
the VLM captioner, ``shots.hw_decode: auto`` (NVDEC where FFmpeg opens it, else the CPU), the
LAION aesthetic head and the VLM captioner. Then ``curate ingest`` + ``curate run`` of a cached
shard of realistic H.264 uploads (the shard of ``shard_cost.py``), as a user runs them.

Models (no download: random weights change no FLOPs, so the timings stand for the real ones):
``full`` builds open_clip ViT-L-14 (content embeddings and zero-shot, and the aesthetic head's
backbone), the aesthetic MLP head and Qwen2.5-VL at ``--vlm-size``, saves them as local
checkpoints and points curation.yaml at them, so they load through the pipeline's real paths;
``tiny`` uses the test suite's tiny random open_clip and Qwen2-VL (a CPU check of the same
path); ``auto``: full on a GPU, tiny otherwise.

Printed: the device, then per Dagster step its wall time, the clips it handled and clips per
device-hour at that step's speed, the whole shard's clips per device-hour, and where the time
goes. Random weights write garbage captions that fail caption QC and are generated twice
(``retried``), as a real model's rare failures are; the table says how many.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import yaml  # noqa: E402

from benchmarks.shard_cost import build_shard, run_curate, step_stats  # noqa: E402

TINY_CLIP = "tiny-vit-gpu-pipeline"
TINY_CLIP_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def build_models(folder: Path, kind: str, vlm_size: str, device: str) -> dict:
    """Checkpoints on disk and the curation.yaml settings that name them."""
    import open_clip

    from curation_assets.signals.aesthetic_head import build_head

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if kind == "tiny":
        config = folder / f"{TINY_CLIP}.json"
        config.write_text(json.dumps(TINY_CLIP_CFG), encoding="utf-8")
        open_clip.add_model_config(config)
        arch, arch_config, embed_dim = TINY_CLIP, str(config), 32
    else:
        arch, arch_config, embed_dim = "ViT-L-14", None, 768
    model = open_clip.create_model(arch)
    checkpoint = folder / f"{arch}.pt"
    torch.save(model.state_dict(), checkpoint)
    del model
    head = folder / "aesthetic_head.pth"
    torch.save(build_head("mlp", embed_dim).state_dict(), head)
    if kind == "tiny":
        from curation_assets.captioning.tiny_model import cached_tiny_qwen2_vl

        vlm = cached_tiny_qwen2_vl()
    else:
        from benchmarks.model_throughput import _qwen

        processor, qwen = _qwen(vlm_size, device)
        vlm = folder / f"qwen2.5-vl-{vlm_size}"
        qwen.save_pretrained(vlm)
        processor.save_pretrained(vlm)
        del qwen
    clip = {"clip_model": arch, "clip_pretrained": str(checkpoint)}
    if arch_config:
        clip["clip_model_config"] = arch_config
    return {
        "visual": {
            "aesthetic_clip_model": arch,
            "aesthetic_clip_pretrained": str(checkpoint),
            "aesthetic_head_path": str(head),
            "device": "auto",
            "dtype": "auto",
        },
        "content": {**clip, "device": "auto", "dtype": "auto", "batch_size": "auto"},
        "captioning": {"captioner": "vlm", "model": str(vlm)},
    }


def write_config(home: Path, models: dict, backend: str, max_new_tokens: int) -> None:
    cfg = {
        "shots": {"hw_decode": "auto"},
        "visual": models["visual"],
        "content": models["content"],
        "captioning": {
            **models["captioning"],
            "backend": backend,
            "device": "auto",
            "dtype": "auto",
            "batch_size": "auto",
            "max_new_tokens": max_new_tokens,
            # every clip is captioned: random weights fail the model-based filters, and the
            # captioner's cost per clip is what is measured
            "eligible_after": [],
        },
    }
    (home / "curation.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def counts(home: Path) -> dict[str, int]:
    """Clips each stage handled, from the lineage store."""
    import polars as pl

    from curation_assets.config import Layout
    from curation_assets.lineage.fingerprint import read_table

    parts = Layout(home).lineage_parts
    out = {}
    for table in ("videos", "clips", "captions"):
        folder = parts / table
        out[table] = len(read_table(folder)) if folder.exists() else 0
    if (parts / "decisions").exists():
        decisions = read_table(parts / "decisions")
        per_stage = decisions.group_by("stage").agg(pl.col("clip_id").n_unique().alias("n"))
        out.update({f"decided:{r['stage']}": r["n"] for r in per_stage.iter_rows(named=True)})
        failing = decisions.filter((pl.col("stage") == "captions") & ~pl.col("passed"))
        out["captions_failing_qc"] = failing.height
    return out


def device_name() -> str:
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), bf16 " + (
            "yes" if torch.cuda.is_bf16_supported() else "no"
        )
    return f"CPU ({os.cpu_count()} cores), float32"


STEP_CLIPS = {  # which count a step's clips per hour is measured on
    "source_videos": "clips",
    "shot_clips": "clips",
    "visual_filter": "decided:visual_filter",
    "motion_filter": "decided:motion_filter",
    "content_filter": "decided:content_filter",
    "captions": "captions",
}


def _is_check(step_key: str) -> bool:
    """GX and Dagster asset checks run as steps named ``<asset>_<check>``."""
    return any(step_key.startswith(f"{asset}_") for asset in STEP_CLIPS) or step_key.endswith(
        ("_integrity", "_valid", "_complete", "_per_group")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16, help="files in the shard (>= 8)")
    parser.add_argument("--models", choices=("auto", "tiny", "full"), default="auto")
    parser.add_argument("--vlm-size", choices=("3B", "7B"), default="3B")
    parser.add_argument("--max-new-tokens", type=int, default=320)
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--keep", action="store_true", help="keep the data root")
    args = parser.parse_args(argv)
    gpu = torch.cuda.is_available()
    kind = args.models if args.models != "auto" else ("full" if gpu else "tiny")
    print(f"device: {device_name()}; models: {kind}; backend: {args.backend}")
    shard_dir, videos = build_shard(max(8, args.files))
    home = Path(tempfile.mkdtemp(prefix="gpu_pipeline_"))
    try:
        started = time.perf_counter()
        models = build_models(home / "models", kind, args.vlm_size, "cuda" if gpu else "cpu")
        print(f"models built and saved in {time.perf_counter() - started:.0f} s")
        write_config(home, models, args.backend, args.max_new_tokens)
        wall, _, _ = run_curate(shard_dir, home, os.environ.get("CURATION_EXECUTOR", "in_process"))
        steps = step_stats(home)
        n = counts(home)
        print(
            f"shard: {len(videos)} videos + 4 junk files -> {n['clips']} clips, "
            f"{n['captions']} captioned ({n.get('captions_failing_qc', 0)} fail QC: random "
            f"weights); curate ingest + run: {wall:.1f} s wall"
        )
        per_step: dict[str, float] = {}
        for key, start, end in steps:
            name = key if key in STEP_CLIPS else ("checks" if _is_check(key) else "global assets")
            per_step[name] = per_step.get(name, 0.0) + end - start
        total = sum(per_step.values()) or 1.0
        print(f"{'step':16s} {'wall s':>8s} {'clips':>6s} {'clips/device-h':>15s} {'share':>6s}")
        for name, seconds in sorted(per_step.items(), key=lambda kv: -kv[1]):
            clips = n.get(STEP_CLIPS.get(name, ""), 0)
            rate = f"{3600 * clips / seconds:15,.0f}" if clips and seconds > 0 else f"{'':>15s}"
            print(f"{name:16s} {seconds:8.2f} {clips or '':>6} {rate} {seconds / total:6.1%}")
        print(
            f"whole shard: {3600 * n['clips'] / wall:,.0f} clips per device-hour "
            f"({3600 * n['captions'] / wall:,.0f} captioned clips per device-hour)"
        )
    finally:
        if args.keep:
            print(f"data root kept: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
