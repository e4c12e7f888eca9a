"""Per-shard assets: thin wiring of the steps (``admission_steps``, ``clip_steps``,
``filter_steps``) to lineage, config and UI metadata."""

import warnings

import dagster as dg

from curation_assets import admission_steps, clip_steps, filter_steps
from curation_assets.assets.caption_metadata import captions_metadata
from curation_assets.assets.filter_metadata import filter_metadata
from curation_assets.assets.ingest_metadata import shot_clips_metadata, source_videos_metadata
from curation_assets.captioning.run import caption_shard
from curation_assets.models import ModelNotAvailable, require
from curation_assets.models.report import markdown
from curation_assets.partitions import shard_partitions
from curation_assets.resources import CurationResource
from curation_assets.shards import check_shard_name
from curation_assets.signals.runner import save_vectors, score_shard

PER_SHARD_GROUP = "per_shard"

# One shard per run, also in backfills: a shard is the unit of parallelism, its failure stays its
# own, its run is one ECS task, and every asset and check reads ``context.partition_key``.
SHARD_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
warnings.filterwarnings("ignore", "Parameter `backfill_policy`", dg.BetaWarning)  # stable enough
# Task sizes for ``dagster_aws.ecs.ecs_executor`` (one task per step, see deploy/dagster.yaml).
DECODE_TAGS = {"ecs/cpu": "4096", "ecs/memory": "8192"}
MODEL_TAGS = {"ecs/cpu": "4096", "ecs/memory": "16384"}


MODEL_STAGES = ("visual_filter", "content_filter", "captions")


def _require_models(cfg, stage: str) -> list[dict]:
    """The stage's configured models, all in the local cache; one that is not fails the step
    with what is missing and the command that fixes it (curation_assets.models.report)."""
    if stage not in MODEL_STAGES:
        return []
    try:
        return require(cfg, stage)
    except ModelNotAvailable as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def _models_metadata(stage: str, rows: list[dict]) -> dict:
    """Which models (hub id, commit, size, licence) or offline scorers made this stage."""
    return {"models": dg.MetadataValue.md(markdown(rows))} if stage in MODEL_STAGES else {}


def _progress(context: dg.AssetExecutionContext, verb: str):
    def log(done: int, total: int, what: str) -> None:
        context.log.info(f"{verb} {done}/{total}: {what}")

    return log


@dg.asset(
    partitions_def=shard_partitions,
    group_name=PER_SHARD_GROUP,
    kinds={"pyav", "duckdb"},
    backfill_policy=SHARD_BACKFILL,
    description="Every file of the shard probed with PyAV; admitted or rejected with a reason.",
)
def source_videos(
    context: dg.AssetExecutionContext, curation: CurationResource
) -> dg.MaterializeResult:
    shard = check_shard_name(context.partition_key)
    layout, cfg, store = curation.layout, curation.config(), curation.store()
    source = curation.source()  # local uploads folder or s3://bucket/prefix
    if not source.exists(shard):
        raise dg.Failure(f"shard {shard!r} has no folder under {source.uploads_uri}")
    rows = admission_steps.admit_shard(layout, shard, cfg, _progress(context, "probed"), source)
    store.replace("source_videos", shard, {"videos": rows})
    store.ensure_catalog()
    return dg.MaterializeResult(metadata=source_videos_metadata(rows, cfg))


@dg.asset(
    partitions_def=shard_partitions,
    group_name=PER_SHARD_GROUP,
    deps=[source_videos],
    kinds={"pyav", "scenedetect"},
    backfill_policy=SHARD_BACKFILL,
    op_tags=DECODE_TAGS,
    description="One decode pass per admitted video: cuts, frame samples, single-shot clips.",
)
def shot_clips(
    context: dg.AssetExecutionContext, curation: CurationResource
) -> dg.MaterializeResult:
    shard = check_shard_name(context.partition_key)
    layout, cfg, store = curation.layout, curation.config(), curation.store()
    videos = store.query(
        "SELECT * FROM videos WHERE shard = ? ORDER BY video_id", [shard]
    ).to_dicts()
    if not videos:
        raise dg.Failure(
            f"no source_videos rows for shard {shard!r}: materialize source_videos first"
        )
    rows = clip_steps.clip_shard(
        layout, shard, videos, cfg, _progress(context, "decoded"), curation.source()
    )
    store.replace(
        "shot_clips",
        shard,
        {
            "decode_passes": rows.decode_passes,
            "shots": rows.shots,
            "clips": rows.clips,
            "decisions": rows.decisions,
            "transitions": rows.transitions,
        },
    )
    store.ensure_catalog()
    sheet = layout.shard_warehouse(shard) / "contact_sheets" / "shot_clips.jpg"
    return dg.MaterializeResult(metadata=shot_clips_metadata(rows, layout, shard, sheet, videos))


def build_filter_asset(
    family: str, description: str, kinds: set[str], pool: str | None = None, op_tags=None
) -> dg.AssetsDefinition:
    """visual_filter and motion_filter differ only in their analyzers (``signals.registry``)."""

    @dg.asset(
        name=family,
        partitions_def=shard_partitions,
        group_name=PER_SHARD_GROUP,
        deps=[shot_clips],
        kinds=kinds,
        pool=pool,
        op_tags=op_tags,
        backfill_policy=SHARD_BACKFILL,
        description=description,
    )
    def _filter(
        context: dg.AssetExecutionContext, curation: CurationResource
    ) -> dg.MaterializeResult:
        shard = check_shard_name(context.partition_key)
        layout, cfg, store = curation.layout, curation.config(), curation.store()
        models = _require_models(cfg, family)
        inputs = filter_steps.filter_inputs(store, shard)
        keyframes = layout.shard_warehouse(shard) / "keyframes"
        rows = score_shard(
            family,
            shard,
            inputs.videos,
            inputs.clips,
            inputs.samples_paths,
            cfg,
            keyframe_dir=keyframes if family == "visual_filter" else None,
            progress=_progress(context, "scored"),
        )
        if family == "content_filter":  # hashes and embeddings for the global assets
            save_vectors(layout.shard_warehouse(shard) / "vectors", rows.vectors)
        store.replace(
            family,
            shard,
            {"scores": rows.scores, "clip_labels": rows.clip_labels, "decisions": rows.decisions},
        )
        store.ensure_catalog()
        return dg.MaterializeResult(
            metadata={
                **filter_metadata(family, rows, inputs, layout, shard, cfg.signal_modules),
                **_models_metadata(family, models),
            }
        )

    return _filter


visual_filter = build_filter_asset(
    "visual_filter",
    "Per clip, from the stored samples: resolution tier, orientation, borders, burned-in text "
    "(PP-OCR), sharpness, exposure, aesthetic or technical quality; the sharpest frame is kept.",
    {"opencv", "onnx"},
)
motion_filter = build_filter_asset(
    "motion_filter",
    "Per clip, optical flow on the stored grey samples: motion amount, camera shake, shots per "
    "second, slideshow score and a camera-motion class with confidence.",
    {"opencv"},
)
content_filter = build_filter_asset(
    "content_filter",
    "Per clip: perceptual hashes and embeddings (open_clip when configured, else thumbnail "
    "embeddings named as such), people and faces (OpenCV offline; CLIP zero-shot with weights), "
    "unsafe content (CLIP zero-shot; not scored offline). Vectors are kept per shard for the "
    "global near_duplicates and concepts assets.",
    {"opencv", "open_clip"},
    pool="gpu",  # open_clip embeddings and zero-shot share the accelerator with captioning
    op_tags=MODEL_TAGS,
)


@dg.asset(
    partitions_def=shard_partitions,
    group_name=PER_SHARD_GROUP,
    deps=[visual_filter, motion_filter, content_filter],
    kinds={"transformers"},
    pool="gpu",
    op_tags=MODEL_TAGS,
    backfill_policy=SHARD_BACKFILL,
    description="Detailed and structured captions for the clips that still pass every filter "
    "(a VLM when configured, else the offline signals captioner); resumable, QC'd.",
)
def captions(context: dg.AssetExecutionContext, curation: CurationResource) -> dg.MaterializeResult:
    shard = check_shard_name(context.partition_key)
    layout, cfg, store = curation.layout, curation.config(), curation.store()
    models = _require_models(cfg, "captions")
    rows = caption_shard(
        store,
        shard,
        layout.shard_warehouse(shard) / "captions",
        cfg,
        progress=_progress(context, "captioned"),
    )
    store.replace("captions", shard, {"captions": rows.captions, "decisions": rows.decisions})
    store.ensure_catalog()
    keyframes = layout.shard_warehouse(shard) / "keyframes"
    return dg.MaterializeResult(
        metadata={
            **captions_metadata(rows, keyframes),
            **_models_metadata("captions", models),
        }
    )
