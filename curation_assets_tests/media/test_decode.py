"""The single decode pass on synthetic videos with known truth (cuts, frame count, orientation)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from curation_assets.config import CurationConfig
from curation_assets.media.decode import PassResult, single_pass
from curation_assets.media.frame_shrink import shrink_into
from curation_assets.media.stored_samples import load_samples, save_samples
from curation_assets.media.synthetic import Shot, VideoSpec, write_video

CFG = CurationConfig()

SPECS = {
    "landscape": VideoSpec("landscape.mp4", (Shot(3), Shot(2.5, "pan_right"), Shot(3, "pan_left"))),
    "portrait": VideoSpec("portrait.mp4", (Shot(2.5), Shot(3, "pan_right"), Shot(2)), 180, 320),
    "rotated": VideoSpec("rotated.mp4", (Shot(3), Shot(2.5, "pan_left"), Shot(2.5)), rotation=90),
    # the same pixels without rotation metadata: the rotated video's samples must be these, turned
    "unrotated": VideoSpec("unrotated.mp4", (Shot(3), Shot(2.5, "pan_left"), Shot(2.5))),
    # 8-bit planar but full-resolution chroma: the plane path with other chroma sizes
    "yuv444p": VideoSpec("444.mp4", (Shot(2.5), Shot(3, "static"), Shot(2)), pix_fmt="yuv444p"),
    # 10-bit: not a plane format the pass reads directly, so it goes through swscale
    "10bit": VideoSpec(
        "10bit.mp4", (Shot(2.5), Shot(2.5, "pan_right"), Shot(2)), pix_fmt="yuv420p10le"
    ),
    "30fps": VideoSpec("30fps.mp4", (Shot(2), Shot(3, "pan_right"), Shot(2.5)), 256, 144, 30),
    "12fps odd size": VideoSpec("odd.mp4", (Shot(3), Shot(3, "pan_left"), Shot(2)), 250, 142, 12),
}


@pytest.fixture(scope="module")
def passes(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[VideoSpec, Path, PassResult]]:
    """Every spec written and decoded once for the module."""
    folder = tmp_path_factory.mktemp("decode")
    done = {}
    for key, spec in SPECS.items():
        path = write_video(spec, folder / spec.name)
        done[key] = spec, path, single_pass(path, CFG.shots, CFG.samples, spec.rotation)
    return done


@pytest.mark.parametrize("key", list(SPECS))
def test_cuts_exactly_at_truth(passes, key: str) -> None:
    spec, _, result = passes[key]
    assert result.error is None
    assert result.frames == spec.frames
    assert result.cuts == spec.cut_frames
    for name, cuts in result.cuts_by_detector.items():
        assert cuts == spec.cut_frames, name  # every configured detector saw every frame


@pytest.mark.parametrize("key", list(SPECS))
def test_frame_times_and_luma_delta(passes, key: str) -> None:
    spec, _, result = passes[key]
    assert np.array_equal(result.frame_times, np.arange(spec.frames) / spec.fps)
    assert result.end_s == pytest.approx(spec.duration_s)
    delta = result.luma_delta
    assert delta.shape == (spec.frames,) and delta[0] == 0.0
    inside = np.delete(delta[1:], np.asarray(spec.cut_frames) - 1)
    assert delta[spec.cut_frames].min() > 3 * np.median(inside)  # a cut is a jump in luma


@pytest.mark.parametrize("key", list(SPECS))
def test_sample_counts_and_sizes(passes, key: str) -> None:
    spec, _, result = passes[key]
    samples = result.samples
    for images, times, fps in (
        (samples.grey, samples.grey_times, CFG.samples.grey_fps),
        (samples.rgb, samples.rgb_times, CFG.samples.rgb_fps),
    ):
        assert len(images) == len(times)
        assert abs(len(images) - spec.duration_s * fps) <= 1
        assert np.all(np.diff(times) > 0) and times[0] == 0.0
    width, height = spec.display_size
    for short, image, channels in (
        (CFG.samples.grey_short_side, samples.grey[0], ()),
        (CFG.samples.rgb_short_side, samples.rgb[0], (3,)),
    ):
        scale = min(1.0, short / min(width, height))
        assert image.shape[:2] == pytest.approx((height * scale, width * scale), abs=2)
        assert image.shape[2:] == channels and image.dtype == np.uint8
    # kept samples are copies, not views of a reused buffer
    assert not np.shares_memory(samples.grey[0], samples.grey[1])


def test_rotated_samples_are_upright(passes) -> None:
    _, _, rotated = passes["rotated"]
    _, _, plain = passes["unrotated"]
    assert rotated.samples.rgb[0].shape == (320, 180, 3)  # display: portrait
    for turned, upright in zip(plain.samples.rgb, rotated.samples.rgb, strict=True):
        assert np.array_equal(np.rot90(turned, k=1), upright)  # 90 = counter-clockwise
    for turned, upright in zip(plain.samples.grey, rotated.samples.grey, strict=True):
        assert np.array_equal(np.rot90(turned, k=1), upright)


def test_colour_samples_keep_the_colours(passes) -> None:
    """RGB order and colour range survive the plane path (10-bit: the swscale path)."""
    _, path, result = passes["landscape"]
    _, _, ten_bit = passes["10bit"]
    with av.open(str(path)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    expected = cv2.resize(first, result.samples.rgb[0].shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(result.samples.rgb[0].astype(int) - expected).mean() < 4
    assert np.abs(ten_bit.samples.rgb[0].astype(int) - expected).mean() < 6


def test_samples_round_trip(passes, tmp_path: Path) -> None:
    _, _, result = passes["rotated"]
    target = tmp_path / "samples" / "v.npz"
    save_samples(target, result, jpeg_quality=95)
    stored = load_samples(target)
    assert np.array_equal(stored.frame_times, result.frame_times)
    assert np.array_equal(stored.luma_delta, result.luma_delta)
    assert stored.cuts.tolist() == result.cuts
    assert np.array_equal(stored.grey, np.stack(result.samples.grey))
    assert stored.grey_times.tolist() == result.samples.grey_times
    assert stored.rgb_times.tolist() == result.samples.rgb_times
    for i, original in enumerate(result.samples.rgb):
        back = stored.rgb(i)
        assert back.shape == original.shape
        assert np.abs(back.astype(int) - original).mean() < 3  # JPEG, quality 95
    window = stored.rgb_between(1.0, 2.0)
    assert [t for t, _ in window] == [t for t in result.samples.rgb_times if 1.0 <= t < 2.0]


def test_truncated_file_keeps_what_was_read(tmp_path: Path) -> None:
    """A copy cut short (Matroska: no index needed to open it) gives the frames before the
    damage, and no exception."""
    spec = VideoSpec("cut.mkv", (Shot(3), Shot(3, "pan_right")), 320, 180, 24)
    data = write_video(spec, tmp_path / "full.mkv").read_bytes()
    damaged = tmp_path / "damaged.mkv"
    damaged.write_bytes(data[: len(data) // 2])
    result = single_pass(damaged, CFG.shots, CFG.samples)
    assert 0 < result.frames < spec.frames or result.error is not None
    assert result.frames > spec.frames // 4
    # Matroska stores milliseconds
    assert np.allclose(result.frame_times, np.arange(result.frames) / spec.fps, atol=1e-3)
    assert len(result.luma_delta) == result.frames
    assert result.samples.grey_times[-1] <= result.frame_times[-1]


def test_unreadable_file_raises(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(Exception):  # noqa: B017 - PyAV's error class varies by cause
        single_pass(junk, CFG.shots, CFG.samples)


def test_opencv_threads_restored(passes, tmp_path: Path) -> None:
    _, path, _ = passes["landscape"]
    before = cv2.getNumThreads()
    single_pass(path, CFG.shots, CFG.samples)
    assert cv2.getNumThreads() == before


def test_shrink_is_an_area_average() -> None:
    rng = np.random.default_rng(1)
    image = cv2.GaussianBlur(rng.integers(0, 256, (720, 1280), dtype=np.uint8), (0, 0), 2)
    half = shrink_into(image, np.empty((360, 640), np.uint8))
    exact = image.reshape(360, 2, 640, 2).mean(axis=(1, 3))
    assert np.abs(half - exact).max() <= 1  # exact 2x2 means, rounded
    for size in ((256, 144), (456, 256), (250, 142)):
        out = shrink_into(image, np.empty(size[::-1], np.uint8))
        area = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        assert np.abs(out.astype(int) - area).mean() < 1.5


def test_shaky_footage_gives_no_false_cut(tmp_path) -> None:
    """A violent handheld shake fools the content threshold on some frames; the luma-change
    confirmation (shots.confirm_ratio) must reject those, while real cuts stay (cut kit)."""
    cfg = CurationConfig()
    path = write_video(
        VideoSpec("shake.mp4", (Shot(5, "shake", seed=16),), 640, 360, 24), tmp_path / "shake.mp4"
    )
    result = single_pass(path, cfg.shots, cfg.samples)
    assert result.cuts_by_detector["content"], "the raw detector is fooled (else no test)"
    assert result.cuts == []
