"""A corpus of the bad and unusual inputs production sees, each made for real, with its truth.

Every kind is written with PyAV, raw bytes or ``os.symlink`` (nothing is downloaded or checked
in), small and short so the whole corpus builds in a few seconds. ``Case`` says what the pipeline
must do with each file: reject it with an exact admission reason, or admit it and cut clips of a
known duration.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from curation_assets.media.encoding import reproducible_options
from curation_assets.media.synthetic import (
    Shot,
    VideoSpec,
    encode_frames,
    write_audio_only,
    write_video,
)
from curation_assets.media.synthetic_frames import render_shot
from curation_assets.media.synthetic_junk import write_truncated

# Every video is at least 128 px on its short side (admission's default minimum) and a few
# seconds long at a low frame rate: enough to exercise the real code paths, cheap to decode.
W, H, FPS = 192, 128, 12
HUGE = 60000  # the frame size the "huge declared size" file claims in every header


@dataclass(frozen=True)
class Case:
    kind: str  # test id
    name: str  # path inside the shard (the file name users see)
    status: str  # admitted | rejected
    reason: str | None  # admission reason (videos.reason)
    detail: str  # a part of videos.detail
    # admitted only: what the probe must report and the decode pass must produce
    codec: str | None = None
    pix_fmt: str | None = None
    display: tuple[int, int] | None = None  # width, height after rotation
    # clip durations in order; None: one clip, from 0.25 s to wherever decoding really ended
    clips_s: tuple[float, ...] | None = ()
    decode_reason: str | None = None  # decode_passes.reason, when the pass itself fails
    decode_detail: str | None = None  # a part of decode_passes.detail, when the pass notes one


def _spec(seconds: float = 5.0, **kw) -> VideoSpec:
    kw = {"width": W, "height": H, "fps": FPS, **kw}
    return VideoSpec("x", (Shot(seconds, "pan_right"),), **kw)


def write_vfr(path: Path) -> list[float]:
    """~3 s at 24 fps, then 3 s at 8 fps, in a millisecond time base; returns the frame times
    and, last, the end of the last frame.

    Each frame carries its own duration, so the container knows when the last frame ends.
    """
    frames = list(render_shot(Shot(6.0, "pan_right"), 3, 72, W, H, 12))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = reproducible_options("libx264", {"preset": "ultrafast"})
        stream.codec_context.time_base = Fraction(1, 1000)
        durations: dict[int, int] = {}  # pts -> ms; the encoder would assume 1/24 s each

        def mux(packets) -> None:
            for packet in packets:
                packet.duration = durations[packet.pts]
                out.mux(packet)

        t_ms, times = 0, []
        while t_ms < 6000:
            step = min(1000 // 24, 3000 - t_ms) if t_ms < 3000 else 125  # lands on 3 s exactly
            frame = av.VideoFrame.from_ndarray(frames[min(t_ms * 12 // 1000, 71)], format="rgb24")
            frame.pts, frame.time_base = t_ms, Fraction(1, 1000)
            durations[t_ms] = step
            times.append(t_ms / 1000)
            mux(stream.encode(frame))
            t_ms += step
        mux(stream.encode())
    return [*times, t_ms / 1000]


def write_huge_declared(path: Path, side: int = HUGE) -> Path:
    """Motion JPEG in AVI whose every frame header (JPEG SOF0) and AVI header claim side x side.

    Decoding 60000x60000 as declared would need ~5 GB per frame; it must be refused cheaply.
    """
    write_video(_spec(codec="mjpeg", pix_fmt="yuvj420p"), path)
    data = bytearray(path.read_bytes())
    at = 0
    while (at := data.find(b"\xff\xc0", at)) >= 0:  # SOF0: marker, length, precision, H, W
        struct.pack_into(">HH", data, at + 5, side, side)
        at += 2
    avih = data.find(b"avih")  # main header: dwWidth, dwHeight after 8 DWORDs
    struct.pack_into("<II", data, avih + 8 + 32, side, side)
    strf = data.find(b"strf")  # BITMAPINFOHEADER: biSize, biWidth, biHeight
    struct.pack_into("<ii", data, strf + 8 + 4, side, side)
    path.write_bytes(bytes(data))
    return path


def write_absurd_duration(path: Path) -> Path:
    """A 5 s Matroska file whose segment header declares 10^12 seconds (~31,700 years)."""
    write_video(_spec(), path)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x44\x89\x88")  # EBML Duration element, 8-byte float
    assert at > 0, "no 8-byte Duration element in the Matroska header"
    struct.pack_into(">d", data, at + 3, 1e12 * 1000)  # in TimecodeScale units (ms)
    path.write_bytes(bytes(data))
    return path


def write_damaged(path: Path) -> Path:
    """10 s, a keyframe every second; the payload of frames 40-41 (3.33-3.5 s) is overwritten.

    The decoder rejects the damaged packets; the frames after them up to the next keyframe
    (4 s) would show the damage, so only 0-3.33 s and 4-10 s are good footage.
    """
    images = render_shot(Shot(10.0, "pan_right"), 4, 10 * FPS, W, H, FPS)
    keyframes = {"preset": "ultrafast", "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0"}
    encode_frames(path, images, FPS, keyframes)
    with av.open(str(path)) as container:
        packets = [(p.pos, p.size) for p in container.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    noise = np.random.default_rng(1)
    for pos, size in packets[40:42]:  # keep each packet's length field and NAL header
        data[pos + 8 : pos + size] = noise.bytes(size - 8)
    path.write_bytes(bytes(data))
    return path


def build_corpus(shard: Path, outside: Path) -> list[Case]:
    """Write every kind into ``shard`` (and link targets into ``outside``); return the truth.

    The file named ``DELETED`` is a good video that the test removes after admission.
    """
    shard.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []

    def add(*args, **kw) -> None:
        cases.append(Case(*args, **kw))

    (shard / "zero byte.mp4").write_bytes(b"")
    add("zero_byte", "zero byte.mp4", "rejected", "unreadable", "empty file")

    whole = write_video(_spec(), outside / "whole.mp4")  # plain MP4: index at the end
    (shard / "truncated.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size * 4 // 10])
    add("truncated", "truncated.mp4", "rejected", "unreadable", "Invalid data")

    # index first: a cut copy still opens and declares all 8 s; ~75% of the data is there
    write_truncated(_spec(8.0), shard / "truncated faststart.mp4", 0.75)
    add(
        "truncated_readable",
        "truncated faststart.mp4",
        "admitted",
        None,
        "(truncated: 8.00 s declared)",
        "h264",
        "yuv420p",
        (W, H),
        None,
    )

    (shard / "random bytes.mp4").write_bytes(np.random.default_rng(8).bytes(48 * 1024))
    add("random_bytes", "random bytes.mp4", "rejected", "unreadable", "Invalid data")

    write_audio_only(shard / "audio only.m4a", 5.0)
    add("audio_only", "audio only.m4a", "rejected", "no_video_stream", "audio only")

    still = cv2.cvtColor(np.full((H, W, 3), (40, 120, 200), np.uint8), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(shard / "photo.png"), still)
    add("image_png", "photo.png", "rejected", "too_small", "image short side 128 px < 256 px")
    cv2.imwrite(str(shard / "photo.jpg"), still)
    add("image_jpeg", "photo.jpg", "rejected", "too_small", "image short side 128 px < 256 px")

    # ~1 MB of log text: FFmpeg's tty demuxer would render it as 8 s of "ANSI art" video
    line = "2026-11-25 18:43:46 INFO worker-3 uploaded batch 0042 to the shard folder\n"
    (shard / "server log.txt").write_text(line * 14000, encoding="utf-8")
    add("text", "server log.txt", "rejected", "unreadable", "text, not video")

    *vfr_frames, vfr_s = write_vfr(shard / "variable frame rate.mp4")
    vfr_start = next(t for t in vfr_frames if t >= 0.25)  # clips start on a frame
    add(
        "variable_frame_rate",
        "variable frame rate.mp4",
        "admitted",
        None,
        f"{vfr_s:.2f} s",
        "h264",
        "yuv420p",
        (W, H),
        (vfr_s - vfr_start,),
    )

    for kind, name, codec, pix_fmt, tag in [
        ("ten_bit", "ten bit.mp4", "libx264", "yuv420p10le", "h264"),
        ("hevc", "hevc.mp4", "libx265", "yuv420p", "hevc"),
        ("hevc_ten_bit", "hevc ten bit.mkv", "libx265", "yuv420p10le", "hevc"),
        ("vp9", "vp9.webm", "libvpx-vp9", "yuv420p", "vp9"),
        ("av1", "av1.mkv", "libsvtav1", "yuv420p", "av1"),
    ]:
        write_video(_spec(codec=codec, pix_fmt=pix_fmt), shard / name)
        add(kind, name, "admitted", None, f"{tag} 5.00 s", tag, pix_fmt, (W, H), (4.75,))

    write_damaged(shard / "damaged middle.mp4")
    add("damaged_middle", "damaged middle.mp4", "admitted", None, f"{W}x{H} h264 10.00 s", "h264",
        "yuv420p", (W, H), (5.75,), decode_detail="damaged packet(s)")  # fmt: skip

    write_video(_spec(1 / FPS), shard / "single frame.mp4")
    add("single_frame", "single frame.mp4", "rejected", "too_short", "0.08 s < 4 s")

    write_huge_declared(shard / "huge declared size.avi")
    add("huge_declared_size", "huge declared size.avi", "rejected", "unreadable", f"{HUGE}x{HUGE}")
    # within FFmpeg's own limit (~268 Mpx) but over ours: refused before any frame is decoded
    write_huge_declared(shard / "large declared size.avi", 16000)
    add("large_declared_size", "large declared size.avi", "rejected", "unreadable",
        "declared frame size 16000x16000 is over")  # fmt: skip

    write_absurd_duration(shard / "absurd duration.mkv")
    add(
        "absurd_duration",
        "absurd duration.mkv",
        "admitted",
        None,
        "(truncated: 1000000000000.00 s declared)",
        "h264",
        "yuv420p",
        (W, H),
        (4.75,),
    )

    write_video(_spec(), shard / "raw stream.h264")  # H.264 without a container: no timestamps
    add("raw_stream", "raw stream.h264", "rejected", "unreadable", "duration unknown (h264 has no")

    for kind, name, spec, codec, pix_fmt in [
        ("odd_size", "odd size 193x129.mp4", _spec(pix_fmt="yuv444p", width=193, height=129),
         "h264", "yuv444p"),
        ("mpeg_ts", "broadcast.ts", _spec(), "h264", "yuv420p"),
        ("mpeg4_part2_avi", "old camera.avi", _spec(codec="mpeg4"), "mpeg4", "yuv420p"),
    ]:  # fmt: skip
        write_video(spec, shard / name)
        size = (spec.width, spec.height)
        add(kind, name, "admitted", None, f"{size[0]}x{size[1]} {codec} 5.00 s", codec, pix_fmt,
            size, (4.75,))  # fmt: skip

    write_video(_spec(rotation=90), shard / "rotated 90.mp4")
    add("rotation", "rotated 90.mp4", "admitted", None, f"{H}x{W} h264", "h264", "yuv420p",
        (H, W), (4.75,))  # fmt: skip

    for kind, name in [
        ("non_ascii_name", "vidéo d'été 日本語 🎬.mp4"),
        ("space_names", "sub folder/  two  spaces .mp4"),
    ]:
        write_video(_spec(), shard / name)
        add(kind, name, "admitted", None, f"{W}x{H} h264", "h264", "yuv420p", (W, H), (4.75,))

    # Links out of the upload root: a good video (would be admitted if it were read) and a FIFO
    # (opening it for reading would block forever). Neither may be opened.
    os.symlink(whole, shard / "link outside.mp4")
    add("symlink_outside", "link outside.mp4", "rejected", "outside_shard", "outside the shard")
    os.mkfifo(outside / "pipe.mp4")
    os.symlink(outside / "pipe.mp4", shard / "link to fifo.mp4")
    add("symlink_fifo", "link to fifo.mp4", "rejected", "outside_shard", "outside the shard")

    write_video(_spec(), shard / DELETED)
    add(
        "deleted_mid_run",
        DELETED,
        "admitted",
        None,
        f"{W}x{H} h264",
        "h264",
        "yuv420p",
        (W, H),
        (),
        decode_reason="decode_failed",
    )
    return cases


DELETED = "deleted mid run.mp4"

# Every kind build_corpus writes (the tests are parametrised over these before it runs).
KINDS = (
    "zero_byte",
    "truncated",
    "truncated_readable",
    "random_bytes",
    "audio_only",
    "image_png",
    "image_jpeg",
    "text",
    "variable_frame_rate",
    "ten_bit",
    "hevc",
    "hevc_ten_bit",
    "vp9",
    "av1",
    "damaged_middle",
    "single_frame",
    "huge_declared_size",
    "large_declared_size",
    "absurd_duration",
    "raw_stream",
    "odd_size",
    "mpeg_ts",
    "mpeg4_part2_avi",
    "rotation",
    "non_ascii_name",
    "space_names",
    "symlink_outside",
    "symlink_fifo",
    "deleted_mid_run",
)
