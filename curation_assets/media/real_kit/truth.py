"""The kit's frame format and the truth recorded for each case."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

WIDTH, HEIGHT, FPS = 480, 270, 25
GROUPS = ("cuts", "transitions", "watermark", "people", "camera", "shake", "slideshow")
TRANSITION_KINDS = ("dissolve", "fade_black", "fade_white", "wipe")


@dataclass(frozen=True)
class Transition:
    """A gradual transition: frames ``start`` .. ``end - 1`` mix the two shots (or show the
    colour a fade goes through); ``end`` is the first frame of the next shot alone."""

    start: int
    end: int
    kind: str  # one of TRANSITION_KINDS


@dataclass(frozen=True)
class Watermark:
    box: tuple[int, int, int, int]  # x, y, width, height in frame pixels (drawn pixels' bounds)
    kind: str  # "emblem" (a graphic, no text) or "text"
    alpha: float  # 1.0 = opaque
    placement: str  # "corner" or "centre"


@dataclass(frozen=True)
class Truth:
    """What is exactly known about one case. ``None``: not labelled (not known exactly)."""

    case_id: str
    groups: tuple[str, ...]  # which judgments the case was made for (it may count for others)
    description: str
    sources: tuple[str, ...]
    frames: int
    width: int
    height: int
    fps: int
    cuts: tuple[int, ...] = ()  # hard cuts: the first frame of each new shot
    transitions: tuple[Transition, ...] = ()
    watermarks: tuple[Watermark, ...] = ()
    letterbox: bool = False  # black bars drawn (borders, not a watermark)
    has_human: bool | None = None
    camera: str | None = None  # a vocabulary.CameraMotion value
    subject_motion: bool | None = None  # something moves on its own (not the camera)
    shake: bool | None = None
    slideshow: bool | None = None
    notes: str = ""

    @property
    def has_watermark(self) -> bool:
        return bool(self.watermarks)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Truth:
        data = json.loads(text)
        data["groups"] = tuple(data["groups"])
        data["sources"] = tuple(data["sources"])
        data["cuts"] = tuple(data["cuts"])
        data["transitions"] = tuple(Transition(**t) for t in data["transitions"])
        data["watermarks"] = tuple(
            Watermark(**{**w, "box": tuple(w["box"])}) for w in data["watermarks"]
        )
        return cls(**data)


@dataclass(frozen=True)
class KitCase:
    path: Path
    truth: Truth
