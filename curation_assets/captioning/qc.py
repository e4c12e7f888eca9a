"""Caption quality control, datatrove style: ``check`` returns ``(True, None)`` or
``(False, reason)`` with a reason from ``CaptionQC``, and the filter counts what it saw.

The text checked is the description itself, without the camera prefix: ``dense_description``
when there is one, else the caption (the offline captioner has no dense description). Checks run
in this order and the first failure is the reason (no check needs ``camera_motion``, so an
image's caption, parsed for ``IMAGE_FIELDS``, is checked the same way):

1. ``caption_empty``: no text at all (also what a crashed clip gets);
2. ``caption_invalid_json``: the answer had no usable JSON (``parse`` fallback), when required;
3. ``caption_banned_opening``: starts with a configured phrase ("The image shows" ...);
4. ``caption_too_short`` / ``caption_too_long``: word count outside the bounds (captioners in
   ``exempt_from_min_words``, e.g. the offline ``signals`` one, skip the minimum);
5. ``caption_repetition``: a degenerate loop: some n-gram repeated more than
   ``max_ngram_repeats`` times, or more than ``max_repeated_fraction`` of the tokens inside
   n-grams that occur more than once.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from curation_assets.captioning.base import CaptionResult, Parse
from curation_assets.vocabulary import CaptionQC  # noqa: F401 - re-exported for callers

_WORD = re.compile(r"\w+(?:['’]\w+)*")


DEFAULT_BANNED_OPENINGS = (
    "The image shows",
    "The image depicts",
    "This image",
    "In this image",
    "In this video",
    "The video shows",
    "This video",
)


@dataclass(frozen=True)
class CaptionQCConfig:
    min_words: int = 20
    max_words: int = 300
    exempt_from_min_words: tuple[str, ...] = ("signals",)  # captioner names
    require_json: bool = True
    ngram: int = 3
    max_ngram_repeats: int = 3
    max_repeated_fraction: float = 0.4
    repeated_fraction_min_tokens: int = 12  # too few tokens say nothing about loops
    banned_openings: tuple[str, ...] = DEFAULT_BANNED_OPENINGS

    def __post_init__(self) -> None:
        if not 0 <= self.min_words <= self.max_words:
            raise ValueError(
                f"need 0 <= min_words <= max_words, got {self.min_words}, {self.max_words}"
            )
        if self.ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {self.ngram}")
        if self.max_ngram_repeats < 1:
            raise ValueError(f"max_ngram_repeats must be >= 1, got {self.max_ngram_repeats}")
        if not 0 < self.max_repeated_fraction <= 1:
            raise ValueError(
                f"max_repeated_fraction must lie in (0, 1], got {self.max_repeated_fraction}"
            )


def description_text(result: CaptionResult) -> str:
    """What QC reads: the dense description, else the caption."""
    return (result.fields.get("dense_description") or result.caption or "").strip()


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def repetition(tokens: list[str], n: int) -> tuple[int, float]:
    """(most repeats of one n-gram, fraction of tokens inside n-grams seen more than once)."""
    if len(tokens) < n:
        return 0, 0.0
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    counts = Counter(grams)
    covered = [False] * len(tokens)
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            covered[i : i + n] = [True] * n
    return max(counts.values()), sum(covered) / len(tokens)


@dataclass
class CaptionQualityFilter:
    config: CaptionQCConfig = field(default_factory=CaptionQCConfig)
    total: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> count

    def check(self, result: CaptionResult) -> tuple[bool, CaptionQC | None]:
        """``(True, None)`` or ``(False, reason)``, counted."""
        reason = self._reason(result)
        self.total += 1
        if reason is None:
            self.kept += 1
            return True, None
        self.dropped[reason] += 1
        return False, reason

    def _reason(self, result: CaptionResult) -> CaptionQC | None:
        cfg = self.config
        text = description_text(result)
        tokens = words(text)
        if not tokens:
            return CaptionQC.EMPTY
        if cfg.require_json and result.parse == Parse.FALLBACK:
            return CaptionQC.INVALID_JSON
        lowered = text.lower()
        if any(lowered.startswith(b.lower()) for b in cfg.banned_openings):
            return CaptionQC.BANNED_OPENING
        if len(tokens) < cfg.min_words and result.captioner not in cfg.exempt_from_min_words:
            return CaptionQC.TOO_SHORT
        if len(tokens) > cfg.max_words:
            return CaptionQC.TOO_LONG
        most, fraction = repetition(tokens, cfg.ngram)
        if most > cfg.max_ngram_repeats or (
            len(tokens) >= cfg.repeated_fraction_min_tokens and fraction > cfg.max_repeated_fraction
        ):
            return CaptionQC.REPETITION
        return None


def check_caption(
    result: CaptionResult, config: CaptionQCConfig | None = None
) -> tuple[bool, CaptionQC | None]:
    """One-off check without counters."""
    return CaptionQualityFilter(config or CaptionQCConfig()).check(result)
