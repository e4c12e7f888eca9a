"""The one resource every asset uses: where the data root is and what curation.yaml says."""

from pathlib import Path

import dagster as dg

from curation_assets.config import CurationConfig, Layout, curation_home, load_config
from curation_assets.lineage.store import LineageStore


def store_for(layout: Layout) -> LineageStore:
    return LineageStore(layout.lineage_parts, layout.lineage_db)


class CurationResource(dg.ConfigurableResource):
    """``home`` defaults to ``$CURATION_HOME`` (or ``./data``) at run time."""

    home: str | None = None

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.home) if self.home else curation_home())

    def config(self) -> CurationConfig:
        return load_config(self.layout.home)

    def store(self) -> LineageStore:
        return store_for(self.layout)
