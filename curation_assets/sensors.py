"""New complete shards under uploads/ become partitions and runs."""

import json

import dagster as dg

from curation_assets.partitions import SHARD_PARTITIONS, shard_partitions
from curation_assets.resources import CurationResource
from curation_assets.review.store import compacted_parts, loose_parts


def build_uploads_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="uploads_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Adds a source_shard partition and requests a run for each new shard whose "
        "_READY marker exists (uploads folder or s3:// prefix, storage.uploads in curation.yaml); "
        "shards still being written are left for a later tick.",
    )
    def uploads_sensor(context: dg.SensorEvaluationContext, curation: CurationResource):
        # Known partitions come from one instance query; only unknown shards are checked for
        # their marker. On S3 the cursor's "listing" keeps the highest shard name seen (a tick
        # lists only names after it) and when the last full sweep was (storage.sensor_*).
        known = set(context.instance.get_dynamic_partitions(SHARD_PARTITIONS))
        cursor = json.loads(context.cursor) if context.cursor else {}
        new, listing = curation.source().ready_shards(known, cursor.get("listing"))
        cursor = {
            "known_shards": len(known) + len(new),
            "last_added": new[-20:] or cursor.get("last_added", []),
            "listing": listing,
        }
        if not new:
            return dg.SensorResult(skip_reason="no new complete shard", cursor=json.dumps(cursor))
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"shard:{s}", partition_key=s) for s in new],
            dynamic_partitions_requests=[shard_partitions.build_add_request(new)],
            cursor=json.dumps(cursor),
        )

    return uploads_sensor


def build_reviews_sensor(job) -> dg.SensorDefinition:
    @dg.sensor(
        name="reviews_sensor",
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Re-materializes finetune_set when reviews land from `curate review` (one "
        "Parquet part per review): the cursor is the number and newest mtime of review parts.",
    )
    def reviews_sensor(context: dg.SensorEvaluationContext, curation: CurationResource):
        folder = curation.layout.lineage_parts / "reviews"
        parts = loose_parts(folder) + compacted_parts(folder)
        newest = max((p.stat().st_mtime_ns for p in parts), default=0)
        state = f"{len(parts)}:{newest}"
        if not parts or state == context.cursor:
            return dg.SensorResult(skip_reason="no new review", cursor=context.cursor)
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"reviews:{state}")], cursor=state
        )

    return reviews_sensor
