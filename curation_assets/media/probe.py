"""Probe a file with PyAV and decide admission before any full decode (cheap before expensive)."""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import av.logging

from curation_assets.config.sections import AdmissionConfig
from curation_assets.vocabulary import Admission

# A hostile file can make the demuxer read a lot before the first frame; give up after this.
_MAX_PACKETS_FOR_FIRST_FRAME = 600
# The tail check reads packets (no decoding) from the last keyframe before the declared end.
_MAX_PACKETS_FOR_TAIL = 100_000
# A header may claim any frame size; decoding one frame of it allocates that much. 8192x8192
# (twice 8K UHD) is far beyond training video; larger claims are refused before any decoding.
MAX_PIXELS = 8192 * 8192
# FFmpeg demuxers that read text as pictures (ANSI art): a text file is not a video.
_TEXT_FORMATS = {"tty"}
_TEXT_CODECS = {"ansi", "bintext", "xbin", "idf"}


@dataclass(frozen=True)
class Probe:
    """What one file is, as far as the container and its first frame tell."""

    path: str
    bytes: int
    content_sha256: str | None
    readable: bool
    error: str | None = None
    container_format: str | None = None
    has_video: bool = False
    has_audio: bool = False
    codec: str | None = None
    pix_fmt: str | None = None
    coded_width: int | None = None
    coded_height: int | None = None
    rotation: int = 0  # counter-clockwise degrees to apply for display (PyAV convention)
    width: int | None = None  # display size, after rotation
    height: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    frame_count: int | None = None
    frame_count_estimated: bool = False
    # The container declares more than the file holds (cut-off download or copy): duration_s and
    # frame_count then describe what can be read, declared_duration_s what the header claims.
    truncated: bool = False
    declared_duration_s: float | None = None
    media: str = "video"  # or "image": a still picture, probed by Pillow (media/image.py)

    def as_row(self) -> dict:
        return asdict(self)


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def probe_file(path: Path | str) -> Probe:
    """Never raises for bad media: a broken file is a ``Probe`` with ``readable=False``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        digest = sha256_of(path)
    except OSError as exc:
        return Probe(str(path), 0, None, False, error=f"os: {exc.strerror or exc}")
    if size == 0:
        return Probe(str(path), 0, digest, False, error="empty file")
    try:
        with _ffmpeg_errors_in_messages():
            with av.open(str(path), metadata_errors="ignore") as container:
                return _probe_container(path, size, digest, container)
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OverflowError, MemoryError) as exc:
        message = str(exc).replace(f": '{path}'", "")  # FFmpeg repeats the path
        return Probe(str(path), size, digest, False, error=f"{type(exc).__name__}: {message}"[:500])


@contextmanager
def _ffmpeg_errors_in_messages():
    """While FFmpeg logging is on, PyAV appends FFmpeg's last error line to an exception's text
    (e.g. "Picture size 60000x60000 is invalid" instead of a bare "Invalid data"); the lines are
    captured here, not printed."""
    before = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture(local=False):
            yield
    finally:
        av.logging.set_level(before)


def _probe_container(path: Path, size: int, digest: str, container) -> Probe:
    base = dict(
        path=str(path),
        bytes=size,
        content_sha256=digest,
        container_format=container.format.name if container.format else None,
        has_audio=bool(container.streams.audio),
    )
    if not container.streams.video:
        return Probe(readable=True, has_video=False, **base)
    stream = container.streams.video[0]
    ctx = stream.codec_context
    codec = ctx.codec.canonical_name  # "av1", not the decoder's name ("libdav1d")
    if base["container_format"] in _TEXT_FORMATS or codec in _TEXT_CODECS:
        return Probe(readable=False, has_video=False, codec=codec, error="text, not video", **base)
    if (ctx.width or 0) * (ctx.height or 0) > MAX_PIXELS:
        return Probe(
            readable=False,
            has_video=True,
            codec=codec,
            error=f"declared frame size {ctx.width}x{ctx.height} is over {MAX_PIXELS} pixels",
            **base,
        )
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else None
    duration = _duration_s(container, stream)
    first = _first_frame(container, stream)
    if first is None:
        return Probe(
            readable=False, has_video=True, codec=codec, error="no decodable frame", **base
        )
    rotation = int(round((first.rotation or 0) / 90.0)) * 90 % 360
    coded_w, coded_h = first.width, first.height
    width, height = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    frames = int(stream.frames or 0)
    estimated = frames <= 0
    declared = duration
    readable_s = _readable_duration_s(container, stream, duration)
    truncated = readable_s is not None
    if truncated:
        duration, estimated = readable_s, True
    if estimated and duration and fps:
        frames = int(round(duration * fps))
    return Probe(
        readable=True,
        has_video=True,
        codec=codec,
        pix_fmt=first.format.name,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        width=width,
        height=height,
        fps=fps,
        duration_s=duration,
        frame_count=frames or None,
        frame_count_estimated=estimated,
        truncated=truncated,
        declared_duration_s=declared,
        **base,
    )


def _duration_s(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        value = float(stream.duration * stream.time_base)
    elif container.duration:
        value = container.duration / av.time_base
    else:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _readable_duration_s(container, stream, declared: float | None) -> float | None:
    """Seconds of video the file really holds when that is clearly less than ``declared``.

    The header of a cut-off file still declares the whole video. Packets (not frames) are read
    from the last keyframe before the declared end; if the data stops early, the end of the last
    packet read is what a decoder will get. ``None`` when nothing is missing or it cannot be told.
    """
    if not declared or not stream.time_base:
        return None
    base = stream.time_base
    start = float(stream.start_time * base) if stream.start_time is not None else 0.0
    rate = stream.average_rate or stream.guessed_rate
    frame_s = 1.0 / float(rate) if rate else 0.04
    last_end: float | None = None
    try:
        container.seek(int((start + declared) / base), stream=stream, backward=True)
        for count, packet in enumerate(container.demux(stream)):
            if count >= _MAX_PACKETS_FOR_TAIL:
                return None
            if packet.pts is None or packet.size == 0:
                continue
            end = float((packet.pts + (packet.duration or 0)) * base)
            last_end = end if last_end is None else max(last_end, end)
    except (av.FFmpegError, ValueError, OverflowError):
        pass  # an error while reading the tail is what truncation looks like; keep what was read
    if last_end is None:
        return None
    readable = max(0.0, last_end - start)
    # A missing frame or two at the end is ordinary muxing slack, not truncation.
    if readable >= declared - max(2.5 * frame_s, 0.01 * declared):
        return None
    return readable


def _first_frame(container, stream):
    for count, packet in enumerate(container.demux(stream)):
        if count >= _MAX_PACKETS_FOR_FIRST_FRAME:
            return None
        for frame in packet.decode():
            return frame
    return None


def admission_reason(probe: Probe, cfg: AdmissionConfig) -> tuple[Admission | None, str]:
    """``(None, detail)`` admits; otherwise the vocabulary reason and a human detail."""
    if probe.media == "image":
        return _image_admission(probe, cfg)
    if not probe.readable:
        if probe.has_video is False and probe.error is None:
            return Admission.NO_VIDEO_STREAM, "no video stream"
        return Admission.UNREADABLE, probe.error or "unreadable"
    if not probe.has_video:
        kind = "audio only" if probe.has_audio else "no streams"
        return Admission.NO_VIDEO_STREAM, kind
    fmt = probe.container_format or ""
    if fmt.endswith("_pipe") or "image2" in fmt:  # a picture: no duration, or one frame's
        return Admission.TOO_SHORT, f"still image ({fmt})"
    if probe.duration_s is None:
        # e.g. a raw elementary stream: no timestamps, so its frame rate would be a guess
        return Admission.UNREADABLE, f"duration unknown ({fmt or 'no container'} has no timing)"
    note = ""
    if probe.truncated and probe.declared_duration_s is not None:
        note = f" (truncated: {probe.declared_duration_s:.2f} s declared)"
    if probe.duration_s < cfg.min_duration_s:
        return Admission.TOO_SHORT, f"{probe.duration_s:.2f} s < {cfg.min_duration_s:g} s{note}"
    if probe.duration_s > cfg.max_duration_s:
        return Admission.TOO_LONG, f"{probe.duration_s:.2f} s > {cfg.max_duration_s:g} s{note}"
    short_side = min(probe.width or 0, probe.height or 0)
    if short_side < cfg.min_short_side_px:
        return Admission.TOO_SMALL, f"short side {short_side} px < {cfg.min_short_side_px} px"
    return None, f"{probe.width}x{probe.height} {probe.codec} {probe.duration_s:.2f} s{note}"


def _image_admission(probe: Probe, cfg: AdmissionConfig) -> tuple[Admission | None, str]:
    size = f"{probe.width}x{probe.height}"
    pixels = (probe.coded_width or 0) * (probe.coded_height or 0)
    if pixels > cfg.image_max_pixels:
        return Admission.TOO_LARGE, (
            f"{probe.container_format} {size} is over {cfg.image_max_pixels} pixels "
            "(refused from its header, never decoded)"
        )
    if not probe.readable:
        return Admission.UNREADABLE, probe.error or "unreadable"
    short_side = min(probe.width or 0, probe.height or 0)
    if short_side < cfg.image_min_short_side_px:
        return Admission.TOO_SMALL, (
            f"image short side {short_side} px < {cfg.image_min_short_side_px} px"
        )
    return None, f"{size} {probe.container_format} {probe.pix_fmt} image"
