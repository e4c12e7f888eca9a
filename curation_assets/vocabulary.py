"""The names users and scripts rely on (docs/lineage.md "Vocabulary"), kept in one place.

Reasons are ``StrEnum`` members so they compare equal to the plain strings stored in lineage.
"""

from __future__ import annotations

from enum import StrEnum


class Media(StrEnum):
    """What a source file is (``videos.media``, ``clips.media``)."""

    VIDEO = "video"
    IMAGE = "image"


class VideoStatus(StrEnum):
    ADMITTED = "admitted"
    REJECTED = "rejected"


class Admission(StrEnum):
    """Why a file was refused before any decoding."""

    UNREADABLE = "unreadable"
    NO_VIDEO_STREAM = "no_video_stream"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOO_SMALL = "too_small"
    # An image whose header declares more pixels than admission.image_max_pixels (a
    # decompression bomb, or far beyond training size): refused before decoding.
    TOO_LARGE = "too_large"
    # A link leading out of its shard folder: refused unopened, whatever it points at.
    OUTSIDE_SHARD = "outside_shard"


class Clipping(StrEnum):
    """Why a stretch of an admitted video did not become a clip (table ``shots``)."""

    SHOT_TOO_SHORT = "shot_too_short"
    WINDOW_NOT_KEPT = "window_not_kept"  # long shot: window beyond max_clips_per_shot
    DECODE_FAILED = "decode_failed"
    TRANSITION = "transition"  # a gradual transition's frames (dissolve, fade, wipe): no clip


class Visual(StrEnum):
    RESOLUTION = "resolution"
    ASPECT_RATIO = "aspect_ratio"
    BORDERS = "borders"
    TEXT_OVERLAY = "text_overlay"
    WATERMARK = "watermark"  # a logo / watermark fixed in the frame (signals/visual/watermark.py)
    SHARPNESS = "sharpness"
    EXPOSURE = "exposure"
    AESTHETIC = "aesthetic"


class Motion(StrEnum):
    STATIC = "static"
    MOTION_LOW = "motion_low"
    MOTION_HIGH = "motion_high"
    JITTER = "jitter"
    SLIDESHOW = "slideshow"


class CameraMotion(StrEnum):
    STATIC = "static"
    PAN_LEFT = "pan_left"
    PAN_RIGHT = "pan_right"
    TILT_UP = "tilt_up"
    TILT_DOWN = "tilt_down"
    ZOOM_IN = "zoom_in"
    ZOOM_OUT = "zoom_out"
    ROLL = "roll"
    HANDHELD = "handheld"
    COMPLEX = "complex"
    # added with the background camera fit (docs/camera_motion.md defines each)
    PAN_LEFT_TILT_UP = "pan_left_tilt_up"
    PAN_LEFT_TILT_DOWN = "pan_left_tilt_down"
    PAN_RIGHT_TILT_UP = "pan_right_tilt_up"
    PAN_RIGHT_TILT_DOWN = "pan_right_tilt_down"
    DOLLY_IN = "dolly_in"
    DOLLY_OUT = "dolly_out"
    TRUCK_LEFT = "truck_left"
    TRUCK_RIGHT = "truck_right"
    PEDESTAL_UP = "pedestal_up"
    PEDESTAL_DOWN = "pedestal_down"
    ARC_LEFT = "arc_left"
    ARC_RIGHT = "arc_right"
    FOLLOW = "follow"


class Content(StrEnum):
    NEAR_DUPLICATE = "near_duplicate"
    FRAME_OF = "frame_of"  # a still image that is (nearly) a frame of a video clip
    UNSAFE = "unsafe"
    HAS_HUMAN = "has_human"
    CONCEPT_WEIGHT = "concept_weight"


class CaptionQC(StrEnum):
    """Why a caption was flagged by QC (``decisions``, stage ``captions``)."""

    EMPTY = "caption_empty"
    INVALID_JSON = "caption_invalid_json"
    BANNED_OPENING = "caption_banned_opening"
    TOO_SHORT = "caption_too_short"
    TOO_LONG = "caption_too_long"
    REPETITION = "caption_repetition"


class ExportFailure(StrEnum):
    """Why a selected clip is missing from an export's shards (manifest ``reason``)."""

    SOURCE_MISSING = "source_missing"
    UNREADABLE = "unreadable"
    DECODE_FAILED = "decode_failed"
    CUT_EMPTY = "cut_empty"
    CUT_SHORT = "cut_short"  # the source ends before the clip does
    ENCODE_FAILED = "encode_failed"


class Selection(StrEnum):
    """Subset-stage filters beyond the per-shard ones (``decisions``, stage = the subset)."""

    PARENT_STAGE = "parent_stage"  # a child stage selects only from its parent's members
    CAPTION = "caption"  # no caption, or its QC failed
    QUALITY_RANK = "quality_rank"  # outside the stage's keep_fraction by rank_by
    COMPOSITION = "composition"  # not sampled: its label cell was over the composition target
    CAP = "cap"  # not sampled: the stage's max_clips / max_hours was reached


class Stage(StrEnum):
    """Pipeline steps that write decisions."""

    SOURCE_VIDEOS = "source_videos"
    SHOT_CLIPS = "shot_clips"
    VISUAL_FILTER = "visual_filter"
    MOTION_FILTER = "motion_filter"
    CONTENT_FILTER = "content_filter"
    NEAR_DUPLICATES = "near_duplicates"


SHOT_CLIPS_FILTER = "single_shot_window"
"""Filter name of the decision every clip gets when shot_clips cuts it out of a single shot."""

ANALYSIS_ERROR = "analysis_error"
"""Reason recorded in ``decisions`` when an analyzer fails on a clip (the shard goes on)."""

NOT_APPLICABLE_TO_IMAGES = "not_applicable: a still image has no motion"
"""Reason of a motion-filter decision on an image clip (``passed`` null: never a pass)."""
