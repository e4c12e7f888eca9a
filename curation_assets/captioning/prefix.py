"""Camera-motion wording shared by every captioner.

Movie Gen and HunyuanVideo both put the camera motion, as predicted by a dedicated classifier, in
front of the caption. Here the classifier is the motion filter's ``camera_motion`` label: a prefix
is added only when its confidence reaches the threshold and the class says something definite
(never for ``complex``), because a wrong camera phrase teaches the model the wrong motion.

A still image has no camera motion: for ``media="image"`` every function here returns no phrase
and no prefix, whatever labels it is given.
"""

from __future__ import annotations

from collections.abc import Mapping

from curation_assets.vocabulary import CameraMotion, Media

DEFAULT_MIN_CONFIDENCE = 0.6

CAMERA_PHRASES: dict[str, str] = {
    CameraMotion.STATIC: "is static",
    CameraMotion.PAN_LEFT: "pans left",
    CameraMotion.PAN_RIGHT: "pans right",
    CameraMotion.TILT_UP: "tilts up",
    CameraMotion.TILT_DOWN: "tilts down",
    CameraMotion.ZOOM_IN: "zooms in",
    CameraMotion.ZOOM_OUT: "zooms out",
    CameraMotion.ROLL: "rolls",
    CameraMotion.HANDHELD: "is handheld",
    CameraMotion.PAN_LEFT_TILT_UP: "pans left and tilts up",
    CameraMotion.PAN_LEFT_TILT_DOWN: "pans left and tilts down",
    CameraMotion.PAN_RIGHT_TILT_UP: "pans right and tilts up",
    CameraMotion.PAN_RIGHT_TILT_DOWN: "pans right and tilts down",
    CameraMotion.DOLLY_IN: "dollies in",
    CameraMotion.DOLLY_OUT: "dollies out",
    CameraMotion.TRUCK_LEFT: "trucks left",
    CameraMotion.TRUCK_RIGHT: "trucks right",
    CameraMotion.PEDESTAL_UP: "rises (pedestal up)",
    CameraMotion.PEDESTAL_DOWN: "lowers (pedestal down)",
    CameraMotion.ARC_LEFT: "arcs left around the subject",
    CameraMotion.ARC_RIGHT: "arcs right around the subject",
    CameraMotion.FOLLOW: "follows the subject",
}
"""Verb phrase per camera-motion class (the classes: docs/camera_motion.md); ``complex`` has
none on purpose."""


def check_min_confidence(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"camera-motion min confidence must lie in [0, 1], got {value}")
    return value


def camera_phrase(
    labels: Mapping[str, str],
    confidence: Mapping[str, float],
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    media: str = Media.VIDEO,
) -> str | None:
    """``"pans right"`` for a confident, definite ``camera_motion`` label, else None.

    A label without a confidence counts as not confident; an image never has a phrase.
    """
    if media == Media.IMAGE:
        return None
    label = labels.get("camera_motion")
    conf = confidence.get("camera_motion")
    if label is None or conf is None or conf < min_confidence:
        return None
    return CAMERA_PHRASES.get(label)


def camera_prefix(
    labels: Mapping[str, str],
    confidence: Mapping[str, float],
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    media: str = Media.VIDEO,
) -> str:
    """``"Camera pans right. "`` or ``""`` (always for an image)."""
    phrase = camera_phrase(labels, confidence, min_confidence, media)
    return f"Camera {phrase}. " if phrase else ""


def with_camera_prefix(
    caption: str,
    labels: Mapping[str, str],
    confidence: Mapping[str, float],
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    media: str = Media.VIDEO,
) -> str:
    """``caption`` with the camera prefix in front; an empty caption stays empty (QC flags it),
    an image's caption stays as it is."""
    caption = caption.strip()
    prefix = camera_prefix(labels, confidence, min_confidence, media)
    if not caption or not prefix or caption.lower().startswith(prefix.strip().lower()):
        return caption
    return prefix + caption
