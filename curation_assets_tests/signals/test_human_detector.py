"""The offline human detector (``has_human`` without model weights) on real photos turned into
clips: scikit-image's wheel ships two photos of people (the astronaut, frontal; the cameraman,
face turned to profile) and many without, plus the synthetic kit's textures, which must never
read as people. One run goes through the real ``content_filter`` asset into the lineage store.
"""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from curation_assets.config import Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.photo_kit import NO_PEOPLE, PEOPLE, SYNTHETIC, photo, photo_clip
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.models.shipped import opencv_people_available
from curation_assets.resources import CurationResource, store_for
from curation_assets.signals.base import ClipSamples
from curation_assets.signals.content.human_detector import (
    OPENCV_DETECTORS,
    HumanDetectorAnalyzer,
    cluster_boxes,
)
from curation_assets.signals.samples import clip_samples_for_file

# The photos (PEOPLE, NO_PEOPLE) and synthetic-kit shots (SYNTHETIC) are the product's
# ``media.photo_kit``, shared with benchmarks/human_detector.py. The flipped cameraman is seen
# in only about half of its frames (per frame, profile hits 8-20 around a threshold of 12), so
# its clip-level label is a coin flip that depended on the encoder's thread count until encodes
# became reproducible. Known miss; issue 14 replaces the offline detector (see
# test_marginal_people_are_found).
MARGINAL = ("camera_mirrored",)

needs_opencv = pytest.mark.skipif(
    not opencv_people_available(), reason="this OpenCV build ships no HOG / Haar cascades"
)


@pytest.fixture(scope="module")
def photo_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipSamples]:
    folder = tmp_path_factory.mktemp("human_photos")
    return {
        name: clip_samples_for_file(photo_clip(photo(name), folder / f"{name}.mp4"))
        for name in PEOPLE + NO_PEOPLE
    }


@pytest.fixture(scope="module")
def synthetic_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipSamples]:
    folder = tmp_path_factory.mktemp("human_synthetic")
    clips = {}
    for seed, motion, effects in SYNTHETIC:
        name = f"{motion}-{seed}{''.join('+' + e for e in effects)}"
        spec = VideoSpec(name, (Shot(4.5, motion, seed=seed, effects=effects),), 640, 360)
        clips[name] = clip_samples_for_file(write_video(spec, folder / f"s{seed}.mp4"))
    return clips


def _measure(analyzer: HumanDetectorAnalyzer, clips: dict[str, ClipSamples]) -> dict:
    measured = {}
    for name, clip in clips.items():
        start = time.process_time()
        m = analyzer.analyze(clip)
        ms = (time.process_time() - start) * 1000
        (label,) = [lab for lab in m.labels if lab.kind == "has_human"]
        shown = {k: round(v, 2) for k, v in m.scores.items() if v}
        print(f"{analyzer.name} {name}: {label.label} ({label.confidence:.2f}) {shown} {ms:.0f} ms")
        assert set(m.scores) == set(analyzer.signals)
        for signal, value in m.scores.items():
            lo, hi = analyzer.ranges[signal]
            assert (lo is None or lo <= value) and (hi is None or value <= hi), (signal, value)
        assert label.confidence == m.scores["human_offline"]
        measured[name] = (label.label, m.scores)
    return measured


@needs_opencv
def test_opencv_detector_tells_people_from_photos_without(photo_clips) -> None:
    measured = _measure(HumanDetectorAnalyzer(), photo_clips)
    said = {name: label for name, (label, _) in measured.items()}
    false_humans = [name for name in NO_PEOPLE if said[name] == "yes"]
    missed = [name for name in PEOPLE if said[name] != "yes" and name not in MARGINAL]
    print(
        f"people found {len(PEOPLE) - len(missed)}/{len(PEOPLE)}; "
        f"false humans {len(false_humans)}/{len(NO_PEOPLE)}"
    )
    assert not missed and not false_humans, said
    scores = {name: s for name, (_, s) in measured.items()}
    # which detector decided is recorded: the astronaut's frontal face, the cameraman's profile
    # (his face looks right; mirrored, left: the profile cascade runs on both sides)
    assert scores["astronaut"]["decided_by_face"] >= 0.5 and scores["astronaut"]["face_area"] > 0.01
    assert scores["camera"]["decided_by_profile"] >= 0.5, scores["camera"]
    for name in ("camera", "camera_mirrored"):
        # the profile cascade sees the cameraman (on the mirror for the flipped photo) ...
        assert scores[name]["decided_by_profile"] > 0.0, scores[name]
        assert scores[name]["profile_hits"] >= HumanDetectorAnalyzer().profile_min_hits
        assert scores[name]["face_hits"] < HumanDetectorAnalyzer().face_min_hits
    for name in NO_PEOPLE:
        assert scores[name]["human_offline"] == 0.0, (name, scores[name])
        assert all(scores[name][f"decided_by_{d}"] == 0.0 for d in OPENCV_DETECTORS)


@needs_opencv
@pytest.mark.xfail(reason="offline cascades see the flipped cameraman in ~half the frames (#14)")
def test_marginal_people_are_found(photo_clips) -> None:
    measured = _measure(HumanDetectorAnalyzer(), {n: photo_clips[n] for n in MARGINAL})
    assert all(label == "yes" for label, _ in measured.values()), measured


@needs_opencv
def test_no_false_humans_on_the_synthetic_kit(synthetic_clips) -> None:
    measured = _measure(HumanDetectorAnalyzer(), synthetic_clips)
    assert all(label == "no" for label, _ in measured.values()), measured
    assert all(s["human_offline"] == 0.0 for _, s in measured.values()), measured


@needs_opencv
def test_detectors_run_in_order_and_stop_at_the_first_yes(photo_clips) -> None:
    analyzer = HumanDetectorAnalyzer()
    astronaut = analyzer.opencv_frame(photo_clips["astronaut"].rgb[0])
    assert astronaut["decided"] == "face" and "profile_hits" not in astronaut
    coffee = analyzer.opencv_frame(photo_clips["coffee"].rgb[0])
    assert coffee["decided"] is None
    assert {"face_hits", "profile_hits", "person_weight"} <= set(coffee)
    # stricter thresholds turn the same evidence into "no": the rule, not the photo, decides
    strict = HumanDetectorAnalyzer(face_min_hits=1000, profile_min_hits=1000, hog_min_weight=1e9)
    assert strict.analyze(photo_clips["astronaut"]).scores["human_offline"] == 0.0
    assert strict.version != analyzer.version


def test_skimage_backend_finds_the_frontal_face_only(photo_clips) -> None:
    """The fallback for OpenCV builds without cascades: frontal faces, a known lower bound."""
    analyzer = HumanDetectorAnalyzer(backend="skimage")
    assert analyzer.name == "skimage_faces"
    some = {name: photo_clips[name] for name in ("astronaut", "camera", "coffee", "rocket")}
    said = {name: label for name, (label, _) in _measure(analyzer, some).items()}
    assert said == {"astronaut": "yes", "camera": "no", "coffee": "no", "rocket": "no"}


def test_human_detector_backend_is_recorded() -> None:
    analyzer = HumanDetectorAnalyzer()
    if opencv_people_available():
        assert (analyzer.backend, analyzer.name) == ("opencv", "opencv_people")
    else:
        assert (analyzer.backend, analyzer.name) == ("skimage", "skimage_faces")
        with pytest.raises(ValueError, match="needs cv2.HOGDescriptor"):
            HumanDetectorAnalyzer(backend="opencv")
    with pytest.raises(ValueError, match="frames"):
        HumanDetectorAnalyzer(frames=0)
    with pytest.raises(ValueError, match="min_hits"):
        HumanDetectorAnalyzer(profile_min_hits=0)
    with pytest.raises(ValueError, match="scale factors"):
        HumanDetectorAnalyzer(cascade_scale_factor=1.0)


def test_cluster_boxes_counts_neighbours() -> None:
    boxes = np.array([[10, 10, 20, 20], [12, 11, 20, 20], [11, 9, 22, 22], [100, 100, 20, 20]])
    groups = cluster_boxes(boxes)
    assert [n for n, _ in groups] == [3, 1]
    assert np.allclose(groups[1][1], [100, 100, 20, 20])
    assert cluster_boxes(np.zeros((0, 4))) == []


@needs_opencv
def test_content_filter_records_has_human_from_photo_clips(tmp_path: Path) -> None:
    """Photo clips through source_videos -> shot_clips -> content_filter with
    ``human_backend: opencv``: the has_human label and the deciding detector land in the lineage
    store under the opencv_people scorer."""
    home = tmp_path / "home"
    folder = Layout(home).shard_uploads("photos")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut", "camera", "coffee"):
        photo_clip(photo(name), folder / f"{name}.mp4")
    (folder / "_READY").write_text("")
    # the OpenCV backend on purpose (auto prefers MediaPipe's detectors: test_people_detector.py)
    (home / "curation.yaml").write_text("content:\n  human_backend: opencv\n")
    resources = {"curation": CurationResource(home=str(home))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["photos"])
        result = dg.materialize(
            PER_SHARD_ASSETS,
            selection=["source_videos", "shot_clips", "content_filter"],
            instance=instance,
            partition_key="photos",
            resources=resources,
        )
        assert result.success
    store = store_for(Layout(home))
    labels = store.query(
        "SELECT v.file_name, l.label, l.confidence, l.scorer FROM clip_labels l "
        "JOIN clips c USING (clip_id) JOIN videos v ON v.video_id = c.video_id "
        "WHERE l.kind = 'has_human' ORDER BY v.file_name"
    ).rows()
    print(labels)
    assert {(f, label, s) for f, label, _, s in labels} == {
        ("astronaut.mp4", "yes", "opencv_people"),
        ("camera.mp4", "yes", "opencv_people"),
        ("coffee.mp4", "no", "opencv_people"),
    }
    decided = dict(
        store.query(
            "SELECT v.file_name, max(s.value) FROM scores s JOIN clips c USING (clip_id) "
            "JOIN videos v ON v.video_id = c.video_id WHERE s.signal = 'decided_by_profile' "
            "GROUP BY 1"
        ).rows()
    )
    assert decided["camera.mp4"] >= 0.5 and decided["astronaut.mp4"] == 0.0
