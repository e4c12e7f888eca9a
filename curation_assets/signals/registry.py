"""Which analyzers make up each filter family, built from curation.yaml."""

from __future__ import annotations

from curation_assets.config import CurationConfig
from curation_assets.models.runtime import activate
from curation_assets.signals.base import ClipAnalyzer

FAMILIES = ("visual_filter", "motion_filter", "content_filter")


def build_analyzers(family: str, cfg: CurationConfig) -> list[ClipAnalyzer]:
    activate(cfg.models)  # hub weights load from this cache (curation_assets.models.runtime)
    if family == "visual_filter":
        from curation_assets.signals.borders import BorderAnalyzer
        from curation_assets.signals.geometry import GeometryAnalyzer
        from curation_assets.signals.image_quality import QualityAnalyzer, TechnicalQualityAnalyzer
        from curation_assets.signals.text_overlay import TextOverlayAnalyzer
        from curation_assets.signals.watermark import WatermarkAnalyzer

        analyzers: list[ClipAnalyzer] = [
            GeometryAnalyzer(),
            BorderAnalyzer(),
            TextOverlayAnalyzer(frames=cfg.visual.ocr_frames, threads=cfg.visual.ocr_threads),
            QualityAnalyzer(),
            WatermarkAnalyzer(),
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
            analyzers.append(TechnicalQualityAnalyzer())
        return analyzers
    if family == "motion_filter":
        from curation_assets.signals.motion import OpticalFlowAnalyzer

        return [OpticalFlowAnalyzer()]
    if family == "content_filter":
        from curation_assets.signals.clip_embedding import ClipEmbeddingAnalyzer
        from curation_assets.signals.perceptual_hash import PerceptualHashAnalyzer
        from curation_assets.signals.thumbnail_embedding import ThumbnailEmbeddingAnalyzer

        c = cfg.content
        analyzers = [
            PerceptualHashAnalyzer(),
            ThumbnailEmbeddingAnalyzer(),
            _people_detector(c.human_backend, c.human_frames),
        ]
        if c.clip_model and c.clip_pretrained:
            prompts = {
                k: v
                for k, v in {
                    "human_prompts": c.human_prompts,
                    "nonhuman_prompts": c.nonhuman_prompts,
                    "unsafe_prompts": c.unsafe_prompts,
                    "safe_prompts": c.safe_prompts,
                }.items()
                if v
            }
            analyzers.append(
                ClipEmbeddingAnalyzer(
                    model_name=c.clip_model,
                    model_config=c.clip_model_config,
                    pretrained=c.clip_pretrained,
                    device=c.device,
                    batch_size=c.batch_size,
                    frames=c.frames,
                    **prompts,
                )
            )
        return analyzers
    raise ValueError(f"unknown analyzer family {family!r}; known: {FAMILIES}")


def _people_detector(backend: str, frames: int) -> ClipAnalyzer:
    """The offline has_human detector: MediaPipe's when its files are fetched (or asked for,
    which then fails loudly if they are not), else the OpenCV / scikit-image cascades."""
    from curation_assets.signals import people
    from curation_assets.signals.human_detector import HumanDetectorAnalyzer

    if backend == "mediapipe" or (backend == "auto" and people.detector_available()):
        return people.PeopleDetectorAnalyzer(frames=frames)
    return HumanDetectorAnalyzer(frames=frames, backend=backend)
