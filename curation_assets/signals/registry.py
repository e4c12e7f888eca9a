"""Which analyzers make up each filter family, built from curation.yaml."""

from __future__ import annotations

from curation_assets.config import CurationConfig
from curation_assets.signals.base import ClipAnalyzer

FAMILIES = ("visual_filter", "motion_filter")


def build_analyzers(family: str, cfg: CurationConfig) -> list[ClipAnalyzer]:
    if family == "visual_filter":
        from curation_assets.signals import visual

        analyzers: list[ClipAnalyzer] = [
            visual.GeometryAnalyzer(),
            visual.BorderAnalyzer(),
            visual.TextOverlayAnalyzer(
                frames=cfg.visual.ocr_frames, threads=cfg.visual.ocr_threads
            ),
            visual.QualityAnalyzer(),
        ]
        v = cfg.visual
        if v.aesthetic_clip_model and v.aesthetic_clip_pretrained and v.aesthetic_head_path:
            from curation_assets.signals.aesthetic import LaionAestheticAnalyzer

            analyzers.append(
                LaionAestheticAnalyzer(
                    model_name=v.aesthetic_clip_model,
                    pretrained=v.aesthetic_clip_pretrained,
                    head_path=v.aesthetic_head_path,
                    head_kind=v.aesthetic_head_kind,
                    device=v.device,
                )
            )
        else:
            analyzers.append(visual.TechnicalQualityAnalyzer())
        return analyzers
    if family == "motion_filter":
        from curation_assets.signals.motion import OpticalFlowAnalyzer

        return [OpticalFlowAnalyzer()]
    raise ValueError(f"unknown analyzer family {family!r}; known: {FAMILIES}")
