"""Captions for still images (clips.media = 'image'): the VLM's image prompt, the offline wording,
no camera prefix, and the per-shard path from an uploaded photo to its caption.

The photos are scikit-image's (``astronaut.png``: one person, frontal face, 512 x 512).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import skimage

from curation_assets.captioning import (
    FIELDS,
    IMAGE_FIELDS,
    CaptionInput,
    CaptionQualityFilter,
    Parse,
    SignalsCaptioner,
    VlmCaptioner,
    camera_prefix,
    check_caption,
    parse_fields,
    with_camera_prefix,
)
from curation_assets.captioning.run import caption_shard, eligible_clips
from curation_assets.captioning.tiny_model import cached_tiny_qwen2_vl, torch_threads
from curation_assets.captioning.vlm import DEFAULT_PROMPT, IMAGE_PROMPT
from curation_assets.config import CurationConfig, Layout
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import store_for
from curation_assets.signals.base import ClipSamples
from curation_assets.signals.samples import (
    clip_samples_for_file,
    image_samples_for_file,
)
from curation_assets.signals.visual.geometry import GeometryAnalyzer
from curation_assets.signals.visual.image_quality import QualityAnalyzer
from curation_assets_tests.materialize import materialize_shard

PHOTOS = Path(skimage.data.__file__).parent

# Words that only make sense for a video: none may appear in what is said about an image.
MOTION_WORDS = re.compile(
    r"\b(motion|moving|moves?|movement|camera|pans?|panning|tilts?|zooms?|dolly|handheld|"
    r"static|speed|slow|fast|seconds?|duration|long|fps|frames?|frame rate|clip|video)\b",
    re.IGNORECASE,
)
PAN = {"camera_motion": "pan_right"}, {"camera_motion": 0.99}


def _motion_words(*texts: str) -> list[str]:
    return [m.group(0) for text in texts for m in MOTION_WORDS.finditer(text)]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """A tiny model runs fastest on one CPU thread (see captioning.tiny_model)."""
    with torch_threads(1):
        yield


def photo_input(
    name: str, folder: Path, labels: dict | None = None, confidence: dict | None = None
) -> CaptionInput:
    """A photo as the pipeline stores it (image pass, samples file round trip, clip cut), with
    the visual family's geometry and quality scores."""
    samples = image_samples_for_file(PHOTOS / name)
    signals: dict[str, float] = {}
    found = dict(labels or {})
    for analyzer in (GeometryAnalyzer(), QualityAnalyzer()):
        measured = analyzer.analyze(samples)
        signals.update(measured.scores)
        found.update({label.kind: label.label for label in measured.labels})
    return CaptionInput(name, samples, signals, found, dict(confidence or {}), media="image")


@pytest.fixture(scope="module")
def astronaut(tmp_path_factory: pytest.TempPathFactory) -> CaptionInput:
    return photo_input("astronaut.png", tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def pan_clip(tmp_path_factory: pytest.TempPathFactory) -> CaptionInput:
    folder = tmp_path_factory.mktemp("video")
    path = write_video(VideoSpec("pan.mp4", (Shot(3.0, "pan_right", seed=3),)), folder / "p.mp4")
    samples = clip_samples_for_file(path)
    return CaptionInput(samples.clip_id, samples, {}, *PAN)


# -- camera prefix ------------------------------------------------------------------------------


def test_camera_prefix_is_never_applied_to_an_image() -> None:
    labels, conf = PAN
    assert camera_prefix(labels, conf) == "Camera pans right. "
    assert camera_prefix(labels, conf, media="image") == ""
    assert with_camera_prefix("An astronaut.", labels, conf, media="image") == "An astronaut."
    assert with_camera_prefix("An astronaut.", labels, conf) == "Camera pans right. An astronaut."


# -- the offline captioner ----------------------------------------------------------------------


def test_offline_image_caption_says_what_was_measured(astronaut: CaptionInput) -> None:
    people = {"face_area": 0.04, "person_area": 0.98, "people_count": 1.0, "text_area": 0.0}
    item = CaptionInput(
        astronaut.clip_id,
        astronaut.samples,
        {**astronaut.signals, **people},
        astronaut.labels,
        media="image",
    )
    result = SignalsCaptioner().caption_one(item)
    print(result.caption)
    assert result.caption == (
        "Square still image, 512 x 512 pixels (480p). Even lighting. Vivid colors. "
        "Sharp focus. Medium shot with one person. A face is visible."
    )
    assert result.fields["short_description"] == "A square still image with one person."
    assert result.fields["camera_motion"] == "" and "motion_speed" not in result.fields
    assert set(FIELDS) <= set(result.fields) and result.parse == Parse.OK
    assert _motion_words(result.caption, *result.fields.values()) == []
    assert check_caption(result) == (True, None)


def test_offline_image_caption_ignores_motion_signals(astronaut: CaptionInput) -> None:
    """Even a stray camera label or motion score (an image has none) is never put in words."""
    item = CaptionInput(
        astronaut.clip_id,
        astronaut.samples,
        {**astronaut.signals, "motion_mean": 0.3},
        {**astronaut.labels, **PAN[0]},
        PAN[1],
        media="image",
    )
    result = SignalsCaptioner().caption_one(item)
    assert _motion_words(result.caption, *result.fields.values()) == []
    assert result.fields["camera_motion"] == ""


def _fake_image(width: int, height: int) -> ClipSamples:
    empty = np.zeros(0)
    grey = np.zeros((0, 1, 1), np.uint8)
    return ClipSamples(
        "i", "i", 0.0, 0.0, width, height, 25.0, empty, [], empty, grey, empty, empty, 0.0
    )


@pytest.mark.parametrize(
    ("signals", "labels", "says"),
    [
        pytest.param(
            {"colorfulness": 0.02, "sharpness": 5.0, "brightness": 0.1},
            {},
            "Low light. Nearly monochrome. Soft focus.",
            id="dark grey blurred",
        ),
        pytest.param(
            {"colorfulness": 0.2, "sharpness": 50.0, "clipped_fraction": 0.3},
            {},
            "Bright, high-key. Muted colors. Moderately sharp.",
            id="high key muted",
        ),
        pytest.param(
            {"face_area": 0.12, "person_area": 0.6, "people_count": 1.0},
            {},
            "Close-up of one person.",
            id="close-up",
        ),
        pytest.param(
            {"face_area": 0.0, "person_area": 0.05, "people_count": 3.0},
            {},
            "Wide shot with 3 people.",
            id="group",
        ),
        pytest.param({}, {"has_human": "yes"}, "People visible.", id="label only"),
        pytest.param({"text_area": 0.034}, {}, "Text covers about 3% of the image.", id="text"),
        pytest.param({}, {}, "Portrait still image, 720 x 1280 pixels (720p).", id="nothing"),
    ],
)
def test_offline_image_wording(signals: dict, labels: dict, says: str) -> None:
    item = CaptionInput("i", _fake_image(720, 1280), signals, labels, media="image")
    result = SignalsCaptioner().caption_one(item)
    print(result.caption)
    assert says in result.caption
    assert _motion_words(result.caption, *result.fields.values()) == []


def test_videos_keep_their_wording() -> None:
    samples = _fake_image(320, 180)
    video = type(samples)(**{**samples.__dict__, "end_s": 4.5})
    result = SignalsCaptioner().caption_one(CaptionInput("c", video, {}))
    assert result.caption == "Landscape clip, 4.5 seconds long."


# -- the VLM ------------------------------------------------------------------------------------


def test_image_prompt_has_the_structured_fields_without_camera_motion() -> None:
    assert IMAGE_FIELDS == tuple(f for f in FIELDS if f != "camera_motion")
    for name in IMAGE_FIELDS:
        assert f'"{name}"' in IMAGE_PROMPT and f'"{name}"' in DEFAULT_PROMPT
    assert '"camera_motion"' in DEFAULT_PROMPT and "camera" not in IMAGE_PROMPT.lower()
    assert _motion_words(IMAGE_PROMPT) == ["video"]  # "a photograph or a picture, not a video"


def test_image_messages_hold_one_image_and_the_image_prompt(
    astronaut: CaptionInput, pan_clip: CaptionInput
) -> None:
    captioner = VlmCaptioner("m", frames_per_clip=4)
    frames = captioner.frames(astronaut)
    assert len(frames) == 1 and frames[0] is astronaut.samples.rgb[0]
    [turn] = captioner.messages(astronaut, 4)
    assert [c["type"] for c in turn["content"]] == ["image", "text"]
    assert turn["content"][1]["text"] == IMAGE_PROMPT
    [video_turn] = captioner.messages(pan_clip, 4)  # videos unchanged: frames + video prompt
    assert [c["type"] for c in video_turn["content"]] == ["image"] * 4 + ["text"]
    assert '"camera_motion"' in video_turn["content"][-1]["text"]


def test_image_answer_is_parsed_for_image_fields_and_gets_no_prefix(
    astronaut: CaptionInput,
) -> None:
    labelled = CaptionInput(
        astronaut.clip_id, astronaut.samples, astronaut.signals, *PAN, media="image"
    )
    answer = {
        "short_description": "An astronaut in a white suit poses before a flag.",
        "dense_description": "An astronaut in a white spacesuit stands in front of an American "
        "flag, smiling, holding a helmet, with a model of a space shuttle behind her shoulder "
        "and a bright studio backdrop.",
        "background": "a flag and a shuttle model",
        "style": "realistic photograph",
        "shot_type": "medium shot",
        "lighting": "bright studio light",
        "atmosphere": "proud",
        "camera_motion": "pans left",  # not asked of an image: dropped
    }
    result = VlmCaptioner("m").to_result(labelled, json.dumps(answer), 60)
    assert result.parse == Parse.OK
    assert result.caption == answer["dense_description"]  # no "Camera pans right."
    assert result.fields["camera_motion"] == ""
    assert {f: result.fields[f] for f in IMAGE_FIELDS} == {f: answer[f] for f in IMAGE_FIELDS}
    assert check_caption(result) == (True, None)
    # no camera-motion field is required of an image's answer
    without = {k: v for k, v in answer.items() if k != "camera_motion"}
    assert parse_fields(json.dumps(without), IMAGE_FIELDS).missing == ()
    assert parse_fields(json.dumps(without)).missing == ("camera_motion",)


def test_tiny_vlm_captions_an_image_and_a_video_in_one_batch(
    astronaut: CaptionInput, pan_clip: CaptionInput, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[dict]] = []
    original = VlmCaptioner.messages

    def recording(self, item, frames):
        seen.append(original(self, item, frames))
        return seen[-1]

    monkeypatch.setattr(VlmCaptioner, "messages", recording)
    image = CaptionInput(
        astronaut.clip_id, astronaut.samples, astronaut.signals, *PAN, media="image"
    )
    captioner = VlmCaptioner(
        str(cached_tiny_qwen2_vl()), device="cpu", batch_size=2, max_new_tokens=16
    )
    results = captioner.caption_all([image, pan_clip])
    assert [r.error for r in results] == [None, None]
    image_turn, video_turn = (m[0]["content"] for m in seen)
    assert [c["type"] for c in image_turn] == ["image", "text"]
    assert image_turn[-1]["text"] == IMAGE_PROMPT
    assert "video" not in {c["type"] for c in image_turn}
    assert [c["type"] for c in video_turn].count("image") == 4
    assert results[0].fields["camera_motion"] == ""
    assert not results[0].caption.startswith("Camera")
    assert results[1].fields["camera_motion"] == "pans right"
    qc = CaptionQualityFilter()
    assert [qc.check(r)[0] for r in results] == [False, False]  # random weights: garbage


# -- through the per-shard assets ---------------------------------------------------------------


@pytest.fixture(scope="module")
def photo_shard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("image_captions_home")
    folder = Layout(home).shard_uploads("photos")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PHOTOS / "astronaut.png", folder / "astronaut.png")
    (folder / "_READY").write_text("")
    materialize_shard(home, "photos")
    return home


def test_uploaded_photo_gets_an_image_caption(photo_shard: Path) -> None:
    store = store_for(Layout(photo_shard))
    [clip] = eligible_clips(store, "photos", CurationConfig().captioning.eligible_after)
    assert clip["media"] == "image" and clip["start_s"] == clip["end_s"] == 0.0
    [row] = store.query("SELECT caption, captioner, fields_json FROM captions").to_dicts()
    fields = json.loads(row["fields_json"])
    print(row["caption"])
    assert row["captioner"] == "signals"
    assert row["caption"].startswith("Square still image, 512 x 512 pixels (480p).")
    assert "one person" in row["caption"]  # the content filter's people detector
    assert fields["camera_motion"] == "" and "motion_speed" not in fields
    assert _motion_words(row["caption"], *fields.values()) == []
    passed = store.query(
        "SELECT passed FROM decisions WHERE stage = 'captions' AND filter = 'caption_qc'"
    ).item()
    assert passed is True


def test_tiny_vlm_gets_the_image_prompt_through_the_production_loader(
    photo_shard: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[dict]] = []
    original = VlmCaptioner.messages

    def recording(self, item, frames):
        seen.append(original(self, item, frames))
        return seen[-1]

    monkeypatch.setattr(VlmCaptioner, "messages", recording)
    cfg = CurationConfig.model_validate(
        {
            "captioning": {
                "captioner": "vlm",
                "model": str(cached_tiny_qwen2_vl()),
                "max_new_tokens": 16,
                "device": "cpu",
                "dtype": "float32",
            }
        }
    )
    rows = caption_shard(store_for(Layout(photo_shard)), "photos", tmp_path, cfg)
    assert len(rows.captions) == 1 and rows.generated_tokens > 0
    assert seen, "the VLM was never prompted"
    for turn in seen:  # the first answer and QC's one retry
        content = turn[0]["content"]
        assert [c["type"] for c in content] == ["image", "text"]
        assert "video" not in {c["type"] for c in content}
        assert content[-1]["text"] == IMAGE_PROMPT and "camera_motion" not in content[-1]["text"]
    fields = json.loads(rows.captions[0]["fields_json"])
    assert set(FIELDS) <= set(fields) and fields["camera_motion"] == ""
    journal = next(tmp_path.glob("*.jsonl")).read_text().splitlines()
    assert {json.loads(line)["media"] for line in journal} == {"image"}


def test_image_journal_from_before_images_is_not_reused(photo_shard: Path, tmp_path: Path) -> None:
    """An image captioned with the video wording by an older version is captioned again."""
    from curation_assets.captioning.run import captioner_key

    cfg, store = CurationConfig(), store_for(Layout(photo_shard))
    first = caption_shard(store, "photos", tmp_path, cfg)
    journal = tmp_path / f"{captioner_key(cfg.captioning)}.jsonl"
    record = json.loads(journal.read_text())
    old = {k: v for k, v in record.items() if k != "media"} | {
        "caption": "Square clip, 0 seconds long."
    }
    journal.write_text(json.dumps(old) + "\n")
    again = caption_shard(store, "photos", tmp_path, cfg)
    assert again.reused == 0 and again.captioned_now == 1
    assert again.captions == first.captions
    assert caption_shard(store, "photos", tmp_path, cfg).reused == 1
