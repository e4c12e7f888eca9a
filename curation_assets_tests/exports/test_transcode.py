"""Cutting one clip: frame-accurate, upright, cropped, scaled and re-timed (real PyAV media)."""

from __future__ import annotations

import io
from pathlib import Path

import av
import pytest

from curation_assets.config import CurationConfig
from curation_assets.media import synthetic
from curation_assets.media.decode import single_pass
from curation_assets.media.probe import probe_file
from curation_assets.media.transcode import (
    TranscodeError,
    expected_frames,
    plan_geometry,
    transcode_clip,
)
from curation_assets_tests.exports.pattern import decoded_indices, write_pattern_video


@pytest.fixture(scope="module")
def source30(tmp_path_factory) -> Path:
    """5 s, 30 fps, 320x180, keyframe every second."""
    return write_pattern_video(tmp_path_factory.mktemp("src") / "p30.mp4", 150, 320, 180, 30)


def _stream_facts(data: bytes) -> tuple[int, float, int, int, float, int]:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return (
            len(frames),
            float(stream.average_rate),
            stream.codec_context.width,
            stream.codec_context.height,
            float(frames[-1].time + 1 / float(stream.average_rate)) - float(frames[0].time),
            frames[0].rotation or 0,
        )


def test_cut_starts_and_ends_on_the_exact_source_frames(source30: Path) -> None:
    # frames 37..120: starts 7 frames after a keyframe (30), so the cut must decode and drop
    out = transcode_clip(source30, 37 / 30, 121 / 30)
    assert decoded_indices(out.data) == list(range(37, 121))
    assert (out.frames, out.source_frames, out.fps) == (84, 84, 30.0)
    assert out.duration_s == pytest.approx(84 / 30)
    assert out.first_source_s == pytest.approx(37 / 30)
    frames, fps, width, height, duration, rotation = _stream_facts(out.data)
    assert (frames, fps, width, height, rotation) == (84, 30.0, 320, 180, 0)
    assert duration == pytest.approx(84 / 30, abs=1e-3)


def test_cut_at_the_very_start_and_end_of_the_source(source30: Path) -> None:
    assert decoded_indices(transcode_clip(source30, 0.0, 10 / 30).data) == list(range(10))
    assert decoded_indices(transcode_clip(source30, 140 / 30, 5.0).data) == list(range(140, 150))


def test_fps_30_to_24_picks_the_nearest_source_frames(source30: Path) -> None:
    out = transcode_clip(source30, 37 / 30, 121 / 30, fps=24)
    indices = decoded_indices(out.data)
    assert out.frames == len(indices) == expected_frames(84, 30, 24) == 68
    # output tick k at k/24 s; nearest source frame (ties to the later one), the last one held
    assert indices == [min(120, 37 + int(k * 30 / 24 + 0.5)) for k in range(68)]
    frames, fps, *_ = _stream_facts(out.data)
    assert (frames, fps) == (68, 24.0)
    assert out.duration_s == pytest.approx(68 / 24)


def test_higher_fps_than_the_source_keeps_the_source_rate(source30: Path) -> None:
    out = transcode_clip(source30, 0.0, 1.0, fps=60)
    assert (out.frames, out.fps) == (30, 30.0)


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_rotated_sources_come_out_upright(tmp_path: Path, rotation: int) -> None:
    src = write_pattern_video(tmp_path / f"r{rotation}.mp4", 48, 320, 180, 24, rotation)
    probe = probe_file(src)
    assert (probe.width, probe.height, probe.rotation) == (320, 180, rotation)
    out = transcode_clip(src, 12 / 24, 36 / 24, aspect=16 / 9, short_side=90)
    assert (out.width, out.height) == (160, 90)
    assert decoded_indices(out.data) == list(range(12, 36))  # reads only when upright
    *_, width, height, _, frame_rotation = _stream_facts(out.data)
    assert (width, height, frame_rotation) == (160, 90, 0)


@pytest.mark.parametrize("rotation", [90, 270])
def test_border_crop_on_a_rotated_source_is_in_display_pixels(tmp_path: Path, rotation) -> None:
    src = write_pattern_video(tmp_path / f"c{rotation}.mp4", 24, 320, 180, 24, rotation)
    out = transcode_clip(src, 0.0, 0.5, crop=(0, 0, 160, 180), aspect=8 / 9)
    assert (out.width, out.height) == (160, 180)
    with av.open(io.BytesIO(out.data)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    assert first[2:18, :].mean() > 200  # the white left half of the orientation band only


def test_odd_sized_source_gives_even_output(tmp_path: Path) -> None:
    src = write_pattern_video(tmp_path / "odd.mp4", 24, 322, 182, 24)
    out = transcode_clip(src, 0.0, 1.0, crop=(1, 1, 319, 179))
    assert (out.width % 2, out.height % 2) == (0, 0) and out.frames == 24


def test_portrait_phone_video_to_a_9_16_bucket(tmp_path: Path) -> None:
    spec = synthetic.VideoSpec("phone.mp4", (synthetic.Shot(3.0, "pan_right"),), 180, 320, 24)
    src = synthetic.write_video(spec, tmp_path / "phone.mp4")
    out = transcode_clip(src, 0.5, 2.5, aspect=9 / 16, short_side=90)
    assert (out.width, out.height, out.frames) == (90, 160, 48)
    frames, fps, width, height, *_ = _stream_facts(out.data)
    assert (frames, fps, width, height) == (48, 24.0, 90, 160)


def test_rotation_metadata_portrait_from_the_synthetic_kit(tmp_path: Path) -> None:
    spec = synthetic.VideoSpec("rot.mp4", (synthetic.Shot(2.0),), 320, 180, 24, rotation=90)
    src = synthetic.write_video(spec, tmp_path / "rot.mp4")
    out = transcode_clip(src, 0.0, 2.0, aspect=9 / 16, short_side=90)
    assert (out.width, out.height) == (90, 160)  # display is 180x320: portrait, no crop needed


def test_border_crop_is_applied_before_the_bucket_crop(source30: Path) -> None:
    # the orientation band is white on the left half only; crop to that half and the band
    # must be white across the whole output (and the bits still readable)
    out = transcode_clip(source30, 0.0, 0.5, crop=(0, 0, 160, 180), aspect=8 / 9)
    assert (out.width, out.height) == (160, 180)
    with av.open(io.BytesIO(out.data)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    assert first[2:18, :].mean() > 200
    uncropped = transcode_clip(source30, 0.0, 0.5)
    with av.open(io.BytesIO(uncropped.data)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="gray")
    assert first[2:18, 170:].mean() < 40


def test_plan_geometry_centre_crops_to_the_bucket_and_never_upscales() -> None:
    g = plan_geometry(1920, 1080, aspect=1.0, short_side=512)
    assert (g.crop_x, g.crop_y, g.crop_w, g.crop_h) == (420, 0, 1080, 1080)
    assert (g.width, g.height) == (512, 512)
    g = plan_geometry(640, 360, short_side=720)
    assert (g.width, g.height) == (640, 360)
    g = plan_geometry(1280, 720, crop=(0, 100, 1280, 520), aspect=16 / 9, short_side=360)
    assert (g.crop_y, g.crop_h) == (100, 520) and (g.width, g.height) == (640, 360)
    with pytest.raises(ValueError, match="aspect"):
        plan_geometry(640, 360, aspect=0.0)


def test_missing_and_broken_sources_raise_transcode_errors(tmp_path: Path) -> None:
    with pytest.raises(TranscodeError) as missing:
        transcode_clip(tmp_path / "gone.mp4", 0.0, 1.0)
    assert missing.value.kind == "source_missing"
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 500)
    with pytest.raises(TranscodeError) as broken:
        transcode_clip(junk, 0.0, 1.0)
    assert broken.value.kind == "unreadable"


def test_a_range_past_the_end_of_the_source_is_cut_empty(source30: Path) -> None:
    with pytest.raises(TranscodeError) as empty:
        transcode_clip(source30, 6.0, 7.0)
    assert empty.value.kind == "cut_empty"


def test_cut_uses_the_time_axis_of_the_single_decode_pass(tmp_path: Path) -> None:
    # B-frames: packets arrive out of order and the first pts is not 0; clip times come from
    # the decode pass, and the cut must land on the same frames
    src = write_pattern_video(tmp_path / "bframes.mp4", 150, 320, 180, 30, preset="medium")
    cfg = CurationConfig()
    times = single_pass(src, cfg.shots, cfg.samples).frame_times
    out = transcode_clip(src, float(times[37]), float(times[121]))
    assert decoded_indices(out.data) == list(range(37, 121))
    out = transcode_clip(src, float(times[37]), float(times[121]), fps=15)
    assert decoded_indices(out.data) == [37 + 2 * k for k in range(42)]


def test_yuv444_source_goes_through_the_plane_path(tmp_path: Path) -> None:
    src = write_pattern_video(tmp_path / "444.mp4", 30, 320, 180, 30, pix_fmt="yuv444p")
    out = transcode_clip(src, 5 / 30, 25 / 30, short_side=90)
    assert decoded_indices(out.data) == list(range(5, 25))
    with av.open(io.BytesIO(out.data)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_full_range_source_stays_tagged_full_range(tmp_path: Path) -> None:
    spec = synthetic.VideoSpec("j.mp4", (synthetic.Shot(1.0),), 160, 96, 24, pix_fmt="yuvj420p")
    src = synthetic.write_video(spec, tmp_path / "j.mp4")
    out = transcode_clip(src, 0.0, 1.0)
    with av.open(io.BytesIO(out.data)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
    assert stream.codec_context.color_range == frame.color_range == 2  # JPEG / PC range
    plain = transcode_clip(write_pattern_video(tmp_path / "tv.mp4", 12, 160, 96, 24), 0.0, 0.5)
    with av.open(io.BytesIO(plain.data)) as container:
        # TV range; x264 leaves the default unsignalled (unspecified reads as TV range)
        assert container.streams.video[0].codec_context.color_range in (0, 1)
