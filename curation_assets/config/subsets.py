"""The ``subsets:`` section of curation.yaml: subset stages, their composition targets and
exports, and the packaged presets they start from (docs/extending.md "A subset stage or
preset")."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from curation_assets.config.sections import (
    FILTER_NAMES,
    Section,
    StageFilters,
    check_filter_shapes,
)
from curation_assets.config.yaml_merge import merge_yaml, read_yaml

PRESETS = resources.files("curation_assets") / "defaults" / "presets.yaml"


class ShareTarget(Section):
    """A composition target for one label: an exact ``share`` (within the stage's tolerance), or
    ``min`` / ``max`` shares. Shares are fractions of the subset's clips."""

    share: float | None = Field(None, ge=0, le=1)
    min: float | None = Field(None, ge=0, le=1)
    max: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _some(self) -> ShareTarget:
        if self.share is None and self.min is None and self.max is None:
            raise ValueError("a composition target needs share, min or max")
        if self.share is not None and (self.min is not None or self.max is not None):
            raise ValueError("a composition target takes share, or min/max, not both")
        return self


class StageExportConfig(Section):
    short_side: int | None = Field(None, ge=16)  # output short side; None keeps the source's
    fps: float | None = Field(None, gt=0)  # output frame rate; None keeps the source's
    clips_per_tar: int = Field(64, ge=1)
    crf: int = Field(18, ge=0, le=51)


class StageConfig(Section):
    """A subset: a selection over stored scores (docs/architecture.md "Score once, select many")."""

    description: str = ""
    # the clips a stage selects: video clips, or still images (one clip each, no time span);
    # a child stage has its parent's media
    media: Literal["video", "image"] = "video"
    parent: str | None = None  # select from this stage's members (progressively stricter)
    # filter -> signal -> limits, over the per-shard `filters:` gates (a signal named here
    # replaces that gate's limits for this stage; the other gates still apply).
    thresholds: StageFilters = Field(default_factory=dict)
    allow_labels: dict[str, list[str]] = Field(default_factory=dict)  # kind -> allowed labels
    drop_duplicates: bool = True  # keep only each near-duplicate group's representative
    require_caption: bool = True  # every member has a caption that passed QC
    # Filters whose signals may be unmeasured (e.g. unsafe in the offline profile): such clips
    # are kept and recorded as not scored. Any other filter drops a clip it could not measure.
    allow_unscored: list[str] = Field(default_factory=lambda: ["unsafe"])
    rank_by: list[str] = Field(default_factory=list)  # quality signals, first measured decides
    keep_fraction: float | None = Field(None, gt=0, le=1)  # keep this top share by rank_by
    composition: dict[str, dict[str, ShareTarget]] = Field(default_factory=dict)
    tolerance: float = Field(0.01, ge=0, le=0.5)  # slack around exact shares
    concept_balance: bool = True  # sample by concept weight (1/sqrt(cluster size))
    max_clips: int | None = Field(None, ge=1)
    max_hours: float | None = Field(None, gt=0)
    seed: int = 0
    duration_buckets: list[float] = Field(default_factory=lambda: [4, 6, 8, 11, 14, 16])
    aspect_buckets: dict[str, float] = Field(
        default_factory=lambda: {
            "16:9": 16 / 9,
            "4:3": 4 / 3,
            "1:1": 1.0,
            "3:4": 3 / 4,
            "9:16": 9 / 16,
        }
    )
    export: StageExportConfig = StageExportConfig()

    @model_validator(mode="after")
    def _valid(self) -> StageConfig:
        check_filter_shapes("thresholds", self.thresholds, set().union(*FILTER_NAMES.values()))
        if self.keep_fraction is not None and not self.rank_by:
            raise ValueError("keep_fraction needs rank_by (the signals to rank by)")
        if self.media == "image":
            motion = sorted(set(self.thresholds) & FILTER_NAMES["motion_filter"])
            if motion:
                raise ValueError(
                    f"motion filter(s) {motion} in thresholds of an image stage: "
                    "a still image has no motion"
                )
            if self.max_hours is not None:
                raise ValueError("max_hours does not apply to an image stage: use max_clips")
        edges = self.duration_buckets
        if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise ValueError("duration_buckets must be at least two increasing edges")
        for kind, targets in self.composition.items():
            exact = sum(t.share for t in targets.values() if t.share is not None)
            floor = sum(t.min for t in targets.values() if t.min is not None)
            if exact + floor > 1 + 1e-9:
                raise ValueError(f"composition.{kind}: shares add up to more than 1")
        return self


_STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class SubsetsConfig(Section):
    presets: list[Literal["movie_gen", "hunyuan"]] = Field(default_factory=list)
    stages: dict[str, StageConfig] = Field(default_factory=dict)  # yours, merged over presets

    def resolved(self) -> dict[str, StageConfig]:
        """Presets expanded, then the user's stages merged over them (same name = override)."""
        presets = read_yaml(Path(str(PRESETS)))
        merged: dict[str, dict] = {}
        for preset in self.presets:
            for name, stage in presets[preset].items():
                merged[name] = stage
        for name, stage in self.stages.items():
            given = stage.model_dump(exclude_unset=True)
            merged[name] = merge_yaml(merged.get(name, {}), given) if name in merged else given
        stages = {name: StageConfig.model_validate(spec) for name, spec in merged.items()}
        for name, stage in stages.items():
            if not _STAGE_NAME.match(name):
                raise ValueError(f"subsets: stage name {name!r} must match {_STAGE_NAME.pattern}")
            if stage.parent is not None and stage.parent not in stages:
                raise ValueError(f"subsets.{name}: parent {stage.parent!r} is not a stage")
            if stage.parent is not None and stages[stage.parent].media != stage.media:
                raise ValueError(
                    f"subsets.{name}: media {stage.media!r} differs from its parent "
                    f"{stage.parent!r} ({stages[stage.parent].media!r})"
                )
        for name in stages:  # no cycles
            seen, cur = {name}, stages[name].parent
            while cur is not None:
                if cur in seen:
                    raise ValueError(f"subsets: parent cycle through {name!r}")
                seen.add(cur)
                cur = stages[cur].parent
        return stages
