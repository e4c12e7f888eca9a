"""curation.yaml -> typed, validated settings (``CurationConfig``), and where the data root
is (``Layout``). The sections' models are in ``config/sections.py`` and ``config/subsets.py``.

Lookup order: ``$CURATION_CONFIG``, then ``$CURATION_HOME/curation.yaml``, then the packaged
defaults. A user file only needs the keys it changes.
"""

from __future__ import annotations

import os
from functools import cached_property
from importlib import resources
from pathlib import Path

from pydantic import Field, model_validator

from curation_assets.config.sections import (
    FILTER_NAMES,
    IMAGE_FILTER_STAGES,
    AdmissionConfig,
    CaptioningConfig,
    ClipsConfig,
    ConceptsConfig,
    ContentConfig,
    DedupConfig,
    FinetuneConfig,
    ModelsConfig,
    RunConfig,
    SamplesConfig,
    Section,
    ShotsConfig,
    StageFilters,
    StorageConfig,
    VisualConfig,
    check_filter_shapes,
)
from curation_assets.config.subsets import SubsetsConfig
from curation_assets.config.yaml_merge import merge_yaml, read_yaml

DEFAULTS = resources.files("curation_assets") / "defaults" / "curation.yaml"


class CurationConfig(Section):
    admission: AdmissionConfig = AdmissionConfig()
    shots: ShotsConfig = ShotsConfig()
    clips: ClipsConfig = ClipsConfig()
    samples: SamplesConfig = SamplesConfig()
    visual: VisualConfig = VisualConfig()
    content: ContentConfig = ContentConfig()
    dedup: DedupConfig = DedupConfig()
    concepts: ConceptsConfig = ConceptsConfig()
    captioning: CaptioningConfig = CaptioningConfig()
    filters: dict[str, StageFilters] = Field(default_factory=dict)
    # gates for still images, merged over `filters` (motion filters do not apply to an image)
    image_filters: dict[str, StageFilters] = Field(default_factory=dict)
    run: RunConfig = RunConfig()
    subsets: SubsetsConfig = SubsetsConfig()
    storage: StorageConfig = StorageConfig()
    finetune: FinetuneConfig = FinetuneConfig()
    models: ModelsConfig = ModelsConfig()
    # analyzer modules kept outside this package (importable names or .py paths); the family
    # folders under curation_assets/signals/ are always searched (docs/extending.md)
    signal_modules: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_filters(self) -> CurationConfig:
        """Stage names and the shape of each filter. Whether a filter named after a signal has
        an analyzer that declares it is checked with the analyzers in hand, when a run loads
        the configuration (``signals/catalogue.py``, ``check_config``)."""
        for stage, filters in self.filters.items():
            if stage not in FILTER_NAMES:
                raise ValueError(f"filters: unknown stage {stage!r}; known: {sorted(FILTER_NAMES)}")
            check_filter_shapes(f"filters.{stage}", filters, FILTER_NAMES[stage])
        for stage, filters in self.image_filters.items():
            if stage not in IMAGE_FILTER_STAGES:
                raise ValueError(
                    f"image_filters: {stage!r} does not apply to images; "
                    f"known: {sorted(IMAGE_FILTER_STAGES)}"
                )
            check_filter_shapes(f"image_filters.{stage}", filters, FILTER_NAMES[stage])
        return self

    def stage_filters(
        self, stage: str, media: str = "video"
    ) -> dict[str, dict[str, dict[str, float]]]:
        """Plain ``{filter: {signal: {min/max: value}}}`` for one stage (none if unset); for
        images, ``image_filters`` over ``filters`` (a signal named there replaces its gate)."""
        for section in (self.filters, self.image_filters):
            for name, bounds in section.get(stage, {}).items():
                if not bounds:
                    raise ValueError(
                        f"filter {name!r}: `{name}: {{}}` takes the gate its signal declares; "
                        "read the configuration through signals.catalogue.check_config"
                    )
        plain = {
            name: {sig: lim.model_dump(exclude_none=True) for sig, lim in signals.items()}
            for name, signals in self.filters.get(stage, {}).items()
        }
        if media == "image":
            for name, signals in self.image_filters.get(stage, {}).items():
                merged = plain.setdefault(name, {})
                for sig, lim in signals.items():
                    merged[sig] = lim.model_dump(exclude_none=True)
        return plain

    @classmethod
    def from_yaml(cls, path: Path | str) -> CurationConfig:
        """The packaged defaults with ``path`` merged over them, key by key (null removes)."""
        data = read_yaml(Path(str(DEFAULTS)))
        if Path(path) != Path(str(DEFAULTS)):
            data = merge_yaml(data, read_yaml(Path(path)))
        return cls.model_validate(data)


def curation_home() -> Path:
    return Path(os.environ.get("CURATION_HOME", "data")).resolve()


def config_path(home: Path | None = None) -> Path:
    explicit = os.environ.get("CURATION_CONFIG")
    if explicit:
        return Path(explicit)
    user = (home or curation_home()) / "curation.yaml"
    return user if user.exists() else Path(str(DEFAULTS))


def load_config(home: Path | None = None) -> CurationConfig:
    cfg = CurationConfig.from_yaml(config_path(home))
    # the model folders as absolute paths: worker processes get them with the settings
    models = cfg.models.resolved(home or curation_home())
    return cfg.model_copy(update={"models": models})


class Layout:
    """Where things live under the data root (docs/architecture.md "Data root")."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home).resolve() if home is not None else curation_home()

    uploads = cached_property(lambda self: self.home / "uploads")
    warehouse = cached_property(lambda self: self.home / "warehouse")
    exports = cached_property(lambda self: self.home / "exports")
    lineage_db = cached_property(lambda self: self.home / "lineage.duckdb")
    lineage_parts = cached_property(lambda self: self.warehouse / "lineage")

    def shard_uploads(self, shard: str) -> Path:
        return self.uploads / shard

    def shard_warehouse(self, shard: str) -> Path:
        return self.warehouse / "shards" / shard

    def samples_dir(self, shard: str) -> Path:
        return self.shard_warehouse(shard) / "samples"
