"""The one resource every asset uses: where the data root is and what curation.yaml says."""

import functools
import os
from pathlib import Path

import dagster as dg

from curation_assets.config import CurationConfig, Layout, curation_home, load_config
from curation_assets.lineage.store import LineageStore
from curation_assets.signals.catalogue import check_config
from curation_assets.storage import ShardSource, shard_source
from curation_assets.storage.outputs import MirroredLineageStore, S3Mirror


def store_for(layout: Layout) -> LineageStore:
    return LineageStore(layout.lineage_parts, layout.lineage_db)


class CurationResource(dg.ConfigurableResource):
    """``home`` defaults to ``$CURATION_HOME`` (or ``./data``) at run time.

    The buckets that ``storage.uploads`` / ``storage.outputs`` in curation.yaml name are reached
    through dagster-aws's ``S3Resource`` with ``s3_endpoint_url`` / ``s3_region_name`` (e.g. a
    MinIO or test server); unset, boto3's own settings apply (``AWS_ENDPOINT_URL_S3``, profiles,
    task roles). Not a nested resource: plain fields keep this resource usable outside a context.
    """

    home: str | None = None
    s3_endpoint_url: str | None = None
    s3_region_name: str | None = None

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.home) if self.home else curation_home())

    def config(self) -> CurationConfig:
        """curation.yaml, its filters checked against the analyzers (``signals/catalogue.py``)."""
        return check_config(load_config(self.layout.home))

    def store(self) -> LineageStore:
        outputs = self.config().storage.outputs
        if outputs:
            layout = self.layout
            mirror = S3Mirror(self.s3_client(), outputs)
            return MirroredLineageStore(layout.lineage_parts, layout.lineage_db, mirror)
        return store_for(self.layout)

    def publish(self, local: Path, rel: str) -> str | None:
        """Copy an output folder to ``storage.outputs``/``rel`` (None: outputs stay local only)."""
        outputs = self.config().storage.outputs
        if not outputs:
            return None
        return S3Mirror(self.s3_client(), outputs).sync_dir(local, rel)

    def s3_client(self):
        return _s3_client(self.s3_endpoint_url, self.s3_region_name, os.getpid())

    def models(self) -> dict:
        """The models curation.yaml needs, per stage: hub id, revision, pinned commit, files,
        size, licence, cache path, present or not (``curate models list --json``; offline)."""
        from curation_assets.models import inventory, store_for

        cfg = self.config()
        return inventory(cfg, store_for(cfg))

    def source(self) -> ShardSource:
        """Where this data root's shards are: ``storage.uploads`` (local folder or s3://)."""
        return shard_source(self.config().storage, self.layout.home, self.s3_client)


@functools.lru_cache(maxsize=8)
def _s3_client(endpoint_url: str | None, region_name: str | None, pid: int):
    """One client per settings and process: creating one costs ~0.5 s, and a sensor ticks often."""
    from dagster_aws.s3 import S3Resource  # 2 s of imports: only where S3 is used

    return S3Resource(endpoint_url=endpoint_url, region_name=region_name).get_client()
