"""Which analyzers make up each filter family, built from curation.yaml."""

from __future__ import annotations

from curation_assets.config import CurationConfig
from curation_assets.models.runtime import activate
from curation_assets.signals.base import ClipAnalyzer
from curation_assets.signals.catalogue import FAMILIES, load


def build_analyzers(family: str, cfg: CurationConfig) -> list[ClipAnalyzer]:
    """The family's analyzers that this configuration asks for, in run order: every analyzer
    module of the family folder and of ``signal_modules`` is found (``signals/catalogue.py``),
    and each one's ``from_config`` says whether it runs (e.g. the aesthetic model or its offline
    stand-in, BlazePose or the OpenCV cascades)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown analyzer family {family!r}; known: {FAMILIES}")
    activate(cfg.models)  # hub weights load from this cache (curation_assets.models.runtime)
    analyzers = []
    for cls in load(cfg.signal_modules):
        if cls.family == family and (analyzer := cls.from_config(cfg)) is not None:
            analyzers.append(analyzer)
    return analyzers
