"""Shot detection against known truth: synthetic videos whose hard cuts are known to the frame.

The kit varies frame rate (12/24/25/30), size (landscape, portrait, square, rotated), shot length
(0.8-8 s) and motion (static, drift, pans), and puts look-alike shots (same hue and brightness,
other texture) next to each other, so the colour-only path of a detector is not enough.
Precision and recall of ``single_pass`` cuts (default config) are measured with a tolerance of one
frame, per video and over the whole kit.
"""

from __future__ import annotations

import pytest

from curation_assets.config import CurationConfig
from curation_assets.media.decode import PassResult, single_pass
from curation_assets.media.synthetic import Shot, VideoSpec, write_video

TOLERANCE_FRAMES = 1
BAR = 0.95  # over the kit
VIDEO_BAR = 0.8  # per video (a handful of cuts each): a regression shows where it happened

S = Shot


def _alike(hue: int, value: int, *shots: tuple[float, str]) -> tuple[Shot, ...]:
    """Neighbouring shots of one hue and brightness: the cut is only a change of texture."""
    return tuple(S(sec, motion, hue=hue, value=value) for sec, motion in shots)


KIT: list[VideoSpec] = [
    VideoSpec(
        "fast cuts 24.mp4",
        (
            S(0.8),
            S(1.2, "pan_left"),
            S(0.8, "static"),
            S(1.5, "pan_right"),
            S(1.0),
            S(0.9, "static"),
            S(2.0, "pan_left"),
            S(1.1),
        ),
        240,
        136,
        24,
    ),
    VideoSpec(
        "pans 30.mp4",
        (
            S(3, "pan_right"),
            S(2.5, "pan_left"),
            S(4, "pan_right"),
            S(1.5, "pan_left"),
            S(3.5, "static"),
            S(2, "pan_right"),
        ),
        320,
        180,
        30,
    ),
    VideoSpec(
        "portrait 25.mp4",
        (S(2), S(1.6, "static"), S(3, "pan_left"), S(1.2), S(2.4, "pan_right"), S(5)),
        180,
        320,
        25,
    ),
    VideoSpec(
        "square 12.mp4",
        (S(2, "static"), S(3), S(1.5, "pan_right"), S(4, "pan_left"), S(2.5)),
        240,
        240,
        12,
    ),
    VideoSpec(
        "rotated 90 24.mp4",
        (S(4), S(2, "pan_left"), S(3, "static"), S(1.0), S(5, "pan_right")),
        320,
        180,
        24,
        rotation=90,
    ),
    VideoSpec(
        "long shots 25.mp4",
        (S(8, "drift"), S(7.5, "pan_right"), S(8, "static"), S(6, "pan_left")),
        256,
        144,
        25,
    ),
    VideoSpec(
        "same hue static 30.mp4",
        _alike(
            30,
            120,
            (1.0, "static"),
            (1.5, "static"),
            (0.8, "static"),
            (2, "static"),
            (1.2, "static"),
            (3, "static"),
        ),
        256,
        144,
        30,
    ),
    VideoSpec(
        "same hue pans 24.mp4",
        _alike(
            100,
            90,
            (1.5, "pan_right"),
            (1.2, "pan_left"),
            (2.0, "pan_right"),
            (1.0, "drift"),
            (1.8, "pan_left"),
            (1.5, "static"),
        ),
        240,
        136,
        24,
    ),
    VideoSpec(
        "near hues square 12.mp4",
        tuple(
            S(1.0 + 0.3 * i, m, hue=10 + 4 * i, value=110 + 5 * i)
            for i, m in enumerate(
                ["static", "drift", "pan_left", "pan_right", "static", "drift", "pan_left"]
            )
        ),
        192,
        192,
        12,
    ),
    VideoSpec(
        "portrait mixed 30.mp4",
        (
            S(2.5, "pan_left"),
            *_alike(150, 150, (1.8, "drift"), (3.2, "static")),
            S(1.1, "pan_right"),
            S(2.6),
        ),
        144,
        256,
        30,
    ),
    VideoSpec(
        "small mixed 12.mp4",
        (S(1.0), S(3, "pan_right"), S(0.9, "static"), S(2.2, "pan_left"), S(4), S(1.6)),
        160,
        96,
        12,
    ),
]


# Known limitation, kept out of the kit's numbers: fast pans at a low frame rate move the picture
# by ~8% of its width per frame, so every frame of the pan scores above ContentDetector's
# threshold; PySceneDetect's flash filter (MERGE mode) then merges the run and the real cuts
# inside it are lost (AdaptiveDetector sees no outlier either). Shown here so a detector change
# that fixes it (e.g. motion-compensated scores) is noticed.
KNOWN_HARD: list[VideoSpec] = [
    VideoSpec(
        "whip pans 12.mp4",
        (
            S(0.8, "pan_right"),
            S(0.8, "pan_left"),
            S(0.8, "pan_right"),
            S(0.8, "pan_left"),
            S(1, "pan_right"),
        ),
        320,
        180,
        12,
    ),
    VideoSpec(
        "same hue whip pans 12.mp4",
        _alike(60, 130, *[(1.0, m) for m in ["pan_right", "pan_left"] * 3]),
        320,
        180,
        12,
    ),
]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            s,
            id=s.name.removesuffix(".mp4"),
            marks=pytest.mark.xfail(reason="fast pans at 12 fps mask cuts", strict=False),
        )
        for s in KNOWN_HARD
    ],
)
def test_known_hard(spec: VideoSpec, tmp_path):
    cfg = CurationConfig()
    path = write_video(spec, tmp_path / spec.name)
    result = single_pass(path, cfg.shots, cfg.samples, spec.rotation)
    precision, recall, _ = scores(spec.cut_frames, result.cuts)
    print(
        f"\n{spec.name}: truth {spec.cut_frames} found {result.cuts} "
        f"precision {precision:.3f} recall {recall:.3f}"
    )
    assert precision >= VIDEO_BAR and recall >= VIDEO_BAR


@pytest.fixture(scope="module")
def passes(tmp_path_factory) -> dict[str, PassResult]:
    """Every kit video written and decoded once for the module."""
    folder = tmp_path_factory.mktemp("cut_truth")
    cfg = CurationConfig()
    done: dict[str, PassResult] = {}
    for spec in KIT:
        path = write_video(spec, folder / spec.name)
        done[spec.name] = single_pass(path, cfg.shots, cfg.samples, spec.rotation)
    return done


def match(truth: list[int], found: list[int], tolerance: int = TOLERANCE_FRAMES) -> int:
    """One-to-one matches between true and found cuts at most ``tolerance`` frames apart."""
    free = sorted(found)
    hits = 0
    for cut in sorted(truth):
        near = [f for f in free if abs(f - cut) <= tolerance]
        if near:
            free.remove(min(near, key=lambda f: abs(f - cut)))
            hits += 1
    return hits


def scores(truth: list[int], found: list[int]) -> tuple[float, float, int]:
    hits = match(truth, found)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall, hits


def test_match_is_one_to_one():
    assert match([10, 20], [10, 11, 21]) == 2
    assert match([10, 11], [10]) == 1
    assert match([10], [12]) == 0
    assert scores([10, 20], [10, 11, 21]) == (2 / 3, 1.0, 2)
    assert scores([], []) == (1.0, 1.0, 0)


def test_kit_is_varied_enough():
    assert len(KIT) >= 10
    assert sum(len(spec.cut_frames) for spec in KIT) >= 40
    assert {spec.fps for spec in KIT} == {12, 24, 25, 30}
    assert any(spec.height > spec.width for spec in KIT)
    assert any(spec.height == spec.width for spec in KIT)
    assert any(spec.rotation for spec in KIT)
    assert {s.motion for spec in KIT for s in spec.shots} == {
        "static",
        "drift",
        "pan_left",
        "pan_right",
    }
    seconds = [s.seconds for spec in KIT for s in spec.shots]
    assert min(seconds) == 0.8 and max(seconds) == 8
    assert all(160 <= spec.width <= 320 for spec in KIT if not spec.height > spec.width)


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.name.removesuffix(".mp4")) for s in KIT])
def test_cuts_per_video(spec: VideoSpec, passes):
    result = passes[spec.name]
    assert result.error is None
    assert result.frames == spec.frames  # every frame decoded
    assert result.fps == pytest.approx(spec.fps)
    precision, recall, _ = scores(spec.cut_frames, result.cuts)
    print(
        f"\n{spec.name}: truth {spec.cut_frames} found {result.cuts} "
        f"precision {precision:.3f} recall {recall:.3f}"
    )
    assert precision >= VIDEO_BAR and recall >= VIDEO_BAR, (spec.cut_frames, result.cuts)
    # samples come out in display orientation
    width, height = spec.display_size
    sample = result.samples.rgb[0]
    assert (sample.shape[1] > sample.shape[0]) == (width > height)
    assert (sample.shape[1] == sample.shape[0]) == (width == height)


def test_cuts_over_the_kit(passes):
    truth = found = hits = 0
    for spec in KIT:
        cuts = passes[spec.name].cuts
        truth += len(spec.cut_frames)
        found += len(cuts)
        hits += match(spec.cut_frames, cuts)
    precision, recall = hits / found, hits / truth
    print(
        f"\nkit: {len(KIT)} videos, {truth} true cuts, {found} found, {hits} matched "
        f"(+-{TOLERANCE_FRAMES} frame): precision {precision:.3f} recall {recall:.3f}"
    )
    assert precision >= BAR and recall >= BAR
