"""One interface for every captioner: clips with their stored signals in, captions out.

A captioner sees the samples of the single decode pass (``ClipSamples``) plus the scores and labels
earlier filters stored, and returns one ``CaptionResult`` per clip, in order. The structured fields
follow HunyuanVideo (short and dense description, background, style, shot type, lighting,
atmosphere) plus camera motion, which the pipeline's own classifier can supply.

A still image (``clips.media = 'image'``, one clip with no time span) is captioned from its one
sample with ``IMAGE_FIELDS``: the same fields without the motion ones. Its ``camera_motion`` field
stays ``""`` (every result keeps every name in ``FIELDS``) and no camera prefix is ever added.

``Captioner.caption_all`` owns the loop: batching, and isolating a failure to the clip that caused
it, so one bad clip is recorded and the shard goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar

from curation_assets.models.accelerate import Batcher
from curation_assets.signals.base import ClipSamples
from curation_assets.vocabulary import Media

FIELDS: tuple[str, ...] = (
    "short_description",
    "dense_description",
    "background",
    "style",
    "shot_type",
    "lighting",
    "atmosphere",
    "camera_motion",
)
"""Structured caption fields, in the order prompts ask for them and exports render them."""

MOTION_FIELDS: tuple[str, ...] = ("camera_motion", "motion_speed")
"""Fields (structured or captioner extras) that only a video can have."""

IMAGE_FIELDS: tuple[str, ...] = tuple(f for f in FIELDS if f not in MOTION_FIELDS)
"""What is asked of, and parsed for, a still image: ``FIELDS`` without camera motion."""


class Parse(StrEnum):
    """How a caption's fields were obtained from the captioner's raw output."""

    OK = "ok"  # well-formed JSON (or built directly, as the offline captioner does)
    REPAIRED = "repaired"  # JSON with faults we fixed: trailing commas, quotes, truncation ...
    FALLBACK = "fallback"  # no usable JSON: raw text kept as dense_description, if any


@dataclass(frozen=True)
class CaptionInput:
    clip_id: str
    samples: ClipSamples
    signals: Mapping[str, float] = field(default_factory=dict)  # stored scores, by signal name
    labels: Mapping[str, str] = field(default_factory=dict)  # label kind -> label
    label_confidence: Mapping[str, float] = field(default_factory=dict)  # label kind -> conf.
    media: str = Media.VIDEO  # clips.media: "video" or "image" (a still image, one sample)

    @property
    def is_image(self) -> bool:
        return self.media == Media.IMAGE


@dataclass
class CaptionResult:
    clip_id: str
    caption: str  # the training caption: camera prefix (when confident) + description
    fields: dict[str, str]  # every name in FIELDS ("" when unknown), plus captioner extras
    raw: str  # what the captioner produced before parsing
    parse: Parse
    captioner: str
    model: str
    generated_tokens: int = 0
    error: str | None = None  # "ExceptionType: message" when captioning this clip failed

    @property
    def words(self) -> int:
        return len(self.caption.split())


def empty_fields() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


class Captioner(ABC):
    """Subclasses set ``name`` (stored as ``captioner``) and ``model`` (checkpoint or version)."""

    name: ClassVar[str]
    model: str
    batch_size: int = 8

    @abstractmethod
    def caption_batch(self, items: Sequence[CaptionInput]) -> list[CaptionResult]:
        """One result per item, same order. May raise; ``caption_all`` isolates the failure."""

    def caption_all(self, items: Sequence[CaptionInput]) -> list[CaptionResult]:
        """Caption every item in batches of ``batch_size``; never raises for a bad clip.

        A batch that raises is retried one clip at a time, so only the clip that fails gets an
        error result (empty caption, ``parse`` fallback, ``error`` set); an ``auto`` batch that
        runs out of GPU memory is split and retried first.
        """
        batcher = self.batcher()

        def isolated(batch: Sequence[CaptionInput]) -> list[CaptionResult]:
            try:
                return self._checked(batch)
            except Exception as exc:  # isolated below, clip by clip
                if batcher.will_retry(exc, len(batch)):
                    raise  # out of GPU memory: the batcher splits the batch
                if len(batch) == 1:
                    return [self._error_result(batch[0], exc)]
                return self._one_by_one(batch)

        return batcher.run(items, isolated)

    def batcher(self) -> Batcher:
        """How batches are sized: ``batch_size`` as set (GPU captioners may size them from
        free memory)."""
        return Batcher(max(1, self.batch_size))

    def _one_by_one(self, batch: Sequence[CaptionInput]) -> list[CaptionResult]:
        results: list[CaptionResult] = []
        for item in batch:
            try:
                results.extend(self._checked([item]))
            except Exception as exc:  # recorded in the clip's result
                results.append(self._error_result(item, exc))
        return results

    def _checked(self, batch: Sequence[CaptionInput]) -> list[CaptionResult]:
        out = self.caption_batch(batch)
        if [r.clip_id for r in out] != [i.clip_id for i in batch]:
            raise RuntimeError(f"{type(self).__name__} returned results out of order or missing")
        return out

    def _error_result(self, item: CaptionInput, exc: BaseException) -> CaptionResult:
        return CaptionResult(
            clip_id=item.clip_id,
            caption="",
            fields=empty_fields(),
            raw="",
            parse=Parse.FALLBACK,
            captioner=self.name,
            model=self.model,
            error=f"{type(exc).__name__}: {exc}",
        )
