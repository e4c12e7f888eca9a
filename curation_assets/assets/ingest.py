"""``source_videos``: every file of a shard probed and admitted or rejected with a reason
(``steps/ingest.py``), and its blocking check ``videos_integrity`` (Great Expectations,
``quality/shard_suites.py``): bad admission rows are never decoded."""

import dagster as dg

from curation_assets.assets.check_results import (
    EXAMPLES,
    blocking_shard_check,
    gx_metadata,
    md_rows,
)
from curation_assets.assets.groups import PER_SHARD_GROUP
from curation_assets.assets.metadata.ingest import source_videos_metadata
from curation_assets.assets.per_shard import SHARD_BACKFILL, shard_progress
from curation_assets.partitions import shard_partitions
from curation_assets.quality import shard_suites
from curation_assets.resources import CurationResource
from curation_assets.steps import ingest
from curation_assets.storage.shards import check_shard_name
from curation_assets.vocabulary import Admission, VideoStatus


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
    rows = ingest.admit_shard(layout, shard, cfg, shard_progress(context, "probed"), source)
    store.replace("source_videos", shard, {"videos": rows})
    store.ensure_catalog()
    return dg.MaterializeResult(metadata=source_videos_metadata(rows, cfg))


@blocking_shard_check(
    asset=source_videos,
    name="videos_integrity",
    description=(
        "Great Expectations: one videos row per file of the shard, unique video ids, status "
        "admitted|rejected, admission reasons from the vocabulary, admitted durations within "
        "admission bounds."
    ),
)
def source_videos_integrity(
    context: dg.AssetCheckExecutionContext, curation: CurationResource
) -> dg.AssetCheckResult:
    shard = check_shard_name(context.partition_key)
    cfg, store = curation.config(), curation.store()
    files = [f.rel for f in curation.source().list_files(shard)]  # local folder or S3
    videos = store.query(
        "SELECT video_id, file_name, status, reason, duration_s, detail, "
        "coalesce(media, 'video') AS media FROM videos "
        "WHERE shard = ? ORDER BY file_name",
        [shard],
    ).to_pandas()
    result = shard_suites.validate_source_videos(
        videos,
        files,
        cfg.admission.min_duration_s,
        cfg.admission.max_duration_s,
        reasons=[r.value for r in Admission],
    )
    seen = set(videos["file_name"].dropna())
    missing = sorted(set(files) - seen)
    unexpected = sorted(seen - set(files))
    dupes = videos[videos["video_id"].duplicated(keep=False)]
    admitted = videos[videos["status"] == VideoStatus.ADMITTED.value]
    context.log.info(
        f"videos_integrity {shard}: {len(videos)} rows for {len(files)} files, "
        f"{len(result.failures)} failed expectation(s)"
    )
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "shard": dg.MetadataValue.text(shard),
            "files": dg.MetadataValue.int(len(files)),
            "rows": dg.MetadataValue.int(len(videos)),
            "admitted": dg.MetadataValue.int(len(admitted)),
            "rejected": dg.MetadataValue.int(len(videos) - len(admitted)),
            "files_without_row": dg.MetadataValue.md(
                "\n".join(f"- `{f}`" for f in missing[:EXAMPLES]) or "none"
            ),
            "rows_without_file": dg.MetadataValue.md(
                "\n".join(f"- `{f}`" for f in unexpected[:EXAMPLES]) or "none"
            ),
            "duplicate_video_ids": dg.MetadataValue.md(
                md_rows(dupes, ["video_id", "file_name", "status"])
            ),
            **gx_metadata(result),
        },
    )
