"""``shot_clips``: one decode pass per admitted video, cuts and transitions, stored samples and
single-shot clips (``steps/shots.py``), and its blocking check ``clips_integrity``: clips that
span a cut or come from an unadmitted video are never scored."""

import dagster as dg

from curation_assets.assets.check_results import blocking_shard_check, gx_metadata, md_rows
from curation_assets.assets.groups import PER_SHARD_GROUP
from curation_assets.assets.ingest import source_videos
from curation_assets.assets.metadata.ingest import shot_clips_metadata
from curation_assets.assets.per_shard import DECODE_TAGS, SHARD_BACKFILL, shard_progress
from curation_assets.partitions import shard_partitions
from curation_assets.quality import expectations as gxq
from curation_assets.quality import shard_suites
from curation_assets.resources import CurationResource
from curation_assets.steps import shots
from curation_assets.storage.shards import check_shard_name
from curation_assets.vocabulary import Media

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
    rows = shots.clip_shard(
        layout, shard, videos, cfg, shard_progress(context, "decoded"), curation.source()
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


@blocking_shard_check(
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
            "spanning_examples": dg.MetadataValue.md(md_rows(spanning, clip_cols)),
            "length_examples": dg.MetadataValue.md(
                md_rows(lengths, ["clip_id", "start_s", "end_s", "duration_s"])
            ),
            "decode_pass_examples": dg.MetadataValue.md(
                md_rows(bad_passes, ["video_id", "admitted", "decode_passes"])
            ),
            **gx_metadata(result),
        },
    )
