"""The ``has_human`` label of the content family's offline detector and of open_clip's
zero-shot score: one threshold, so both say "yes" at the same score."""

from __future__ import annotations

from curation_assets.signals.base import Label
from curation_assets.vocabulary import Content

HAS_HUMAN_AT = 0.5  # score (offline frame share or CLIP probability mass) that means "yes"


def has_human_label(score: float) -> Label:
    """The categorical has_human decision, with the score as its confidence."""
    return Label(Content.HAS_HUMAN.value, "yes" if score >= HAS_HUMAN_AT else "no", float(score))
