"""The ``has_human`` label of the content family's offline detector and of open_clip's
zero-shot score: one threshold, so both say "yes" at the same score; and the people signals both
offline detectors (``content/people.py``, ``content/human_detector.py``) emit, declared once."""

from __future__ import annotations

from curation_assets.signals.base import Label, Signal
from curation_assets.vocabulary import Content

HAS_HUMAN_AT = 0.5  # score (offline frame share or CLIP probability mass) that means "yes"

HUMAN_OFFLINE = Signal(
    "human_offline",
    "share of the sampled frames where the offline detector found a person",
    unit="share of samples",
    range=(0.0, 1.0),
)
FACE_AREA = Signal("face_area", "the largest face's box", unit="share of frame", range=(0.0, 1.0))
FACE_SCORE = Signal(
    "face_score",
    "strongest face detection over the frames (BlazeFace: a probability; cascades: hits)",
    range=(0.0, None),
)
PERSON_AREA = Signal(
    "person_area", "the largest person's box", unit="share of frame", range=(0.0, 1.0)
)


def has_human_label(score: float) -> Label:
    """The categorical has_human decision, with the score as its confidence."""
    return Label(Content.HAS_HUMAN.value, "yes" if score >= HAS_HUMAN_AT else "no", float(score))
