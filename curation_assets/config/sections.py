"""The sections of curation.yaml, one pydantic model each (``CurationConfig`` in ``config.py``
gathers them; the ``subsets:`` section is in ``config/subsets.py``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from curation_assets.vocabulary import Content, Motion, Visual

BatchSize = Annotated[int, Field(ge=1)] | Literal["auto"]
"""A fixed batch, or ``auto``: sized from the GPU's free memory (a fixed size on CPU)."""
Precision = Literal["auto", "float32", "float16", "bfloat16"]
"""``auto``: bfloat16 on a GPU that has it, float16 on an older GPU, float32 on CPU."""
HwDecode = Literal["off", "auto", "cuda", "vaapi", "qsv", "videotoolbox", "d3d11va", "drm"]


class Section(BaseModel):
    """Base of every section: unknown keys are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AdmissionConfig(Section):
    min_duration_s: float = Field(4.0, gt=0)
    max_duration_s: float = Field(120.0, gt=0)
    min_short_side_px: int = Field(128, ge=1)
    probe_timeout_s: float = Field(20.0, gt=0)
    # still images (media/image.py): their own minimum, and a header-only size limit
    image_min_short_side_px: int = Field(256, ge=1)
    image_max_pixels: int = Field(8192 * 8192, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> AdmissionConfig:
        if self.min_duration_s >= self.max_duration_s:
            raise ValueError("admission.min_duration_s must be below max_duration_s")
        return self


class ShotsConfig(Section):
    detectors: list[Literal["content", "adaptive"]] = Field(
        default_factory=lambda: ["content"], min_length=1
    )
    content_threshold: float = Field(27.0, gt=0)
    adaptive_threshold: float = Field(3.0, gt=0)
    min_shot_s: float = Field(0.5, ge=0)
    # A detected cut is kept only if its frame's luma change is at least this many times that of
    # the frames around it (0 = keep every detected cut). Rejects fast-motion and shake cuts.
    confirm_ratio: float = Field(1.6, ge=0)
    # Fixed, not 0 (= FFmpeg's choice, cores + 1): with one decoder thread a cut-off last packet
    # is reported as damage and the frames after it dropped, with frame threads it is not, so the
    # lineage of a truncated upload depended on the machine's core count.
    decode_threads: int = Field(3, ge=0)
    # Gradual transitions (dissolves, fades, wipes) found in the same pass (media/transitions.py):
    # no clip keeps any of their frames. Longest looked for, in seconds (each side of a fade).
    transitions: bool = True
    transition_max_s: float = Field(2.0, gt=0)
    # Hardware video decode through PyAV/FFmpeg (media/hw_decode.py): "auto" takes the first
    # usable device (NVDEC on a CUDA machine ...) and decodes on the CPU where there is none;
    # "off" (default): a GPU decoder need not be bit-exact with FFmpeg's, so the lineage of the
    # same file would depend on the machine.
    hw_decode: HwDecode = "off"


class ClipsConfig(Section):
    min_s: float = Field(4.0, gt=0)
    max_s: float = Field(16.0, gt=0)
    trim_after_cut_s: float = Field(0.25, ge=0)
    trim_before_cut_s: float = Field(0.0, ge=0)
    max_clips_per_shot: int = Field(2, ge=1)
    # frames kept out of clips on each side of a gradual transition (its detected span is exact
    # to a frame or two); replaces the trims above next to a transition
    transition_margin_s: float = Field(0.08, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ClipsConfig:
        if self.max_s < 2 * self.min_s:
            # Splitting a long shot gives windows of at least max_s / 2; they must stay clips.
            raise ValueError("clips.max_s must be at least twice clips.min_s")
        return self


class SamplesConfig(Section):
    rgb_fps: float = Field(2.0, gt=0)
    rgb_short_side: int = Field(256, ge=64, le=1080)
    rgb_jpeg_quality: int = Field(95, ge=50, le=100)
    grey_fps: float = Field(8.0, gt=0)
    # Frames are shrunk once to this short side; detectors and grey (flow) samples use it.
    analysis_short_side: int = Field(96, ge=32, le=720)
    # Grey samples for optical flow, shrunk once more from the analysis frame.
    grey_short_side: int = Field(72, ge=16, le=720)

    @model_validator(mode="after")
    def _grey_not_larger(self) -> SamplesConfig:
        if self.grey_short_side > self.analysis_short_side:
            raise ValueError("samples.grey_short_side must not exceed analysis_short_side")
        return self


class Limits(Section):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some(self) -> Limits:
        if self.min is None and self.max is None:
            raise ValueError("a threshold needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self


# stage -> filter (vocabulary name) -> signal -> limits
StageFilters = dict[str, dict[str, Limits]]

FILTER_NAMES: dict[str, set[str]] = {
    "visual_filter": {v.value for v in Visual},
    "motion_filter": {m.value for m in Motion},
    "content_filter": {Content.UNSAFE.value, Content.HAS_HUMAN.value},
}


def check_filter_shapes(where: str, filters: dict, vocabulary: set[str]) -> None:
    """A filter is a vocabulary name, or is named after the one signal it bounds (``warmth:
    {warmth: {max: 0.5}}``, or ``warmth: {}`` for the gate the signal declares). Catches a
    misspelt vocabulary name here; whether an analyzer declares the signal is checked with the
    analyzers in hand (``signals.catalogue.check_config``)."""
    for name, bounds in filters.items():
        if name in vocabulary or not bounds or set(bounds) == {name}:
            continue
        raise ValueError(
            f"{where}: unknown filter {name!r}; known: {sorted(vocabulary)}, or a filter named "
            f"after the one signal it bounds ({name}: {{{name}: {{min: ...}}}}, or {name}: {{}})"
        )


# Filters whose first measured signal decides alone (model score, else the offline stand-in).
# the per-shard filter families that measure a still image (an image has no motion)
IMAGE_FILTER_STAGES = frozenset({"visual_filter", "content_filter"})
ANY_OF_FILTERS = frozenset({Visual.AESTHETIC.value, Content.HAS_HUMAN.value})


class VisualConfig(Section):
    ocr_frames: int = Field(3, ge=1, le=16)  # samples per clip given to the text detector
    ocr_threads: int = Field(1, ge=1)
    # LAION-style aesthetic head on open_clip embeddings; all three set -> real aesthetic score,
    # else the offline technical-quality score (stored under its own name).
    aesthetic_clip_model: str | None = None  # e.g. "ViT-L-14"
    aesthetic_clip_pretrained: str | None = None  # hub tag or local checkpoint path
    aesthetic_head_path: str | None = None  # state dict of the head: local, or hf://org/name/file
    aesthetic_head_kind: Literal["linear", "mlp"] = "mlp"
    device: str = "cpu"  # or "auto": CUDA when torch sees a GPU
    dtype: Precision = "auto"


class ContentConfig(Section):
    # open_clip model for embeddings and zero-shot has_human / unsafe; both set -> used.
    clip_model: str | None = None  # e.g. "ViT-L-14"
    clip_pretrained: str | None = None  # hub tag (e.g. "openai") or local checkpoint path
    clip_model_config: str | None = None  # JSON model config for a custom architecture
    device: str = "cpu"  # or "auto": CUDA when torch sees a GPU
    dtype: Precision = "auto"
    batch_size: BatchSize = 32  # frames per forward pass, across the clips of a video
    frames: int = Field(4, ge=1, le=32)  # samples per clip, pooled
    human_prompts: list[str] | None = None  # None -> the built-in taxonomy of human activities
    nonhuman_prompts: list[str] | None = None
    unsafe_prompts: list[str] | None = None
    safe_prompts: list[str] | None = None
    human_frames: int = Field(5, ge=1, le=16)  # samples per clip for the offline detector
    # offline has_human: "mediapipe" (BlazePose + BlazeFace, files from MediaPipe's wheel),
    # "opencv" (Haar faces + HOG), "skimage" (LBP faces); "auto": the first available
    human_backend: Literal["auto", "mediapipe", "opencv", "skimage"] = "auto"


class DedupConfig(Section):
    hamming_radius: int = Field(8, ge=0, le=64)  # pHash bits; re-encodes/rescales land within
    embedding_cosine: float = Field(0.99, gt=0, le=1)  # Movie Gen: >= 0.99 is a copy
    # an image that is (nearly) a frame of a video clip is labelled frame_of; true drops it
    drop_frames_of_videos: bool = False


class ConceptsConfig(Section):
    k: int = Field(64, ge=1)  # clusters; HunyuanVideo uses ~10k at scale
    seed: int = 0
    niter: int = Field(20, ge=1)


class CaptionQCSettings(Section):
    min_words: int = Field(20, ge=0)  # offline "signals" captions are exempt
    max_words: int = Field(300, ge=1)
    banned_openings: list[str] = Field(
        default_factory=lambda: [
            "The image shows",
            "In this video",
            "This image",
            "The video shows",
        ]
    )


class CaptioningConfig(Section):
    captioner: Literal["signals", "vlm"] = "signals"  # signals: offline, no weights
    model: str | None = None  # hub id or local path of the VLM, e.g. Qwen/Qwen2.5-VL-7B-Instruct
    # vlm through transformers, or vLLM (the [vllm] extra: a GPU, continuous batching)
    backend: Literal["transformers", "vllm"] = "transformers"
    dtype: Precision = "auto"
    device: str = "auto"
    batch_size: BatchSize = 4  # clips per generate call ("auto": from free GPU memory)
    # vLLM only: the share of GPU memory it may take, and the longest prompt + answer
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1)
    max_model_len: int = Field(8192, ge=256)
    frames_per_clip: int = Field(4, ge=1, le=32)
    max_new_tokens: int = Field(320, ge=8)
    camera_min_confidence: float = Field(0.7, ge=0, le=1)  # camera-motion prefix above this
    # only clips that pass these stages' loosest filters are captioned (cheap before expensive)
    eligible_after: list[str] = Field(
        default_factory=lambda: ["visual_filter", "motion_filter", "content_filter"]
    )
    qc: CaptionQCSettings = CaptionQCSettings()

    @model_validator(mode="after")
    def _model_for_vlm(self) -> CaptioningConfig:
        if self.captioner == "vlm" and not self.model:
            raise ValueError("captioning.captioner is vlm: set captioning.model (hub id or path)")
        return self


class ModelsConfig(Section):
    """Where weights named by hub id are cached and which revision each is pulled at
    (``curate models``; docs/architecture.md "Models without a network")."""

    dir: str | None = None  # lock.json (and hub/, the cache); null: $CURATION_HOME/models
    # Hugging Face cache of pulled weights; null: $HF_HUB_CACHE, or $HF_HOME/hub, when set,
    # else <dir>/hub
    hub_cache: str | None = None
    revisions: dict[str, str] = Field(default_factory=dict)  # hub id -> branch, tag or commit

    def resolved(self, home: Path) -> ModelsConfig:
        """Both folders as absolute paths (``load_config`` does this for its data root, so
        worker processes that receive the settings find the same cache)."""
        folder = Path(self.dir).expanduser() if self.dir else home / "models"
        cache = self.hub_cache or os.environ.get("HF_HUB_CACHE")
        if cache:
            hub = Path(cache).expanduser()
        elif os.environ.get("HF_HOME"):
            hub = Path(os.environ["HF_HOME"]).expanduser() / "hub"
        else:
            hub = folder / "hub"
        return self.model_copy(
            update={"dir": str(folder.resolve()), "hub_cache": str(hub.resolve())}
        )


class FinetuneConfig(Section):
    """The human-reviewed fine-tune set: candidate pool, ranking and acceptance."""

    pool_size: int = Field(200, ge=1)  # candidates offered to reviewers
    max_per_concept: int | None = Field(None, ge=1)  # cap per concept cluster (None: no cap)
    # Stricter than any stage: merged with every stage's filters, strictest limit wins.
    filters: dict[str, dict[str, Limits]] = Field(default_factory=dict)
    rank_by: dict[str, float] = Field(default_factory=lambda: {"technical_quality": 1.0})
    # filters that may be unmeasured (e.g. unsafe offline): kept and counted; others exclude
    allow_unscored: list[str] = Field(default_factory=lambda: ["unsafe"])
    min_accepts: int = Field(1, ge=1)  # reviewers who must accept (and outnumber rejects)
    min_trim_s: float = Field(2.0, gt=0)  # shortest trimmed segment a reviewer may keep
    export_media: bool = True  # exports/finetune_set/: WebDataset shards (False: manifest only)
    compact_reviews_after: int = Field(25, ge=1)  # merge single-review parts beyond this many
    # cut previews of s3:// clips for the review page, least recently used evicted beyond this
    preview_cache_mb: int = Field(2048, ge=16)
    # "more like these seeds" (finetune_seeds, finetune_expansion; selection/expansion.py)
    seeds_file: str | None = None  # YAML list of seeds, besides those marked in the review page
    expansion_k: int = Field(20, ge=1)  # neighbours per theme (a seed without theme: its own)
    expansion_mmr_lambda: float = Field(0.7, ge=0.0, le=1.0)  # 1: nearest only; lower: varied
    expansion_per_concept: int | None = Field(None, ge=1)  # at most this many of one concept
    # finetune_variants: K seeded, stratified subsets of the set, to train K models to average
    variants: int = Field(3, ge=0)
    variant_fraction: float = Field(0.8, gt=0.0, le=1.0)
    variant_seed: int = 0

    @model_validator(mode="after")
    def _known(self) -> FinetuneConfig:
        check_filter_shapes("finetune.filters", self.filters, set().union(*FILTER_NAMES.values()))
        return self


class StorageConfig(Section):
    # None: $CURATION_HOME/uploads; else a local folder or s3://bucket/prefix (shards under it)
    uploads: str | None = None
    # s3://bucket/prefix: lineage parts are copied there after every write (None: local only)
    outputs: str | None = None
    scratch_dir: str | None = None  # where S3 videos are downloaded; None: $CURATION_HOME/scratch
    scratch_max_mb: int = Field(4096, ge=1)  # at most this much is downloaded at once
    sensor_max_pages: int = Field(50, ge=1)  # S3 listing pages (1000 shards each) per sensor tick
    # S3 ticks list only names after the highest seen; every this many seconds, all names again
    sensor_full_sweep_s: float = Field(600.0, ge=0)

    @model_validator(mode="after")
    def _s3_outputs(self) -> StorageConfig:
        if self.outputs is not None and not self.outputs.startswith("s3://"):
            raise ValueError("storage.outputs must be an s3://bucket/prefix URI (or null)")
        return self


class RunConfig(Section):
    decode_workers: int = Field(2, ge=1)
    decode_timeout_factor: float = Field(10.0, gt=0)
