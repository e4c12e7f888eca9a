"""Deterministic synthetic media with known truth, for tests, the demo and benchmarks.

A ``VideoSpec`` lists ``Shot``s; ``write_video`` renders them (``synthetic_frames``: a crop
window moving over a random texture per shot, so hard cuts are known to the frame) and encodes
them reproducibly. Junk and damaged files for admission are in ``synthetic_junk``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from curation_assets.media.encoding import reproducible_options
from curation_assets.media.synthetic_frames import render_shot

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
