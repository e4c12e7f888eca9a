"""Captions for clips: one interface, an offline captioner from stored signals, a transformers VLM
captioner, JSON repair, caption QC, camera-motion prefix and training-time variants.

Dagster-free; the ``captions`` asset wires it to storage. ``VlmCaptioner`` imports torch and
transformers only when it loads a model.
"""

from curation_assets.captioning.base import (
    FIELDS,
    IMAGE_FIELDS,
    Captioner,
    CaptionInput,
    CaptionResult,
    Parse,
)
from curation_assets.captioning.parsing import Parsed, parse_fields
from curation_assets.captioning.prefix import camera_phrase, camera_prefix, with_camera_prefix
from curation_assets.captioning.qc import (
    CaptionQC,
    CaptionQCConfig,
    CaptionQualityFilter,
    check_caption,
)
from curation_assets.captioning.signals_captioner import SignalsCaptioner, SignalThresholds
from curation_assets.captioning.variants import caption_variants
from curation_assets.captioning.vlm import VlmCaptioner

__all__ = [
    "FIELDS",
    "IMAGE_FIELDS",
    "CaptionInput",
    "CaptionQC",
    "CaptionQCConfig",
    "CaptionQualityFilter",
    "CaptionResult",
    "Captioner",
    "Parse",
    "Parsed",
    "SignalThresholds",
    "SignalsCaptioner",
    "VlmCaptioner",
    "camera_phrase",
    "camera_prefix",
    "caption_variants",
    "check_caption",
    "parse_fields",
    "with_camera_prefix",
]
