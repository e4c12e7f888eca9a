"""Deterministic synthetic media with known truth, for tests, the demo and benchmarks.

Every shot is a crop window moving over its own random texture; by default consecutive shots use
far-apart hues and brightness, so a hard cut is unambiguous while motion inside a shot stays smooth.
A shot may pin its ``hue`` and ``value`` (brightness) to look like its neighbour: the cut is still a
real hard cut (a different texture), only harder to see for a colour-based detector.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


@dataclass(frozen=True)
class Shot:
    seconds: float
    motion: str = "drift"  # "static" | "drift" (slow diagonal) | "pan_right" | "pan_left"
    seed: int | None = None  # texture seed; None -> derived from the shot's position
    hue: int | None = None  # dominant OpenCV hue 0-179; None -> derived from the seed
    value: int | None = None  # base brightness 60-199; None -> derived from the seed


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


def _window(scene: _Scene, i: int, n: int, width: int, height: int) -> np.ndarray:
    big_h, big_w = scene.texture.shape[:2]
    span_x, span_y = big_w - width, big_h - height
    progress = i / max(1, n - 1)
    if scene.motion == "static":
        x, y = span_x // 2, span_y // 2
    elif scene.motion == "pan_right":
        x, y = int(progress * span_x), span_y // 2
    elif scene.motion == "pan_left":
        x, y = int((1 - progress) * span_x), span_y // 2
    else:  # slow diagonal drift
        x, y = int(progress * span_x * 0.4), int(progress * span_y * 0.4)
    return scene.texture[y : y + height, x : x + width]


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
        if spec.codec == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency", "crf": "20"}
        if spec.rotation:
            stream.set_display_rotation(spec.rotation)
        audio = _add_audio(out) if spec.audio else None
        index = 0
        for shot_no, (shot, count) in enumerate(zip(spec.shots, spec.shot_frames, strict=True)):
            seed = shot.seed if shot.seed is not None else 1000 + shot_no
            texture = _texture(seed, spec.width, spec.height, shot.hue, shot.value)
            scene = _Scene(texture, shot.motion, np.random.default_rng(seed))
            for i in range(count):
                image = np.ascontiguousarray(_window(scene, i, count, spec.width, spec.height))
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
    "still.png": "too_short",
    "two seconds.mp4": "too_short",
    "tiny 96x64.mp4": "too_small",
    "overlong.mp4": "too_long",
}

# More kinds, written only when asked (``write_junk(folder, extra=True)``) so that shards built
# with the default keep their file count.
EXTRA_JUNK_REASONS = {
    "image inside.mp4": "too_short",  # a PNG with a video extension: FFmpeg sniffs the content
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
