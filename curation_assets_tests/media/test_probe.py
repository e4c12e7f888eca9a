"""probe_file + admission_reason on real media with known properties."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from curation_assets.config import CurationConfig
from curation_assets.config.sections import AdmissionConfig
from curation_assets.media.decode import single_pass
from curation_assets.media.image import probe_media
from curation_assets.media.probe import Probe, admission_reason, probe_file
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.synthetic_junk import (
    EXTRA_JUNK_REASONS,
    JUNK_REASONS,
    write_junk,
    write_truncated,
)
from curation_assets.vocabulary import Admission

DEFAULT = AdmissionConfig()
ALL_JUNK = {**JUNK_REASONS, **EXTRA_JUNK_REASONS}


def reason(probe: Probe, cfg: AdmissionConfig = DEFAULT) -> Admission | None:
    return admission_reason(probe, cfg)[0]


@pytest.fixture(scope="module")
def junk(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("junk")
    assert write_junk(folder, extra=True) == ALL_JUNK
    return folder


def test_junk_writes_exactly_its_kinds(junk, tmp_path):
    assert sorted(p.name for p in junk.iterdir()) == sorted(ALL_JUNK)
    assert write_junk(tmp_path) == JUNK_REASONS  # the default set stays as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(JUNK_REASONS)
    assert not set(JUNK_REASONS) & set(EXTRA_JUNK_REASONS)


@pytest.mark.parametrize("name", sorted(ALL_JUNK))
def test_every_junk_kind_gets_its_reason(junk, name):
    probe = probe_media(junk / name, DEFAULT.image_max_pixels)
    got, detail = admission_reason(probe, DEFAULT)
    assert got == ALL_JUNK[name], detail
    assert isinstance(got, Admission) and detail


def test_junk_details(junk):
    def detail(name):
        return admission_reason(probe_media(junk / name, DEFAULT.image_max_pixels), DEFAULT)[1]

    assert detail("empty.mp4") == "empty file"
    assert detail("tone only.m4a") == "audio only"
    assert detail("still.png") == detail("image inside.mp4") == "image short side 120 px < 256 px"
    # the video probe alone still knows a picture is no video
    assert admission_reason(probe_file(junk / "still.png"), DEFAULT)[1] == "still image (png_pipe)"
    assert detail("two seconds.mp4") == "2.00 s < 4 s"
    assert detail("tiny 96x64.mp4") == "short side 64 px < 128 px"
    assert detail("overlong.mp4") == "125.00 s > 120 s"
    assert "truncated: 6.00 s declared" in detail("cut in half.mp4")
    assert "Invalid data" in detail("random bytes.mp4")
    assert str(junk) not in detail("notes.txt")  # FFmpeg's repeat of the path is dropped


def test_unreadable_probes_carry_size_and_hash(junk):
    probe = probe_file(junk / "random bytes.mp4")
    assert not probe.readable and probe.bytes == 64 * 1024
    assert (
        probe.content_sha256 == hashlib.sha256((junk / "random bytes.mp4").read_bytes()).hexdigest()
    )
    assert probe.as_row()["error"] == probe.error


def test_missing_file_and_folder_are_unreadable(tmp_path):
    missing = probe_file(tmp_path / "gone.mp4")
    assert not missing.readable and missing.error.startswith("os: ")
    assert reason(missing) == Admission.UNREADABLE
    folder = probe_file(tmp_path)
    assert not folder.readable and reason(folder) == Admission.UNREADABLE


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> tuple[VideoSpec, Path]:
    spec = VideoSpec("known é ü.mp4", (Shot(3), Shot(2.4, "pan_left")), 256, 144, 25, audio=True)
    return spec, write_video(spec, tmp_path_factory.mktemp("known") / spec.name)


def test_known_video(known):
    spec, path = known
    probe = probe_file(path)
    assert probe.readable and probe.error is None and probe.has_video and probe.has_audio
    assert probe.path == str(path)
    assert probe.container_format == "mov,mp4,m4a,3gp,3g2,mj2"
    assert (probe.codec, probe.pix_fmt) == ("h264", "yuv420p")
    assert (probe.coded_width, probe.coded_height) == (256, 144)
    assert (probe.width, probe.height, probe.rotation) == (256, 144, 0)
    assert probe.fps == 25.0
    assert probe.duration_s == pytest.approx(spec.duration_s, abs=0.01) == 5.4
    assert probe.frame_count == spec.frames == 135 and not probe.frame_count_estimated
    assert not probe.truncated and probe.declared_duration_s == probe.duration_s
    assert probe.bytes == path.stat().st_size
    assert probe.content_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert admission_reason(probe, DEFAULT) == (None, "256x144 h264 5.40 s")


def test_no_audio(tmp_path):
    spec = VideoSpec("quiet.mp4", (Shot(4.5),), 160, 128, 30)
    probe = probe_file(write_video(spec, tmp_path / spec.name))
    assert not probe.has_audio and probe.fps == 30.0 and probe.frame_count == 135
    assert reason(probe) is None


def test_matroska_counts_frames_from_duration(tmp_path):
    spec = VideoSpec("clip.mkv", (Shot(5),), 192, 128, 12)
    probe = probe_file(write_video(spec, tmp_path / spec.name))
    assert probe.container_format == "matroska,webm"
    assert probe.frame_count == 60 and probe.frame_count_estimated  # mkv stores no frame count
    assert probe.duration_s == pytest.approx(5.0, abs=0.01) and reason(probe) is None


@pytest.mark.parametrize(
    ("rotation", "display"),
    [(0, (320, 180)), (90, (180, 320)), (180, (320, 180)), (270, (180, 320))],
)
def test_display_size_after_rotation(tmp_path, rotation, display):
    spec = VideoSpec("r.mp4", (Shot(4.5),), 320, 180, 12, rotation=rotation)
    probe = probe_file(write_video(spec, tmp_path / spec.name))
    assert probe.rotation == rotation
    assert (probe.coded_width, probe.coded_height) == (320, 180)
    assert (probe.width, probe.height) == display == spec.display_size


def test_rotation_decides_too_small(tmp_path):
    # coded 320x120 is too small either way; the short side is what counts, not the coded height
    spec = VideoSpec("r.mp4", (Shot(4.5),), 320, 136, 12, rotation=90)
    probe = probe_file(write_video(spec, tmp_path / spec.name))
    assert (probe.width, probe.height) == (136, 320) and reason(probe) is None
    assert reason(probe, AdmissionConfig(min_short_side_px=137)) == Admission.TOO_SMALL


@pytest.mark.parametrize(
    "name",
    ["with space.mp4", "vidéo café.mp4", "日本語の動画.mp4", "emoji 🎬.mov", "quote's [1].mp4"],
)
def test_file_names(tmp_path, name):
    path = write_video(VideoSpec(name, (Shot(4.5),), 160, 128, 12), tmp_path / "sub dir" / name)
    probe = probe_file(path)
    assert probe.readable and probe.path == str(path) and reason(probe) is None
    assert probe_file(str(path)) == probe  # str and Path alike


def test_symlink_to_a_video_is_probed_as_the_video(tmp_path, known):
    _, path = known
    link = tmp_path / "link.mp4"
    os.symlink(path, link)
    probe = probe_file(link)
    assert probe.content_sha256 == probe_file(path).content_sha256 and reason(probe) is None


def test_thresholds_are_configurable(known, junk):
    probe = probe_file(known[1])  # 5.4 s, 256x144
    assert reason(probe, AdmissionConfig(min_duration_s=5.4)) is None
    assert reason(probe, AdmissionConfig(min_duration_s=6)) == Admission.TOO_SHORT
    assert admission_reason(probe, AdmissionConfig(min_duration_s=6))[1] == "5.40 s < 6 s"
    assert reason(probe, AdmissionConfig(max_duration_s=5.4)) is None
    assert reason(probe, AdmissionConfig(min_duration_s=1, max_duration_s=5)) == Admission.TOO_LONG
    assert reason(probe, AdmissionConfig(min_short_side_px=144)) is None
    assert reason(probe, AdmissionConfig(min_short_side_px=145)) == Admission.TOO_SMALL
    short = probe_file(junk / "two seconds.mp4")
    assert reason(short, AdmissionConfig(min_duration_s=1.5, min_short_side_px=96)) is None
    tiny = probe_file(junk / "tiny 96x64.mp4")
    assert reason(tiny, AdmissionConfig(min_short_side_px=64)) is None
    overlong = probe_file(junk / "overlong.mp4")
    assert reason(overlong, AdmissionConfig(max_duration_s=130)) is None
    # order of checks: duration before size
    assert reason(tiny, AdmissionConfig(min_duration_s=10)) == Admission.TOO_SHORT


def test_admission_config_validation():
    with pytest.raises(ValidationError, match="min_duration_s"):
        AdmissionConfig(min_duration_s=10, max_duration_s=10)
    for bad in ({"min_duration_s": 0}, {"min_short_side_px": 0}, {"probe_timeout_s": -1}):
        with pytest.raises(ValidationError):
            AdmissionConfig(**bad)


# -- a file whose header declares more than it holds ------------------------------------------


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_truncated_at_90_percent_is_admitted_with_what_it_holds(tmp_path, suffix):
    """Index first (faststart MP4, or Matroska), data cut at 90%: the header still says 6 s.

    The probe reads the packets at the tail (no decoding) and reports the ~5.3 s that are there,
    which is what the decode pass will get; 5.3 s passes admission, so the file is admitted.
    """
    spec = VideoSpec("t", (Shot(6.0),), 320, 192, 24)
    path = write_truncated(spec, tmp_path / f"cut{suffix}", 0.9)
    probe = probe_file(path)
    assert probe.readable and probe.truncated
    assert probe.declared_duration_s == pytest.approx(6.0, abs=0.01)
    assert 4.5 < probe.duration_s < 5.9
    assert probe.frame_count_estimated and probe.frame_count < spec.frames
    got, detail = admission_reason(probe, DEFAULT)
    assert got is None and detail.endswith("(truncated: 6.00 s declared)")
    cfg = CurationConfig()
    decoded = single_pass(path, cfg.shots, cfg.samples, probe.rotation)
    assert 0 < decoded.frames < spec.frames
    assert abs(decoded.frames - probe.frame_count) <= 2  # the probe predicted the decode
    assert probe_file(path) == probe  # deterministic


def test_truncated_without_index_is_unreadable(tmp_path):
    """Plain MP4 keeps its index at the end: cut at 90%, nothing can be read at all."""
    spec = VideoSpec("t", (Shot(6.0),), 320, 192, 24)
    full = write_video(spec, tmp_path / "full.mp4")
    cut = tmp_path / "cut.mp4"
    data = full.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.9)])
    probe = probe_file(cut)
    assert not probe.readable and reason(probe) == Admission.UNREADABLE


def test_whole_faststart_file_is_not_truncated(tmp_path):
    spec = VideoSpec("t", (Shot(6.0),), 320, 192, 24)
    path = write_truncated(spec, tmp_path / "whole.mp4", 1.0)
    probe = probe_file(path)
    assert not probe.truncated and probe.frame_count == 144 and probe.duration_s == 6.0
