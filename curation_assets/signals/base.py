"""One interface for every family of clip analyzers (visual, motion, content).

An analyzer reads only the samples of the single decode pass (``ClipSamples``), never the video,
and returns raw measurements. Thresholds are not its business: they live in curation.yaml and are
applied to the stored scores afterwards (score once, select many). Like PySceneDetect's
detectors, each analyzer declares the signals it produces, as ``Signal`` declarations: the one
place that decisions, asset checks, UI metadata, subsets, exports and captions read a signal's
meaning from (docs/extending.md, "Add a signal").

Defining a subclass registers it: the family folder it lives in (``signals/visual``,
``signals/motion``, ``signals/content``) or its ``family`` attribute says which filter asset runs
it, and ``from_config`` whether this run wants it (``signals/catalogue.py``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

if TYPE_CHECKING:
    from curation_assets.config import CurationConfig


@dataclass
class ClipSamples:
    """What an analyzer sees of one clip: its window of the stored samples, plus video facts."""

    clip_id: str
    video_id: str
    start_s: float
    end_s: float
    width: int  # display size of the source video (after rotation)
    height: int
    fps: float
    rgb_times: np.ndarray  # seconds, inside [start_s, end_s)
    rgb: list[np.ndarray]  # RGB uint8, display orientation, short side <= samples.rgb_short_side
    grey_times: np.ndarray
    grey: np.ndarray  # (n, h, w) uint8 shrunken luma, display orientation
    frame_times: np.ndarray  # every decoded frame inside the clip
    luma_delta: np.ndarray  # mean |change| of shrunken luma per frame, aligned with frame_times
    source_shots_per_s: float  # detected shots per second of the whole source video

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Signal:
    """Everything the pipeline knows about one measured number, said once, beside its analyzer."""

    name: str  # the ``scores.signal`` value
    description: str
    unit: str = ""  # e.g. "px", "share of frame", "frame widths / s"; "" = a plain number
    better: Literal["higher", "lower"] | None = None  # which way is better, if either
    range: tuple[float | None, float | None] = (None, None)  # possible values (asset checks)
    # the bounds a filter named after the signal gets from ``<filter>: {}`` in curation.yaml
    gate: tuple[float | None, float | None] | None = None
    plot_in_subsets: bool = False  # subsets' UI metadata plots it, selected vs not
    export: int | None = None  # position of its ``score_<name>`` column in exports; None: not
    # the offline captioner's sentence for a value (None: says nothing); built-in signals are
    # worded by the captioner itself, which combines several of them
    caption: Callable[[float], str | None] | None = None

    def __post_init__(self) -> None:
        lo, hi = self.range
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"signal {self.name!r}: range {self.range} is empty")
        if self.gate is not None and self.gate == (None, None):
            raise ValueError(f"signal {self.name!r}: a gate needs a min or a max")

    @property
    def label(self) -> str:
        """Axis text: the name and its unit."""
        return f"{self.name} ({self.unit})" if self.unit else self.name


# every concrete analyzer class, in definition order (``signals/catalogue.py`` reads it)
REGISTERED: list[type[ClipAnalyzer]] = []


@dataclass(frozen=True)
class Label:
    kind: str  # e.g. "camera_motion", "orientation", "resolution_tier"
    label: str
    confidence: float | None = None


@dataclass
class Measurement:
    scores: dict[str, float]
    labels: list[Label] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)  # e.g. "keyframe": (t, rgb image)


class ClipAnalyzer(ABC):
    """Subclasses set ``name`` (stored as ``scorer``), ``version`` and ``declares``, the signals
    they may emit; ``signals`` (the names) and ``ranges`` are derived from it. An instance may
    narrow ``signals`` to what its backend emits."""

    name: ClassVar[str]
    version: ClassVar[str]
    declares: ClassVar[tuple[Signal, ...]] = ()
    signals: ClassVar[tuple[str, ...]] = ()
    ranges: ClassVar[dict[str, tuple[float | None, float | None]]] = {}
    # "visual_filter" | "motion_filter" | "content_filter"; None: from the family folder
    family: ClassVar[str | None] = None
    order: ClassVar[int] = 100  # place in its family's run (built-ins 10-60, then by name)
    uses_rgb: ClassVar[bool] = True  # False: only grey samples, the RGB JPEGs are not decoded
    # False: it measures change over time (motion, a mark fixed while the picture moves), so
    # one still image cannot show it: the runner does not run it on an image
    still_images: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "declares" in cls.__dict__:
            cls.signals = tuple(s.name for s in cls.declares)
            cls.ranges = {s.name: s.range for s in cls.declares}
        if cls.family is None:
            folder = cls.__module__.rsplit(".", 2)
            if len(folder) == 3 and folder[0] == "curation_assets.signals":
                cls.family = f"{folder[1]}_filter"
        if "analyze" in cls.__dict__ and not getattr(cls.analyze, "__isabstractmethod__", False):
            REGISTERED.append(cls)

    @classmethod
    def from_config(cls, cfg: CurationConfig) -> ClipAnalyzer | None:
        """The instance this run's settings ask for, or None when they leave it out (e.g. a
        model with no weights configured, where an offline stand-in runs instead)."""
        return cls()

    @abstractmethod
    def analyze(self, clip: ClipSamples) -> Measurement:
        """Raw measurements for one clip. Raise only for a bug; a bad clip is a measurement."""

    def analyze_many(self, clips: Sequence[ClipSamples]) -> list[Measurement]:
        """One measurement per clip, in order. A model on a GPU overrides this to run the
        clips of a video through one batched forward pass; if it raises, the runner measures
        the clips one at a time so only the clip at fault gets an error."""
        return [self.analyze(clip) for clip in clips]
