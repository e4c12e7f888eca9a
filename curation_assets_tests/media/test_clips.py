"""plan_clips: shots -> single-shot clip windows, with exact expected windows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from curation_assets.config.sections import ClipsConfig
from curation_assets.media.clips import Window, clip_id, kept_window_indices, plan_clips
from curation_assets.vocabulary import Clipping

DEFAULT = ClipsConfig()  # min 4 s, max 16 s, trim 0.25 s after a cut, 2 clips per long shot


def timeline(frames: int, fps: float) -> tuple[np.ndarray, float]:
    """Constant-rate frame times and the end of the last frame."""
    return np.arange(frames) / fps, frames / fps


def plan(shot_frames: list[int], fps: float, cfg: ClipsConfig = DEFAULT):
    times, end = timeline(sum(shot_frames), fps)
    cuts = [int(c) for c in np.cumsum(shot_frames)[:-1]]
    return plan_clips(times, end, cuts, cfg)


def test_one_shot_gives_one_clip_trimmed_after_the_start():
    (shot,) = plan([240], 24)  # 10 s
    assert (shot.index, shot.start_frame, shot.end_frame) == (0, 0, 240)
    assert (shot.start_s, shot.end_s) == (0.0, 10.0)
    assert shot.clips == (Window(0.25, 10.0, 6, 240),)
    assert shot.reason is None and shot.detail == "one clip"
    assert shot.clips[0].duration_s == 9.75


def test_shots_split_at_cuts():
    # 3 s | 10 s | 4.25 s | 4.25 s - 1 frame at 24 fps
    plans = plan([72, 240, 102, 101], 24)
    assert [(p.start_frame, p.end_frame) for p in plans] == [
        (0, 72),
        (72, 312),
        (312, 414),
        (414, 515),
    ]
    short, ten, exact, under = plans
    assert short.clips == () and short.reason == Clipping.SHOT_TOO_SHORT
    assert short.detail == "usable 2.75 s < 4 s"
    assert ten.clips == (Window(3.25, 13.0, 78, 312),) and ten.reason is None
    # usable exactly min_s after the trim is still a clip
    assert exact.clips == (Window(13.25, 17.25, 318, 414),) and exact.reason is None
    assert under.clips == () and under.reason == Clipping.SHOT_TOO_SHORT
    assert under.detail == "usable 3.96 s < 4 s"


def test_long_shot_split_evenly_and_two_kept():
    (shot,) = plan([480], 12)  # 40 s: usable 39.75 s -> ceil(39.75 / 16) = 3 windows of 13.25 s
    assert shot.clips == (Window(0.25, 13.5, 3, 162), Window(26.75, 40.0, 321, 480))
    assert shot.reason == Clipping.WINDOW_NOT_KEPT
    assert shot.detail == "3 windows of 13.25 s, kept 2"


def test_long_shot_all_windows_kept_when_allowed():
    (shot,) = plan([480], 12, ClipsConfig(max_clips_per_shot=3))
    assert shot.clips == (
        Window(0.25, 13.5, 3, 162),
        Window(13.5, 26.75, 162, 321),
        Window(26.75, 40.0, 321, 480),
    )
    assert shot.reason is None and shot.detail == "3 windows of 13.25 s, kept 3"


def test_long_shot_one_clip_kept():
    (shot,) = plan([480], 12, ClipsConfig(max_clips_per_shot=1))
    assert shot.clips == (Window(0.25, 13.5, 3, 162),)
    assert shot.reason == Clipping.WINDOW_NOT_KEPT


def test_max_length_boundary():
    (at_max,) = plan([390], 24)  # 16.25 s: usable exactly 16 s -> one clip of 16 s
    assert at_max.clips == (Window(0.25, 16.25, 6, 390),) and at_max.detail == "one clip"
    (over,) = plan([391], 24)  # one frame more: two windows of ~8 s
    assert [(w.start_frame, w.end_frame) for w in over.clips] == [(6, 198), (199, 391)]
    assert [w.start_s for w in over.clips] == [0.25, round(199 / 24, 6)]
    assert over.clips[1].end_s == round(391 / 24, 6)
    assert over.reason is None and over.detail == "2 windows of 8.02 s, kept 2"


def test_five_windows_keep_first_and_last():
    (shot,) = plan([843], 12)  # 70.25 s, usable 70 s -> 5 windows of 14 s
    assert [(w.start_s, w.end_s) for w in shot.clips] == [(0.25, 14.25), (56.25, 70.25)]
    assert shot.detail == "5 windows of 14.00 s, kept 2"
    (shot,) = plan([843], 12, ClipsConfig(max_clips_per_shot=3))
    assert [(w.start_s, w.end_s) for w in shot.clips] == [
        (0.25, 14.25),
        (28.25, 42.25),
        (56.25, 70.25),
    ]


def test_trim_after_cut_snaps_to_the_next_frame():
    (shot,) = plan([250], 25)  # 0.25 s is frame 6.25: the clip starts on frame 7
    assert shot.clips == (Window(0.28, 10.0, 7, 250),)


def test_trim_before_cut():
    cfg = ClipsConfig(trim_before_cut_s=0.5)
    first, second = plan([240, 240], 24, cfg)
    assert first.clips == (Window(0.25, 9.5, 6, 228),)
    assert second.clips == (Window(10.25, 19.5, 246, 468),)


def test_cuts_out_of_range_unsorted_or_repeated_are_ignored():
    times, end = timeline(480, 24)
    expected = plan_clips(times, end, [240], DEFAULT)
    assert plan_clips(times, end, [240, 0, -3, 480, 999, 240], DEFAULT) == expected
    assert [(p.start_frame, p.end_frame) for p in expected] == [(0, 240), (240, 480)]
    assert [p.index for p in plan_clips(times, end, [300, 100], DEFAULT)] == [0, 1, 2]


def test_no_frames_no_plans():
    assert plan_clips(np.zeros(0), 0.0, [], DEFAULT) == []


def test_variable_frame_rate_times():
    # 30 fps for 5 s then 10 fps for 5 s: windows still sit on real frame times
    times = np.concatenate([np.arange(150) / 30, 5 + np.arange(50) / 10])
    (shot,) = plan_clips(times, 10.0, [], DEFAULT)
    assert shot.clips == (Window(0.266667, 10.0, 8, 200),)  # first frame at or after 0.25 s


@pytest.mark.parametrize(
    "cfg",
    [DEFAULT, ClipsConfig(min_s=8, max_s=16), ClipsConfig(min_s=2, max_s=5, max_clips_per_shot=4)],
    ids=["default", "min8-max16", "min2-max5"],
)
@pytest.mark.parametrize("fps", [12, 24, 25, 30, 30000 / 1001, 60])
def test_windows_always_valid(cfg, fps):
    rng = np.random.default_rng(int(fps * 100))
    shot_frames = [max(1, int(s * fps)) for s in rng.uniform(0.3, 70.0, size=60)]
    plans = plan(shot_frames, fps, cfg)
    assert len(plans) == len(shot_frames)
    tolerance = 1e-6
    for p in plans:
        assert len(p.clips) <= cfg.max_clips_per_shot
        usable = p.end_s - p.start_s - cfg.trim_after_cut_s - cfg.trim_before_cut_s
        if p.clips:
            assert p.reason in (None, Clipping.WINDOW_NOT_KEPT)
        else:
            assert p.reason == Clipping.SHOT_TOO_SHORT
            assert usable < cfg.min_s + 1 / fps + tolerance
        if usable >= cfg.min_s + 1 / fps:
            assert p.clips, f"shot of {p.end_s - p.start_s:.2f} s gave no clip"
        previous_end = -1
        for w in p.clips:
            assert cfg.min_s - tolerance <= w.duration_s <= cfg.max_s + tolerance, (p, w)
            # inside its shot, after the trim: never crosses a cut
            assert p.start_frame <= w.start_frame < w.end_frame <= p.end_frame
            assert w.start_s >= p.start_s + cfg.trim_after_cut_s - tolerance
            assert w.end_s <= p.end_s - cfg.trim_before_cut_s + tolerance
            assert w.start_frame >= previous_end  # windows of one shot never overlap
            previous_end = w.end_frame
            assert w.start_s == pytest.approx(w.start_frame / fps, abs=1e-6)
            assert w.end_s == pytest.approx(w.end_frame / fps, abs=1e-6)
        windows = max(1, math.ceil(usable / cfg.max_s - 1e-9))
        if p.clips:
            assert len(p.clips) == min(windows, cfg.max_clips_per_shot)
            assert (p.reason == Clipping.WINDOW_NOT_KEPT) == (windows > cfg.max_clips_per_shot)


@pytest.mark.parametrize(
    ("count", "keep", "expected"),
    [
        (1, 2, [0]),
        (2, 2, [0, 1]),
        (3, 2, [0, 2]),
        (5, 2, [0, 4]),
        (5, 3, [0, 2, 4]),
        (4, 3, [0, 2, 3]),
        (7, 1, [0]),
        (10, 4, [0, 3, 6, 9]),
    ],
)
def test_kept_window_indices(count, keep, expected):
    assert kept_window_indices(count, keep) == expected


def test_clip_id_is_stable():
    assert clip_id("v0123", 3.25, 13.0) == "v0123-0003250-0013000"
    assert clip_id("v0123", 3.25, 13.0) == clip_id("v0123", 3.25, 13.0)
    assert clip_id("v0123", 0.1 + 0.2, 4.3) == clip_id("v0123", 0.3, 4.3)  # float noise
    assert clip_id("v0123", 3.25, 13.0) != clip_id("v0123", 3.25, 13.001)
    assert clip_id("v0123", 3.25, 13.0) != clip_id("v0124", 3.25, 13.0)
    times, end = timeline(480, 12)
    ids = [
        clip_id("v1", w.start_s, w.end_s)
        for p in plan_clips(times, end, [], DEFAULT)
        for w in p.clips
    ]
    again = [
        clip_id("v1", w.start_s, w.end_s)
        for p in plan_clips(times, end, [], DEFAULT)
        for w in p.clips
    ]
    assert ids == again == ["v1-0000250-0013500", "v1-0026750-0040000"]


def test_config_validation():
    with pytest.raises(ValidationError, match="at least twice"):
        ClipsConfig(max_s=6)  # min 4: splitting would make windows of 3 s
    assert ClipsConfig(min_s=3, max_s=6).max_s == 6
    assert ClipsConfig(max_s=8).max_s == 8  # exactly twice is fine
    for bad in ({"min_s": 0}, {"max_clips_per_shot": 0}, {"trim_after_cut_s": -1}, {"max_len": 3}):
        with pytest.raises(ValidationError):
            ClipsConfig(**bad)
