"""Cut one clip out of a source video and encode it for training (the only video re-encode).

A clip is virtual until export (docs/architecture.md "Decode once"): a range on the time axis of the
single decode pass, i.e. seconds after the first decoded frame. A cut here must give exactly the
frames that pass counted, so the source is seeked to the keyframe before ``start_s``, decoded, and
frames are kept by presentation time: ``start_s <= t < end_s`` (half a frame of tolerance).

Pixels go straight from the decoder's Y/U/V planes to the encoder's: each plane is turned upright
(rotation metadata, as ``probe``/``decode`` read it), cropped (border crop, then a centre crop to
the bucket's aspect ratio) and shrunk with OpenCV's area filter; no RGB round trip.
``benchmarks/export_throughput.py``: swscale's ``reformat`` resizes about as fast (within noise)
but cannot crop or turn; either costs < 0.1x of decoding, and the x264 encode dominates.
Frame rate is lowered by picking, for each output tick, the source frame nearest in time: a clip
of d seconds gives ceil(d * fps) frames.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np

from curation_assets.media.encoding import reproducible_options

# 8-bit planar YUV is read from its planes; anything else is converted to yuv420p first.
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}
_MAX_PACKETS_FOR_FIRST_FRAME = 600
_LIMITED_RANGE, _FULL_RANGE = 1, 2  # AVColorRange: MPEG (TV), JPEG (PC)


class TranscodeError(Exception):
    """A clip that cannot be cut; ``kind`` is a short machine-readable cause."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Geometry:
    """Where output pixels come from (display coordinates, even-aligned) and the output size."""

    crop_x: int
    crop_y: int
    crop_w: int
    crop_h: int
    width: int
    height: int


@dataclass(frozen=True)
class Transcoded:
    data: bytes
    frames: int
    fps: float
    width: int
    height: int
    duration_s: float
    source_frames: int  # source frames inside [start_s, end_s) that were decoded
    first_source_s: float  # time of the first source frame used (pass time axis)


def _even_down(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def plan_geometry(
    width: int,
    height: int,
    crop: tuple[int, int, int, int] | None = None,
    aspect: float | None = None,
    short_side: int | None = None,
    *,
    even: bool = True,
) -> Geometry:
    """Border crop (clamped to the frame), centre crop to ``aspect`` (w/h), scale the short side
    down to ``short_side`` (never up). Sides are even, as yuv420p needs; ``even=False`` (still
    images, JPEG) keeps every pixel: no alignment, so a frame that needs no crop gets none."""
    low = 2 if even else 1
    if width < low or height < low:
        raise ValueError(f"frame {width}x{height} is too small")
    x, y, w, h = 0, 0, width, height
    if crop is not None:
        cx, cy, cw, ch = (int(v) for v in crop)
        x, y = min(max(0, cx), width - low), min(max(0, cy), height - low)
        w, h = max(low, min(cw, width - x)), max(low, min(ch, height - y))
    if aspect is not None:
        if aspect <= 0 or not math.isfinite(aspect):
            raise ValueError(f"aspect ratio must be positive, got {aspect}")
        if w / h > aspect:
            new_w = max(low, round(h * aspect))
            x, w = x + (w - new_w) // 2, new_w
        else:
            new_h = max(low, round(w / aspect))
            y, h = y + (h - new_h) // 2, new_h
    side = _even_down if even else (lambda v: max(1, int(v)))
    if even:  # even-aligned so chroma planes (half size) crop on whole samples
        x, y = x // 2 * 2, y // 2 * 2
        w, h = _even_down(w), _even_down(h)
    scale = 1.0
    if short_side is not None:
        if short_side < 2:
            raise ValueError(f"short_side must be >= 2, got {short_side}")
        scale = min(1.0, short_side / min(w, h))
    if scale < 1.0:
        if w <= h:
            out_w, out_h = side(short_side), side(round(h * scale))
        else:
            out_w, out_h = side(round(w * scale)), side(short_side)
    else:
        out_w, out_h = w, h
    return Geometry(x, y, w, h, out_w, out_h)


def output_rate(source_fps: Fraction, fps: float | None) -> Fraction:
    """The output frame rate: ``fps`` when it lowers the source's, else the source's own."""
    if fps is None:
        return source_fps
    if fps <= 0 or not math.isfinite(fps):
        raise ValueError(f"fps must be positive, got {fps}")
    wanted = Fraction(fps).limit_denominator(1001)
    return wanted if wanted < source_fps else source_fps


def expected_frames(source_frames: int, source_fps: float, out_fps: float) -> int:
    """How many frames a cut of ``source_frames`` gives at ``out_fps`` (nearest-frame picking)."""
    if out_fps >= source_fps - 1e-9:
        return source_frames
    # one output frame per tick k / out_fps inside the clip's duration
    return max(0, math.ceil(source_frames / source_fps * out_fps - 1e-9))


def _view(plane) -> np.ndarray:
    buf = np.frombuffer(plane, dtype=np.uint8)
    return buf.reshape(-1, plane.line_size)[: plane.height, : plane.width]


class _Converter:
    """Decoded frame -> upright, cropped, resized yuv420p ``VideoFrame`` (planes + OpenCV)."""

    def __init__(self, geometry: Geometry, rotation: int, first: av.VideoFrame) -> None:
        self.g = geometry
        self.k = (rotation // 90) % 4
        w, h = geometry.width, geometry.height
        self.y_size, self.c_size = (w, h), (w // 2, h // 2)
        # Samples are copied, not converted, so the output keeps the source's colour tags;
        # a yuvj* source is full range even when its frames leave the tag unset.
        if first.format.name in _PLANAR_8BIT:
            full = first.format.name.startswith("yuvj") or first.color_range == _FULL_RANGE
            self.color = {
                "color_range": _FULL_RANGE if full else _LIMITED_RANGE,
                "colorspace": first.colorspace,
                "color_primaries": first.color_primaries,
                "color_trc": first.color_trc,
            }
        else:  # swscale's yuv420p output: limited range
            self.color = {"color_range": _LIMITED_RANGE}

    def _plane(self, plane: np.ndarray, size: tuple[int, int], disp_w: int, disp_h: int):
        upright = np.rot90(plane, k=self.k) if self.k else plane
        sy, sx = upright.shape[0] / disp_h, upright.shape[1] / disp_w
        g = self.g
        y0, y1 = round(g.crop_y * sy), round((g.crop_y + g.crop_h) * sy)
        x0, x1 = round(g.crop_x * sx), round((g.crop_x + g.crop_w) * sx)
        part = upright[y0:y1, x0:x1]
        if part.shape[1] == size[0] and part.shape[0] == size[1]:
            return part
        interp = cv2.INTER_AREA if part.shape[1] >= size[0] else cv2.INTER_LINEAR
        return cv2.resize(np.ascontiguousarray(part), size, interpolation=interp)

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if frame.format.name not in _PLANAR_8BIT:
            frame = frame.reformat(format="yuv420p")
        disp_w, disp_h = (frame.height, frame.width) if self.k % 2 else (frame.width, frame.height)
        w, h = self.y_size
        packed = np.empty((h * 3 // 2, w), np.uint8)
        flat = packed.reshape(-1)
        cw, ch = self.c_size
        parts = (
            (flat[: w * h].reshape(h, w), self.y_size),
            (flat[w * h : w * h + cw * ch].reshape(ch, cw), self.c_size),
            (flat[w * h + cw * ch :].reshape(ch, cw), self.c_size),
        )
        for plane, (dst, size) in zip(frame.planes, parts, strict=True):
            dst[...] = self._plane(_view(plane), size, disp_w, disp_h)
        out = av.VideoFrame.from_ndarray(packed, format="yuv420p")
        for name, value in self.color.items():
            setattr(out, name, value)
        return out


def _first_pts(container, stream) -> int | None:
    for count, packet in enumerate(container.demux(stream)):
        if count >= _MAX_PACKETS_FOR_FIRST_FRAME:
            return None
        for frame in packet.decode():
            return frame.pts
    return None


def _frames_in(container, stream, start_s: float, end_s: float, t0: int, eps: float):
    """Yield ``(t, frame)`` for source frames with ``start_s - eps <= t < end_s - eps``.

    Seeks to the keyframe before ``start_s``; if the index lies (first frame already past the
    start), decodes from the beginning instead.
    """
    tb = stream.time_base
    for attempt in ("seek", "from_start"):
        target = start_s if attempt == "seek" else 0.0
        container.seek(t0 + int(math.floor(target / tb)), stream=stream, backward=True)
        first = True
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            t = float((frame.pts - t0) * tb)
            if first:
                first = False
                if t > start_s + eps and attempt == "seek" and start_s > eps:
                    break  # overshot: try again from the start
            if t < start_s - eps:
                continue
            if t >= end_s - eps:
                return
            yield t, frame
        else:
            return
    return


def transcode_clip(
    source: Path | str | BinaryIO,
    start_s: float,
    end_s: float,
    *,
    crop: tuple[int, int, int, int] | None = None,
    aspect: float | None = None,
    short_side: int | None = None,
    fps: float | None = None,
    codec: str = "libx264",
    crf: int = 18,
    preset: str = "veryfast",
    tmp_dir: Path | None = None,
) -> Transcoded:
    """Cut ``[start_s, end_s)`` (pass time axis) upright, cropped, scaled and re-timed to MP4.

    ``source`` is a path or a seekable binary file (e.g. ranged reads of an S3 object). Audio
    is not kept (training clips are silent). Raises ``TranscodeError`` for a source that
    cannot be read or cut; ``ValueError`` for bad arguments.
    """
    if not end_s > start_s:
        raise ValueError(f"empty range [{start_s}, {end_s})")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise TranscodeError("source_missing", f"no such file: {path}")
        source = str(path)
    try:
        container = av.open(source, metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise TranscodeError("unreadable", f"{type(exc).__name__}: {exc}"[:300]) from exc
    target = _Target(crop, aspect, short_side, fps, codec, crf, preset)
    try:
        if not container.streams.video:
            raise TranscodeError("unreadable", "no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        t0 = _first_pts(container, stream)
        if t0 is None:
            raise TranscodeError("unreadable", "no decodable frame")
        return _cut(container, stream, t0, start_s, end_s, target, tmp_dir)
    except (av.FFmpegError, OverflowError, MemoryError) as exc:
        raise TranscodeError("decode_failed", f"{type(exc).__name__}: {exc}"[:300]) from exc
    finally:
        container.close()


@dataclass(frozen=True)
class _Target:
    crop: tuple[int, int, int, int] | None
    aspect: float | None
    short_side: int | None
    fps: float | None
    codec: str
    crf: int
    preset: str


def _picked(timed, start_s: float, end_s: float, eps: float, out_rate: Fraction | None):
    """Yield ``(t, frame, repeats)``: every frame once when ``out_rate`` is None, else for each
    output tick ``k / out_rate`` the source frame nearest in time (ticks inside the clip)."""
    if out_rate is None:
        for t, frame in timed:
            yield t, frame, 1
        return
    out_dt = 1.0 / float(out_rate)
    ticks = math.ceil((end_s - start_s) * float(out_rate) - 1e-9)
    given = 0

    def until(limit: float) -> int:
        n = 0
        while given + n < ticks and (given + n) * out_dt < limit - 1e-9:
            n += 1
        return n

    held = None
    for t, frame in timed:
        if held is not None:
            n = until((held[0] + t) / 2 - start_s)
            if n:
                yield held[0], held[1], n
                given += n
        held = (t, frame)
    if held is not None:
        # the last frame is held to the clip's end, unless the source ended early
        ended_early = held[0] < end_s - 3 * eps
        n = until(held[0] - start_s + eps if ended_early else end_s - start_s)
        if n:
            yield held[0], held[1], n


def _cut(container, stream, t0: int, start_s: float, end_s: float, target: _Target, tmp_dir):
    src_rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    src_rate = Fraction(src_rate.numerator, src_rate.denominator)
    out_rate = output_rate(src_rate, target.fps)
    eps = 0.5 / float(src_rate)
    read = [0, None]  # source frames inside the range, time of the first

    def timed():
        for t, frame in _frames_in(container, stream, start_s, end_s, t0, eps):
            read[0] += 1
            read[1] = t if read[1] is None else read[1]
            yield t, frame

    fd, tmp_name = tempfile.mkstemp(prefix=".transcode-", suffix=".mp4.tmp", dir=tmp_dir)
    os.close(fd)
    geometry, ost, written = None, None, 0
    try:
        with av.open(tmp_name, "w", format="mp4", options={"movflags": "+faststart"}) as out:
            picks = _picked(timed(), start_s, end_s, eps, out_rate if out_rate < src_rate else None)
            for _, frame, repeats in picks:
                if ost is None:
                    rotation = int(round((frame.rotation or 0) / 90.0)) * 90 % 360
                    w, h = (
                        (frame.height, frame.width)
                        if rotation % 180
                        else (frame.width, frame.height)
                    )
                    geometry = plan_geometry(w, h, target.crop, target.aspect, target.short_side)
                    convert = _Converter(geometry, rotation, frame)
                    ost = out.add_stream(target.codec, rate=out_rate)
                    ost.width, ost.height, ost.pix_fmt = geometry.width, geometry.height, "yuv420p"
                    for name, value in convert.color.items():
                        setattr(ost.codec_context, name, value)
                    ost.options = reproducible_options(
                        target.codec, {"crf": str(target.crf), "preset": target.preset}
                    )
                converted = convert(frame)
                for _ in range(repeats):
                    converted.pts, converted.time_base = written, 1 / out_rate
                    for packet in ost.encode(converted):
                        out.mux(packet)
                    written += 1
            if ost is not None:
                for packet in ost.encode():
                    out.mux(packet)
        if written == 0:
            raise TranscodeError("cut_empty", f"no frames in [{start_s:.3f}, {end_s:.3f}) s")
        data = Path(tmp_name).read_bytes()
    finally:
        os.unlink(tmp_name)
    return Transcoded(
        data=data,
        frames=written,
        fps=float(out_rate),
        width=geometry.width,
        height=geometry.height,
        duration_s=written / float(out_rate),
        source_frames=read[0],
        first_source_s=float(read[1]),
    )
