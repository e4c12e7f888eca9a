"""Still images: probed, admitted or refused with a reason, decoded upright in 8-bit RGB, and
curated by the real per-shard assets next to a video (real photos, known flaws, bad files)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from curation_assets.config import CurationConfig, Layout
from curation_assets.media.image import load_rgb, probe_media
from curation_assets.media.image_kit import (
    CASES,
    CLEAN,
    FLAWED,
    write_image_shard,
    write_video_of,
)
from curation_assets.media.photo_kit import photo
from curation_assets.media.probe import admission_reason
from curation_assets.resources import store_for
from curation_assets.vocabulary import NOT_APPLICABLE_TO_IMAGES
from curation_assets_tests.materialize import materialize_shard

CFG = CurationConfig()
BY_NAME = {case.name: case for case in CASES}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("image_kit")
    write_image_shard(folder)
    return folder


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_each_file_is_admitted_or_refused_with_its_reason(kit: Path, name: str) -> None:
    case = BY_NAME[name]
    probe = probe_media(kit / name, CFG.admission.image_max_pixels)
    reason, detail = admission_reason(probe, CFG.admission)
    assert (reason.value if reason else None) == case.reason, detail
    assert probe.media == case.media and detail
    if case.display:
        assert (probe.width, probe.height) == case.display


def test_a_decompression_bomb_is_refused_from_its_header(kit: Path) -> None:
    probe = probe_media(kit / "bomb.png", CFG.admission.image_max_pixels)
    reason, detail = admission_reason(probe, CFG.admission)
    assert reason == "too_large" and "40000x40000" in detail and "never decoded" in detail


def test_broken_images_say_what_broke(kit: Path) -> None:
    def detail(name: str) -> str:
        return admission_reason(probe_media(kit / name, 10**9), CFG.admission)[1]

    assert "truncated" in detail("truncated.jpg")
    assert "broken data stream" in detail("corrupt crc.png")
    assert detail("empty.png") == "empty file"
    assert detail("tiny.png") == "image short side 66 px < 256 px"
    assert detail("one second.gif") == "1.00 s < 4 s"  # animated: read as a video


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float64).ravel()
    b = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def test_every_pixel_format_becomes_the_same_rgb_picture(kit: Path) -> None:
    astronaut = load_rgb(kit / "astronaut.png")
    cmyk = load_rgb(kit / "cmyk.jpg")
    assert cmyk.shape == astronaut.shape and cmyk.dtype == np.uint8
    assert np.abs(cmyk.astype(int) - astronaut).mean() < 4  # not inverted, not washed out
    grey8 = cv2.cvtColor(photo("coffee"), cv2.COLOR_RGB2GRAY)
    grey16 = load_rgb(kit / "grey16.png")
    assert np.abs(grey16[:, :, 0].astype(int) - grey8).max() <= 1  # 16 bits scaled, not clipped
    assert (grey16[:, :, 0] == grey16[:, :, 2]).all()
    rgba = load_rgb(kit / "rgba.png")
    assert (rgba[:40, :40] == 255).all()  # transparent: shown over white
    assert np.abs(rgba[100:, 100:].astype(int) - photo("rocket")[100:, 100:]).max() <= 1
    palette = load_rgb(kit / "palette alpha.png")
    assert palette.shape == (300, 451, 3) and _corr(palette, photo("chelsea")) > 0.95


def test_exif_orientation_is_applied(kit: Path) -> None:
    upright = load_rgb(kit / "exif rotated.jpg")
    assert upright.shape == (400, 300, 3)
    expected = cv2.resize(photo("chelsea"), (300, 400))
    assert _corr(upright, expected) > 0.95


def test_shrinking_decodes_at_the_size_asked(kit: Path) -> None:
    small = load_rgb(kit / "coffee.jpg", short_side=256)
    assert min(small.shape[:2]) == 256
    full = cv2.resize(
        load_rgb(kit / "coffee.jpg"), small.shape[1::-1], interpolation=cv2.INTER_AREA
    )
    assert np.abs(small.astype(int) - full).mean() < 3


# -- the real per-shard assets on a shard of images and a video --------------------------------


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("image_home")
    folder = Layout(home).shard_uploads("mix")
    write_image_shard(folder)
    write_video_of(folder)
    (folder / "_READY").write_text("")
    materialize_shard(home, "mix")
    return home, store_for(Layout(home))


def test_every_file_gets_one_row_with_its_media_and_reason(curated) -> None:
    _, store = curated
    videos = store.query("SELECT file_name, media, status, reason FROM videos ORDER BY file_name")
    rows = {r["file_name"]: r for r in videos.to_dicts()}
    assert set(rows) == set(BY_NAME) | {"clip.mp4"}
    assert rows["clip.mp4"]["media"] == "video" and rows["clip.mp4"]["status"] == "admitted"
    for name, case in BY_NAME.items():
        assert rows[name]["status"] == case.status, name
        assert rows[name]["reason"] == case.reason, name
        assert rows[name]["media"] == case.media, name


def test_each_admitted_image_is_one_clip_without_a_time_span(curated) -> None:
    _, store = curated
    clips = store.query(
        "SELECT v.file_name, c.media, c.start_s, c.end_s, c.duration_s FROM clips c "
        "JOIN videos v USING (video_id) WHERE v.media = 'image' ORDER BY v.file_name"
    )
    admitted = sorted(
        n for n, c in BY_NAME.items() if c.status == "admitted" and c.media == "image"
    )
    assert clips["file_name"].to_list() == admitted
    assert set(clips["media"]) == {"image"}
    assert set(clips["start_s"]) == set(clips["end_s"]) == set(clips["duration_s"]) == {0.0}
    videos = store.query("SELECT DISTINCT c.media FROM clips c JOIN videos v USING (video_id) "
                         "WHERE v.media = 'video'")  # fmt: skip
    assert videos["media"].to_list() == ["video"]


def _failed_visual_gates(store) -> dict[str, set[str]]:
    rows = store.query(
        "SELECT v.file_name, d.filter FROM decisions d JOIN clips c USING (clip_id) "
        "JOIN videos v USING (video_id) WHERE c.media = 'image' AND d.stage = 'visual_filter' "
        "AND d.passed = false"
    ).to_dicts()
    failed: dict[str, set[str]] = {}
    for row in rows:
        failed.setdefault(row["file_name"], set()).add(row["filter"])
    return failed


def test_flawed_photos_fail_for_their_flaw_and_clean_ones_pass(curated) -> None:
    _, store = curated
    failed = _failed_visual_gates(store)
    for case in FLAWED:
        if case.fails:  # its flaw's gate fails (a dark photo also reads as soft: that is true)
            assert case.fails in failed.get(case.name, set()), (case.name, failed.get(case.name))
    for case in CLEAN:
        assert case.name not in failed, (case.name, failed[case.name])
    # each flaw's gate fails only where that flaw is
    assert {n for n, f in failed.items() if "text_overlay" in f} == {"coffee banner.jpg"}
    assert {n for n, f in failed.items() if "exposure" in f} == {"chelsea dark.jpg"}


def test_people_in_photos(curated) -> None:
    _, store = curated
    labels = store.query(
        "SELECT v.file_name, l.label FROM clip_labels l JOIN clips c USING (clip_id) "
        "JOIN videos v USING (video_id) WHERE l.kind = 'has_human' AND c.media = 'image'"
    ).to_dicts()
    got = {r["file_name"]: r["label"] for r in labels}
    for name, case in BY_NAME.items():
        if case.has_human is not None:
            assert got[name] == ("yes" if case.has_human else "no"), name


def test_motion_is_not_applicable_to_images_never_passed(curated) -> None:
    _, store = curated
    motion = store.query(
        "SELECT d.passed, d.reason FROM decisions d JOIN clips c USING (clip_id) "
        "WHERE c.media = 'image' AND d.stage = 'motion_filter'"
    )
    assert motion.height > 0
    assert motion["passed"].null_count() == motion.height
    assert set(motion["reason"]) == {NOT_APPLICABLE_TO_IMAGES}
    scores = store.query(
        "SELECT count(*) AS n FROM scores s JOIN clips c USING (clip_id) "
        "WHERE c.media = 'image' AND s.scorer IN (SELECT DISTINCT scorer FROM scores "
        "WHERE signal IN ('motion_mean', 'shake', 'slideshow'))"
    )
    assert scores["n"][0] == 0


def test_a_watermark_is_not_claimed_from_one_picture(curated) -> None:
    _, store = curated
    rows = store.query(
        "SELECT d.passed, d.reason FROM decisions d JOIN clips c USING (clip_id) "
        "WHERE c.media = 'image' AND d.filter = 'watermark'"
    )
    assert rows.height > 0 and rows["passed"].null_count() == rows.height
    assert all(r.startswith("not_scored") for r in rows["reason"])


def test_images_are_captioned(curated) -> None:
    _, store = curated
    captions = store.query(
        "SELECT count(DISTINCT cap.clip_id) AS n FROM captions cap JOIN clips c USING (clip_id) "
        "WHERE c.media = 'image'"
    )
    assert captions["n"][0] >= 6
