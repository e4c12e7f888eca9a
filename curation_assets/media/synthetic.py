"""Deterministic synthetic media with known truth, for tests, the demo and benchmarks.

Every shot is a crop window moving over its own random texture; by default consecutive shots use
far-apart hues and brightness, so a hard cut is unambiguous while motion inside a shot stays smooth.
A shot may pin its ``hue`` and ``value`` (brightness) to look like its neighbour: the cut is still a
real hard cut (a different texture), only harder to see for a colour-based detector.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from curation_assets.media.encoding import reproducible_options

MOTIONS = (
    "static",
    "drift",
    "pan_right",
    "pan_left",
    "tilt_up",
    "tilt_down",
    "zoom_in",
    "zoom_out",
    "roll",
    "shake",
    "slideshow",
)


@dataclass(frozen=True)
class Shot:
    """One shot: a virtual camera moving over a still texture, plus optional effects.

    ``motion`` is the camera's truth: pan_right slides the window right (content moves left),
    tilt_down slides it down, zoom_in shrinks it, roll turns it, shake jitters it like a
    handheld camera, slideshow holds a few stills joined by cross-fades. A moving ball
    (``objects``) gives independent motion as real footage has; ``objects=0`` leaves a still
    image moved by a synthetic camera. ``effects``: "text" (subtitle band), "title" (large
    text), "letterbox:F" / "pillarbox:F" (black bars, F of the height/width on each side),
    "blur:S" (Gaussian sigma, px), "dark:K" / "bright:K" (multiply brightness), "noise:S".
    """

    seconds: float
    motion: str = "drift"
    seed: int | None = None  # texture seed; None -> derived from the shot's position
    hue: int | None = None  # dominant OpenCV hue 0-179; None -> derived from the seed
    value: int | None = None  # base brightness 60-199; None -> derived from the seed
    objects: int = 1
    effects: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.motion not in MOTIONS:
            raise ValueError(f"unknown motion {self.motion!r}; choose from {MOTIONS}")


@dataclass(frozen=True)
class VideoSpec:
    name: str
    shots: tuple[Shot, ...]
    width: int = 320
    height: int = 180
    fps: int = 24
    rotation: int = 0  # display rotation metadata, counter-clockwise degrees
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    audio: bool = False

    @property
    def shot_frames(self) -> list[int]:
        return [int(round(s.seconds * self.fps)) for s in self.shots]

    @property
    def cut_frames(self) -> list[int]:
        """Frame indices that start a new shot: the truth a detector must find."""
        return [int(c) for c in np.cumsum(self.shot_frames)[:-1]]

    @property
    def frames(self) -> int:
        return int(sum(self.shot_frames))

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    @property
    def display_size(self) -> tuple[int, int]:
        if self.rotation % 180 == 90:
            return self.height, self.width
        return self.width, self.height


@dataclass
class _Scene:
    texture: np.ndarray
    motion: str
    rng: np.random.Generator = field(repr=False)
    stills: list[np.ndarray] = field(default_factory=list)  # slideshow only
    shake: np.ndarray | None = None  # per-frame (dx, dy) offsets, shake only


def _texture(
    seed: int, width: int, height: int, hue: int | None = None, value: int | None = None
) -> np.ndarray:
    """A smooth, contrasty texture of one dominant hue, 2x the frame so a window can move."""
    rng = np.random.default_rng(seed)
    big_w, big_h = width * 2, height * 2
    coarse = rng.random((max(4, big_h // 24), max(4, big_w // 24), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    if hue is None:
        hue = (seed * 47) % 180  # OpenCV hue range; neighbouring seeds land far apart
    hsv = np.empty((big_h, big_w, 3), np.uint8)
    hsv[..., 0] = (hue + smooth[..., 0] * 20).astype(np.uint8) % 180
    hsv[..., 1] = (120 + smooth[..., 1] * 135).clip(0, 255).astype(np.uint8)
    base_value = 60 + (seed * 71) % 140 if value is None else value
    hsv[..., 2] = (base_value + (smooth[..., 2] - 0.5) * 110).clip(10, 255).astype(np.uint8)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    # A few hard-edged shapes give texture detail for sharpness and flow.
    for _ in range(12):
        x, y = int(rng.integers(0, big_w)), int(rng.integers(0, big_h))
        r = int(rng.integers(4, max(6, min(width, height) // 6)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(rgb, (x, y), r, colour, -1)
    return rgb


def _camera(scene: _Scene, i: int, n: int, width: int, height: int):
    """(centre x, centre y, window scale, rotation deg) on the 2x texture for frame ``i``."""
    p = i / max(1, n - 1)
    cx, cy, scale, angle = float(width), float(height), 1.0, 0.0
    m = scene.motion
    if m == "drift":
        cx, cy = width * (0.5 + 0.4 * p), height * (0.5 + 0.4 * p)
    elif m in ("pan_right", "pan_left"):
        cx = width * (0.5 + (p if m == "pan_right" else 1 - p))
    elif m in ("tilt_down", "tilt_up"):
        cy = height * (0.5 + (p if m == "tilt_down" else 1 - p))
    elif m in ("zoom_in", "zoom_out"):
        scale = 1.8 - 0.8 * p if m == "zoom_in" else 1.0 + 0.8 * p
    elif m == "roll":
        scale, angle = 1.3, 30.0 * p
    elif m == "shake" and scene.shake is not None:
        cx, cy = cx + scene.shake[i, 0] * width, cy + scene.shake[i, 1] * height
    return cx, cy, scale, angle


def _view(texture: np.ndarray, camera, width: int, height: int) -> np.ndarray:
    cx, cy, scale, angle = camera
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * scale
    offset = np.array([cx, cy]) - rot @ np.array([width / 2.0, height / 2.0])
    matrix = np.hstack([rot, offset[:, None]])
    return cv2.warpAffine(
        texture,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT,
    )


def _slideshow_frame(scene: _Scene, i: int, n: int, width: int, height: int, fps: int):
    hold, fade = 2.0 * fps, 0.5 * fps
    period = hold + fade
    k = int(i // period)
    into = i - k * period
    window = (slice(height // 2, height // 2 + height), slice(width // 2, width // 2 + width))
    frame = scene.stills[min(k, len(scene.stills) - 1)][window]
    if into < hold or k + 1 >= len(scene.stills):
        return frame
    second = scene.stills[k + 1][window]
    alpha = (into - hold) / fade
    return cv2.addWeighted(frame, 1 - alpha, second, alpha, 0)


def _ball(image: np.ndarray, i: int, n: int, k: int) -> None:
    h, w = image.shape[:2]
    p = i / max(1, n - 1)
    x = int(w * (0.15 + 0.7 * p))
    y = int(h * (0.5 + 0.3 * math.sin(2 * math.pi * (p + k / 3))))
    cv2.circle(image, (x, y), max(3, min(w, h) // 10), (250, 250, 240), -1)
    cv2.circle(image, (x, y), max(2, min(w, h) // 20), (200, 30, 30), -1)


def _apply_effects(image: np.ndarray, effects: tuple[str, ...], i: int) -> np.ndarray:
    h, w = image.shape[:2]
    for effect in effects:
        name, _, arg = effect.partition(":")
        if name == "text":
            scale = h / 180
            for row, line in enumerate(("BREAKING NEWS 24/7", "SUBTITLE TEXT HERE")):
                y = int(h * (0.78 + 0.11 * row))
                # white subtitle text with a black outline, as broadcasters draw it
                for colour, thickness in (
                    ((0, 0, 0), max(2, int(5 * scale))),
                    ((255, 255, 255), max(1, int(2 * scale))),
                ):
                    cv2.putText(
                        image,
                        line,
                        (int(w * 0.06), y),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.62 * scale,
                        colour,
                        thickness,
                        cv2.LINE_AA,
                    )
        elif name == "title":
            scale = h / 180
            cv2.putText(
                image,
                "TITLE",
                (int(w * 0.12), int(h * 0.6)),
                cv2.FONT_HERSHEY_DUPLEX,
                2.6 * scale,
                (255, 255, 255),
                max(2, int(6 * scale)),
                cv2.LINE_AA,
            )
        elif name == "letterbox":
            bar = int(round(h * float(arg)))
            image[:bar] = 0
            image[h - bar :] = 0
        elif name == "pillarbox":
            bar = int(round(w * float(arg)))
            image[:, :bar] = 0
            image[:, w - bar :] = 0
        elif name == "blur":
            image = cv2.GaussianBlur(image, (0, 0), float(arg))
        elif name in ("dark", "bright"):
            image = cv2.convertScaleAbs(image, alpha=float(arg))
        elif name == "noise":
            rng = np.random.default_rng(i)
            noise = rng.normal(0, float(arg), image.shape)
            image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        else:
            raise ValueError(f"unknown effect {effect!r}")
    return image


def render_shot(shot: Shot, seed: int, count: int, width: int, height: int, fps: int):
    """Yield the RGB frames of one shot (deterministic)."""
    texture = _texture(seed, width, height, shot.hue, shot.value)
    scene = _Scene(texture, shot.motion, np.random.default_rng(seed))
    if shot.motion == "slideshow":
        stills = 1 + int(count / (2.5 * fps)) + 1
        scene.stills = [_texture(seed * 31 + k, width, height) for k in range(stills)]
    if shot.motion == "shake":
        # handheld: zero-mean jitter of a few % of the frame, lightly smoothed over time
        raw = scene.rng.normal(0, 0.04, (count + 2, 2))
        scene.shake = 0.25 * raw[:-2] + 0.5 * raw[1:-1] + 0.25 * raw[2:]
    for i in range(count):
        if shot.motion == "slideshow":
            image = np.array(_slideshow_frame(scene, i, count, width, height, fps))
        else:
            image = _view(texture, _camera(scene, i, count, width, height), width, height)
            for k in range(shot.objects):
                _ball(image, i, count, k)
        yield np.ascontiguousarray(_apply_effects(image, shot.effects, i))


def encode_frames(
    path: Path,
    images: Iterable[np.ndarray],
    fps: int,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB images (H x W x 3, uint8, all one size) to H.264, image ``i`` at ``i / fps``.

    For footage made some other way than ``write_video``: photos turned into clips, re-encoded
    or rescaled copies. ``options`` go to libx264 (default: ultrafast, crf 18).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = None
        for index, image in enumerate(images):
            if stream is None:
                stream = out.add_stream("libx264", rate=fps)
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = reproducible_options(
                    "libx264", options or {"preset": "ultrafast", "crf": "18"}
                )
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        if stream is None:
            raise ValueError(f"no images to encode into {path}")
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_video(
    spec: VideoSpec, path: Path, container_options: dict[str, str] | None = None
) -> Path:
    """Encode ``spec`` to ``path`` with PyAV; deterministic for a given spec.

    ``container_options`` go to the muxer, e.g. ``{"movflags": "faststart"}`` puts the MP4 index
    first, so a copy cut short still opens (and declares more than it holds).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(spec.codec, rate=spec.fps)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, spec.pix_fmt
        x264 = {"preset": "ultrafast", "tune": "zerolatency", "crf": "20"}
        stream.options = reproducible_options(spec.codec, x264 if spec.codec == "libx264" else {})
        if spec.rotation:
            stream.set_display_rotation(spec.rotation)
        audio = _add_audio(out) if spec.audio else None
        index = 0
        for shot_no, (shot, count) in enumerate(zip(spec.shots, spec.shot_frames, strict=True)):
            seed = shot.seed if shot.seed is not None else 1000 + shot_no
            frames = render_shot(shot, seed, count, spec.width, spec.height, spec.fps)
            for image in frames:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = index
                frame.time_base = Fraction(1, spec.fps)
                index += 1
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio is not None:
            _write_tone(out, audio, spec.duration_s)
    return path


def _add_audio(out):
    stream = out.add_stream("aac", rate=22050)
    stream.layout = "mono"
    return stream


def _write_tone(out, stream, seconds: float) -> None:
    rate, chunk = 22050, 1024
    total = int(seconds * rate)
    for start in range(0, total, chunk):
        t = np.arange(start, min(total, start + chunk)) / rate
        samples = (0.2 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def write_audio_only(path: Path, seconds: float = 5.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        _write_tone(out, _add_audio(out), seconds)
    return path


# --- junk: every kind must get one row with the right reason -------------------------------

JUNK_REASONS = {
    "empty.mp4": "unreadable",
    "random bytes.mp4": "unreadable",
    "truncated.mp4": "unreadable",
    "notes.txt": "unreadable",
    "tone only.m4a": "no_video_stream",
    "still.png": "too_small",  # an image (Pillow), under admission.image_min_short_side_px
    "two seconds.mp4": "too_short",
    "tiny 96x64.mp4": "too_small",
    "overlong.mp4": "too_long",
}

# More kinds, written only when asked (``write_junk(folder, extra=True)``) so that shards built
# with the default keep their file count.
EXTRA_JUNK_REASONS = {
    "image inside.mp4": "too_small",  # a PNG with a video extension: the content decides
    "cut in half.mp4": "too_short",  # index first, data cut at 50%: only ~2.9 of 6 s readable
}


def write_junk(folder: Path, extra: bool = False) -> dict[str, str]:
    """Write one file of every junk kind; returns file name -> expected admission reason.

    ``extra`` adds the kinds of ``EXTRA_JUNK_REASONS``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "random bytes.mp4").write_bytes(np.random.default_rng(7).bytes(64 * 1024))
    full = write_video(VideoSpec("t", (Shot(6.0),), 160, 96, 12), folder / "_full.tmp.mp4")
    data = full.read_bytes()
    os.remove(full)
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (folder / "notes.txt").write_text("not a video\n" * 20, encoding="utf-8")
    write_audio_only(folder / "tone only.m4a")
    still = _texture(5, 160, 120)[:120, :160]
    png = cv2.imencode(".png", cv2.cvtColor(still, cv2.COLOR_RGB2BGR))[1].tobytes()
    (folder / "still.png").write_bytes(png)
    write_video(VideoSpec("s", (Shot(2.0),), 160, 96, 12), folder / "two seconds.mp4")
    write_video(VideoSpec("x", (Shot(6.0),), 96, 64, 12), folder / "tiny 96x64.mp4")
    write_video(VideoSpec("l", (Shot(125.0, "static"),), 160, 128, 4), folder / "overlong.mp4")
    if not extra:
        return dict(JUNK_REASONS)
    (folder / "image inside.mp4").write_bytes(png)
    write_truncated(VideoSpec("h", (Shot(6.0),), 160, 128, 24), folder / "cut in half.mp4", 0.5)
    return {**JUNK_REASONS, **EXTRA_JUNK_REASONS}


def write_truncated(spec: VideoSpec, path: Path, keep: float) -> Path:
    """A video whose header declares all of ``spec`` but whose data stops after ``keep`` of it."""
    tmp = path.with_name(f"_{path.stem}.full.tmp{path.suffix}")
    full = write_video(spec, tmp, {"movflags": "faststart"})
    data = full.read_bytes()
    os.remove(full)
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def demo_specs() -> list[VideoSpec]:
    """About a dozen videos with known cuts: landscape, portrait, rotated, static, long shots."""
    return [
        VideoSpec("three shots.mp4", (Shot(6), Shot(5, "pan_right"), Shot(7, "pan_left"))),
        VideoSpec("cut every 3s.mp4", (Shot(3), Shot(3), Shot(3), Shot(3))),
        VideoSpec("long take.mp4", (Shot(40, "drift"),), 320, 180, 12),
        VideoSpec("portrait phone.mp4", (Shot(8), Shot(9, "pan_right")), 180, 320),
        VideoSpec("rotated 90.mp4", (Shot(10), Shot(6)), 320, 180, rotation=90),
        VideoSpec("still camera.mp4", (Shot(12, "static"),), 256, 144),
        VideoSpec("vidéo café.mp4", (Shot(5), Shot(6, "pan_left")), audio=True),
        VideoSpec("square.mp4", (Shot(9, "drift"),), 240, 240),
    ]
