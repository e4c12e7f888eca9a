"""Great Expectations suites as Dagster asset checks, partitioned by shard like their assets.

Both checks are blocking: when one fails, nothing downstream of its asset runs for that shard in
the same run (bad admission rows must not be decoded, bad clips must not be scored). The suites
live in ``curation_assets.quality.shard_suites``; here they are fed the shard's lineage rows
(plus derived columns computed in DuckDB) and their results become check metadata.
"""

import warnings

import dagster as dg

from curation_assets.assets.per_shard import shot_clips, source_videos
from curation_assets.partitions import shard_partitions
from curation_assets.quality import expectations as gxq
from curation_assets.quality import shard_suites
from curation_assets.resources import CurationResource
from curation_assets.shards import check_shard_name
from curation_assets.vocabulary import Admission, Media, VideoStatus

EXAMPLES = 10  # failing rows listed in metadata
EPS = shard_suites.DURATION_TOLERANCE_S

# Clips of one shard with two derived flags. A clip spans a cut when it is not inside the shot it
# names (same video and shot_index), when that shot is missing, or when any other shot boundary of
# its video lies strictly inside it. Named parameters: $shard, $eps.
CLIPS_SQL = """
WITH admitted AS (
    SELECT DISTINCT video_id FROM videos WHERE shard = $shard AND status = 'admitted'
),
shard_shots AS (SELECT * FROM shots WHERE shard = $shard)
SELECT
    c.clip_id, c.video_id, c.shot_index, c.start_s, c.end_s, c.duration_s,
    coalesce(c.media, 'video') AS media, s.start_s AS shot_start_s, s.end_s AS shot_end_s,
    (
        s.video_id IS NULL
        OR c.start_s < s.start_s - $eps
        OR c.end_s > s.end_s + $eps
        OR EXISTS (
            SELECT 1 FROM shard_shots o
            WHERE o.video_id = c.video_id
              AND ((o.start_s > c.start_s + $eps AND o.start_s < c.end_s - $eps)
                OR (o.end_s > c.start_s + $eps AND o.end_s < c.end_s - $eps))
        )
    ) AS spans_cut,
    (a.video_id IS NOT NULL) AS video_admitted
FROM clips c
LEFT JOIN shard_shots s ON s.video_id = c.video_id AND s.shot_index = c.shot_index
LEFT JOIN admitted a ON a.video_id = c.video_id
WHERE c.shard = $shard
ORDER BY c.clip_id
"""

# Every admitted video of the shard and every video with a decode pass: is it admitted, and how
# many decode passes does it have?
DECODE_COVERAGE_SQL = """
WITH admitted AS (
    SELECT DISTINCT video_id FROM videos WHERE shard = $shard AND status = 'admitted'
),
passes AS (
    SELECT video_id, count(*) AS n FROM decode_passes WHERE shard = $shard GROUP BY video_id
)
SELECT
    coalesce(a.video_id, p.video_id) AS video_id,
    (a.video_id IS NOT NULL) AS admitted,
    coalesce(p.n, 0) AS decode_passes
FROM admitted a
FULL OUTER JOIN passes p ON p.video_id = a.video_id
ORDER BY video_id
"""


def _md_rows(df, columns: list[str], limit: int = EXAMPLES) -> str:
    """The first ``limit`` rows of a pandas frame as a Markdown table."""
    if df.empty:
        return "none"
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in df[columns].head(limit).itertuples(index=False):
        lines.append("| " + " | ".join("" if v is None else str(v) for v in row) + " |")
    if len(df) > limit:
        lines.append(f"\n... and {len(df) - limit} more")
    return "\n".join(lines)


def _gx_metadata(result: gxq.ValidationResult) -> dict:
    stats = result.statistics
    return {
        "expectations_evaluated": dg.MetadataValue.int(int(stats.get("evaluated_expectations", 0))),
        "expectations_failed": dg.MetadataValue.int(int(stats.get("unsuccessful_expectations", 0))),
        "failed_expectations": dg.MetadataValue.md(result.markdown()),
        "gx_failures": dg.MetadataValue.json(result.failures),
    }


def _blocking_shard_check(**kwargs):
    """``@asset_check`` partitioned by shard like the assets, blocking, failing with ERROR."""

    def wrap(fn):
        with warnings.catch_warnings():
            # partitions_def on an asset check is a preview feature in dagster 1.13
            warnings.simplefilter("ignore", category=dg.PreviewWarning)
            return dg.asset_check(partitions_def=shard_partitions, blocking=True, **kwargs)(fn)

    return wrap


@_blocking_shard_check(
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
                _md_rows(dupes, ["video_id", "file_name", "status"])
            ),
            **_gx_metadata(result),
        },
    )


@_blocking_shard_check(
    asset=shot_clips,
    name="clips_integrity",
    description=(
        "Great Expectations: unique clip ids, clip durations within clips.min_s..max_s, no "
        "clip spans a detected cut, clips only from admitted videos, exactly one decode pass "
        "per admitted video."
    ),
)
def shot_clips_integrity(
    context: dg.AssetCheckExecutionContext, curation: CurationResource
) -> dg.AssetCheckResult:
    shard = check_shard_name(context.partition_key)
    cfg, store = curation.config(), curation.store()
    params = {"shard": shard, "eps": EPS}
    with store.connect() as con:
        clips = con.sql(CLIPS_SQL, params=params).pl().to_pandas()
        coverage = con.sql(DECODE_COVERAGE_SQL, params={"shard": shard}).pl().to_pandas()
    result = gxq.combine(
        "shot_clips",
        [
            shard_suites.validate_shot_clips(clips, cfg.clips.min_s, cfg.clips.max_s, EPS),
            shard_suites.validate_decode_passes(coverage),
        ],
    )
    spanning = clips[clips["spans_cut"] != False]  # noqa: E712 (null counts as spanning)
    video_clips = clips[clips["media"] == Media.VIDEO.value]
    lengths = video_clips[
        (video_clips["duration_s"] < cfg.clips.min_s - EPS)
        | (video_clips["duration_s"] > cfg.clips.max_s + EPS)
    ]
    orphans = clips[clips["video_admitted"] != True]  # noqa: E712
    bad_passes = coverage[(coverage["decode_passes"] != 1) | ~coverage["admitted"]]
    context.log.info(
        f"clips_integrity {shard}: {len(clips)} clips, {len(coverage)} videos, "
        f"{len(result.failures)} failed expectation(s)"
    )
    clip_cols = ["clip_id", "shot_index", "start_s", "end_s", "shot_start_s", "shot_end_s"]
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "shard": dg.MetadataValue.text(shard),
            "clips": dg.MetadataValue.int(len(clips)),
            "admitted_videos": dg.MetadataValue.int(int(coverage["admitted"].sum())),
            "clips_spanning_cuts": dg.MetadataValue.int(len(spanning)),
            "clips_out_of_length": dg.MetadataValue.int(len(lengths)),
            "clips_of_unadmitted_videos": dg.MetadataValue.int(len(orphans)),
            "videos_without_one_decode_pass": dg.MetadataValue.int(len(bad_passes)),
            "spanning_examples": dg.MetadataValue.md(_md_rows(spanning, clip_cols)),
            "length_examples": dg.MetadataValue.md(
                _md_rows(lengths, ["clip_id", "start_s", "end_s", "duration_s"])
            ),
            "decode_pass_examples": dg.MetadataValue.md(
                _md_rows(bad_passes, ["video_id", "admitted", "decode_passes"])
            ),
            **_gx_metadata(result),
        },
    )


ASSET_CHECKS: list = [source_videos_integrity, shot_clips_integrity]
