"""``curate doctor``: what a run would compute here, with what, on which hardware.

- signals: per stage, which signals come from real models (and whether those are pulled) and
  which from the offline scorers;
- device: torch, CUDA devices and their memory, CPU cores, RAM, and the device each model stage
  is set to;
- decode: PyAV/FFmpeg versions, the hardware device types FFmpeg was built with and which of
  them open here, the hardware decoders it has (the decode pass itself decodes in software);
- extras: the package's optional dependency groups and optional accelerators, installed or not.

Nothing here touches the network.
"""

from __future__ import annotations

import os
from importlib import metadata

from curation_assets.config import CurationConfig
from curation_assets.models.report import inventory
from curation_assets.models.shipped import opencv_people_available, people_detector_available
from curation_assets.models.store import ModelStore

# hardware decoder family (FFmpeg decoder name suffix) -> the hw device type it needs
HW_FAMILIES = {
    "cuvid": "cuda",
    "qsv": "qsv",
    "amf": "amf",
    "vaapi": "vaapi",
    "mediacodec": "mediacodec",
    "rkmpp": "drm",
    "v4l2m2m": None,  # a V4L2 memory-to-memory device, not an FFmpeg hw device type
}
HW_DECODER_SUFFIXES = tuple(f"_{family}" for family in HW_FAMILIES)
OPTIONAL_PACKAGES = (
    ("hf-xet", "faster hub downloads (Xet storage)"),
    ("accelerate", "device_map / low-memory loading of large VLMs"),
    ("flash-attn", "FlashAttention 2 for VLM captioning on GPU"),
    ("bitsandbytes", "8-/4-bit VLM weights"),
    ("xformers", "memory-efficient attention"),
    ("onnxruntime-gpu", "PP-OCR text detection on GPU"),
    ("vllm", "captioning.backend: vllm (extra [vllm]): continuous batching on GPU"),
)


def signal_plan(cfg: CurationConfig, inv: dict) -> list[dict]:
    """One row per signal group: computed by a model (pulled or not) or an offline scorer."""
    by_stage: dict[str, list[dict]] = {}
    for row in inv["models"]:
        by_stage.setdefault(row["stage"], []).append(row)

    def model(stage: str, signal: str, scorer: str, fallback: str) -> dict:
        rows = by_stage.get(stage, [])
        if not rows:
            return _row(stage, signal, "offline", fallback)
        ready = all(r["present"] for r in rows)
        names = ", ".join(r["repo_id"] or r["path"] for r in rows)
        return _row(
            stage,
            signal,
            "model" if ready else "STOPS: model missing",
            f"{scorer} ({names})",
            models=[r["repo_id"] or r["path"] for r in rows],
            ready=ready,
        )

    clip = bool(by_stage.get("content_filter"))
    return [
        _row(
            "visual_filter",
            "geometry, borders, sharpness, exposure, colour",
            "offline",
            "classical measures (OpenCV, NumPy)",
        ),
        _row(
            "visual_filter",
            "text_area",
            "packaged model",
            "text_overlay_ppocr_det: PP-OCR v4 detection shipped in rapidocr_onnxruntime",
        ),
        model("visual_filter", "aesthetic", "laion_aesthetic", "technical_quality"),
        _row(
            "motion_filter",
            "motion, camera motion, shake, slideshow",
            "offline",
            "DIS optical flow (OpenCV)",
        ),
        _row("content_filter", "phash_spread, perceptual hashes", "offline", "phash"),
        model(
            "content_filter",
            "clip embedding",
            "open_clip",
            "thumbnail_embedding (concepts only, not near-duplicates)",
        ),
        model(
            "content_filter",
            "has_human",
            "open_clip zero-shot human_clip",
            _offline_people(),
        ),
        model("content_filter", "unsafe", "open_clip zero-shot unsafe_clip", "not scored"),
        model("captions", "caption", "vlm", "signals captioner (no dense description)"),
        _row(
            "near_duplicates",
            "duplicate groups",
            "model" if clip else "offline",
            "pHash + open_clip cosine" if clip else "pHash only",
        ),
        _row(
            "concepts",
            "concept clusters",
            "model" if clip else "offline",
            "k-means over clip_embedding" if clip else "k-means over thumbnail_embedding",
        ),
    ]


def _row(stage, signal, mode, scorer, models=None, ready=True) -> dict:
    return {
        "stage": stage,
        "signal": signal,
        "mode": mode,
        "scorer": scorer,
        "models": models or [],
        "ready": ready,
    }


def device_info(cfg: CurationConfig) -> dict:
    import torch

    info: dict = {
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "torch_threads": torch.get_num_threads(),
        "ram_bytes": _meminfo("MemTotal"),
        "ram_available_bytes": _meminfo("MemAvailable"),
        "cuda": torch.cuda.is_available(),
        "gpus": [],
        "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
    }
    if info["cuda"]:
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpu = {
                "index": i,
                "name": props.name,
                "capability": f"{props.major}.{props.minor}",
                "total_bytes": props.total_memory,
            }
            try:
                gpu["free_bytes"] = torch.cuda.mem_get_info(i)[0]
            except RuntimeError as exc:  # busy or exclusive-process device
                gpu["free_bytes"] = None
                gpu["error"] = str(exc)
            info["gpus"].append(gpu)
    from curation_assets.models.accelerate import resolve_dtype

    wants = {
        "visual.device": (cfg.visual.device, cfg.visual.dtype, None),
        "content.device": (cfg.content.device, cfg.content.dtype, cfg.content.batch_size),
        "captioning.device": (
            cfg.captioning.device,
            cfg.captioning.dtype,
            cfg.captioning.batch_size,
        ),
    }
    info["stage_devices"] = {}
    for key, (value, dtype, batch) in wants.items():
        effective = ("cuda" if info["cuda"] else "cpu") if value == "auto" else value
        problem = None
        if effective.startswith("cuda") and not info["cuda"]:
            problem = "CUDA is not available here"
        computes = resolve_dtype(dtype, effective) if not problem else dtype
        sizing = None if batch is None else (
            "from free GPU memory" if batch == "auto" and effective.startswith("cuda") else
            "fixed" if batch != "auto" else "fixed (auto on CPU)"
        )  # fmt: skip
        info["stage_devices"][key] = {
            "set": value, "runs_on": effective, "problem": problem, "dtype": computes,
            "batch_size": batch, "batches": sizing,
        }  # fmt: skip
    return info


def _meminfo(key: str) -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if key == "MemTotal" and hasattr(os, "sysconf"):
        try:
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError):
            return None
    return None


def decode_info(hw_setting: str = "off") -> dict:
    """What FFmpeg here can decode on hardware, and what the single pass will use with
    ``shots.hw_decode`` = ``hw_setting``."""
    import av

    from curation_assets.media import hw_decode

    info: dict = {
        "pyav": av.__version__,
        "ffmpeg": getattr(av, "ffmpeg_version_info", None),
        "hw_device_types": [],
        "hw_usable": {},
        "hw_decoders": [],
        "decode_pass": _decode_pass(hw_setting),
    }
    hwaccel = getattr(getattr(av, "codec", None), "hwaccel", None)
    if hwaccel is not None and hasattr(hwaccel, "hwdevices_available"):
        info["hw_device_types"] = sorted(hwaccel.hwdevices_available())
        for kind in info["hw_device_types"]:
            usable, why = hw_decode.probe(kind)
            info["hw_usable"][kind] = {"usable": usable, "detail": why}
    for name in sorted(getattr(av, "codecs_available", ())):
        if name.endswith(HW_DECODER_SUFFIXES):
            try:
                if av.Codec(name, "r").is_decoder:
                    info["hw_decoders"].append(name)
            except Exception:  # noqa: BLE001 - an encoder only, or not usable
                continue
    usable = {k for k, v in info["hw_usable"].items() if v["usable"]}
    info["hw_decoders_usable"] = [
        name for name in info["hw_decoders"] if HW_FAMILIES[name.rsplit("_", 1)[1]] in usable
    ]
    return info


def _decode_pass(setting: str) -> str:
    from curation_assets.media import hw_decode

    try:
        kind = hw_decode.device_for(setting)
    except hw_decode.HwDecodeUnavailable as exc:
        return f"stops: {exc}"
    where = f"hardware ({kind})" if kind else "software (CPU)"
    return f"{where}, shots.hw_decode: {setting}"


def _families(decoders: list[str]) -> str:
    groups: dict[str, list[str]] = {}
    for name in decoders:
        codec, family = name.rsplit("_", 1)
        groups.setdefault(family, []).append(codec)
    return "; ".join(f"{family}: {' '.join(codecs)}" for family, codecs in groups.items())


def extras_info() -> dict:
    """The package's optional dependency groups (installed or not) and optional accelerators."""
    from packaging.requirements import Requirement

    out: dict = {"package": None, "extras": {}, "optional": []}
    try:
        dist = metadata.distribution("curation-assets")
    except metadata.PackageNotFoundError:
        out["package"] = "not installed (run scripts/test or pip install -e .[dev])"
    else:
        out["package"] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None:
                continue
            for extra in dist.metadata.get_all("Provides-Extra") or []:
                if req.marker.evaluate({"extra": extra}):
                    out["extras"].setdefault(extra, []).append(
                        {
                            "name": req.name,
                            "wants": str(req.specifier),
                            "installed": _version(req.name),
                        }
                    )
    for name, why in OPTIONAL_PACKAGES:
        out["optional"].append({"name": name, "for": why, "installed": _version(name)})
    return out


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def doctor(cfg: CurationConfig, store: ModelStore | None = None) -> dict:
    inv = inventory(cfg, store)
    return {
        "signals": signal_plan(cfg, inv),
        "models": inv,
        "device": device_info(cfg),
        "decode": decode_info(cfg.shots.hw_decode),
        "extras": extras_info(),
    }


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**30:.1f} GiB"


def render(report: dict) -> str:
    out = ["signals (what a run computes here)"]
    for r in report["signals"]:
        out.append(f"  {r['stage']:<16}{_cut(r['signal'], 48):<50}{r['mode']:<22}{r['scorer']}")
    inv = report["models"]
    out += ["", f"models: {inv['summary']}   (curate models list)"]
    for note in inv["notes"]:
        out.append(f"  note: {note}")
    d = report["device"]
    out += ["", "device"]
    cores = d["cpu_cores"]
    if d["cpu_cores_usable"] not in (None, cores):
        cores = f"{d['cpu_cores_usable']} of {cores}"
    out.append(
        f"  cpu: {cores} cores, torch threads {d['torch_threads']}; RAM {_gib(d['ram_bytes'])} "
        f"({_gib(d['ram_available_bytes'])} available)"
    )
    if d["gpus"]:
        for g in d["gpus"]:
            out.append(
                f"  gpu {g['index']}: {g['name']} (sm {g['capability']}), "
                f"{_gib(g['total_bytes'])} total, {_gib(g.get('free_bytes'))} free"
            )
    else:
        out.append(
            f"  gpu: none (torch {d['torch']}, CUDA available: {d['cuda']}, "
            f"built for CUDA {d['torch_cuda'] or '-'})"
        )
    for key, dev in d["stage_devices"].items():
        problem = f"  PROBLEM: {dev['problem']}" if dev["problem"] else ""
        batches = f", batch {dev['batch_size']}: {dev['batches']}" if dev["batches"] else ""
        out.append(
            f"  {key} = {dev['set']} -> runs on {dev['runs_on']} in {dev['dtype']}"
            f"{batches}{problem}"
        )
    dec = report["decode"]
    usable = [k for k, v in dec["hw_usable"].items() if v["usable"]]
    out += [
        "",
        "decode",
        f"  PyAV {dec['pyav']}, FFmpeg {dec['ffmpeg']}; the decode pass: {dec['decode_pass']}",
        f"  hardware device types built in: {', '.join(dec['hw_device_types']) or 'none'}; "
        f"usable here: {', '.join(usable) or 'none'}",
        f"  hardware decoders built in: {_families(dec['hw_decoders']) or 'none'}",
        f"  hardware decoders usable here: {', '.join(dec['hw_decoders_usable']) or 'none'}",
    ]
    ex = report["extras"]
    out += ["", f"extras (curation-assets {ex['package']})"]
    for extra, reqs in ex["extras"].items():
        have = [r for r in reqs if r["installed"]]
        missing = [r["name"] for r in reqs if not r["installed"]]
        line = f"  [{extra}]: {len(have)} of {len(reqs)} installed"
        out.append(line + (f"; missing: {', '.join(missing)}" if missing else ""))
    for opt in ex["optional"]:
        state = opt["installed"] or "not installed"
        out.append(f"  {opt['name']:<16}{state:<16}{opt['for']}")
    return "\n".join(out)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _offline_people() -> str:
    """The offline has_human scorer this machine records (with content.human_backend: auto)."""
    if people_detector_available():
        return "blazepose_people (MediaPipe BlazePose persons + BlazeFace faces, LiteRT)"
    if opencv_people_available():
        return "opencv_people (OpenCV Haar faces and HOG people)"
    return "skimage_faces (scikit-image LBP frontal faces)"
