"""Where the commands find their data: the data root's layout, its shard source, its lineage
store and the Dagster home of in-process runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from curation_assets.config import Layout


def current_layout() -> Layout:
    return Layout()


def dagster_home(layout: Layout) -> Path:
    """``$DAGSTER_HOME`` if set, else a home under the data root seeded with ./dagster.yaml."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    home = layout.home / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    template = Path(__file__).resolve().parents[2] / "dagster.yaml"
    target = home / "dagster.yaml"
    if template.is_file() and not target.exists():
        shutil.copyfile(template, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def uploads_source(layout: Layout):
    """Where shards are (``storage.uploads``): the uploads folder or an s3:// prefix."""
    from curation_assets.config import load_config
    from curation_assets.storage import shard_source
    from curation_assets.storage.access import boto3_s3_client

    return shard_source(load_config(layout.home).storage, layout.home, boto3_s3_client)


def lineage_store(layout: Layout):
    from curation_assets.resources import store_for

    return store_for(layout)
