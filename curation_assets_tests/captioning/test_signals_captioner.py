"""The offline captioner against synthetic clips whose truth is known.

Labels and scores come from the real analyzers over the real single decode pass, as the pipeline
stores them, so these tests also pin the wording to what the filters measure.
"""

from __future__ import annotations

import numpy as np
import pytest

from curation_assets.captioning import (
    CaptionInput,
    CaptionQualityFilter,
    Parse,
    SignalsCaptioner,
)
from curation_assets.captioning.signals_captioner import SignalThresholds
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.signals.base import ClipSamples, Measurement
from curation_assets.signals.motion.optical_flow import OpticalFlowAnalyzer
from curation_assets.signals.samples import clip_samples_for_file
from curation_assets.signals.visual.geometry import GeometryAnalyzer
from curation_assets.signals.visual.image_quality import QualityAnalyzer

SHOTS = {
    "pan_right": Shot(5.0, "pan_right", seed=3),
    "dark": Shot(5.0, "static", seed=3, effects=("dark:0.2",)),
    "bright": Shot(5.0, "static", seed=3, effects=("bright:3",)),
    "shake": Shot(5.0, "shake", seed=3),
}


def _as_input(samples: ClipSamples) -> CaptionInput:
    measurements: list[Measurement] = [
        OpticalFlowAnalyzer().analyze(samples),
        QualityAnalyzer().analyze(samples),
        GeometryAnalyzer().analyze(samples),
    ]
    signals: dict[str, float] = {}
    labels: dict[str, str] = {}
    confidence: dict[str, float] = {}
    for m in measurements:
        signals.update(m.scores)
        for label in m.labels:
            labels[label.kind] = label.label
            if label.confidence is not None:
                confidence[label.kind] = label.confidence
    return CaptionInput(samples.clip_id, samples, signals, labels, confidence)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CaptionInput]:
    folder = tmp_path_factory.mktemp("captions")
    out = {}
    for name, shot in SHOTS.items():
        path = write_video(VideoSpec(f"{name}.mp4", (shot,)), folder / f"{name}.mp4")
        out[name] = _as_input(clip_samples_for_file(path))
    return out


def test_pan_right_clip_says_the_camera_pans_right(inputs: dict[str, CaptionInput]) -> None:
    item = inputs["pan_right"]
    assert item.labels["camera_motion"] == "pan_right"
    result = SignalsCaptioner().caption_all([item])[0]
    print(result.caption)
    assert result.caption.startswith("The camera pans right.")
    assert result.fields["camera_motion"] == "pans right"
    assert "Motion is moderate." in result.caption
    assert "Landscape clip, 5 seconds long." in result.caption
    assert result.fields["lighting"] == "even lighting"
    assert result.parse == Parse.OK
    assert (result.captioner, result.model) == ("signals", "pipeline-signals-v1")


def test_dark_clip_says_low_light(inputs: dict[str, CaptionInput]) -> None:
    result = SignalsCaptioner().caption_all([inputs["dark"]])[0]
    print(result.caption)
    assert result.fields["lighting"] == "low light"
    assert "Low light." in result.caption
    assert "The camera is static." in result.caption


def test_bright_clip_says_high_key(inputs: dict[str, CaptionInput]) -> None:
    result = SignalsCaptioner().caption_all([inputs["bright"]])[0]
    assert result.fields["lighting"] == "bright, high-key"


def test_handheld_clip_is_fast(inputs: dict[str, CaptionInput]) -> None:
    result = SignalsCaptioner().caption_all([inputs["shake"]])[0]
    print(result.caption)
    assert result.caption.startswith("The camera is handheld.")
    assert result.fields["motion_speed"] == "fast"


def test_never_invents_a_description(inputs: dict[str, CaptionInput]) -> None:
    results = SignalsCaptioner().caption_all(list(inputs.values()))
    assert [r.clip_id for r in results] == [i.clip_id for i in inputs.values()]
    for r in results:
        for name in ("dense_description", "background", "style", "atmosphere"):
            assert r.fields[name] == ""
    # short, factual captions pass QC: the signals captioner is exempt from the minimum length
    qc = CaptionQualityFilter()
    assert all(qc.check(r) == (True, None) for r in results)


def test_low_confidence_camera_motion_is_not_stated(inputs: dict[str, CaptionInput]) -> None:
    item = inputs["pan_right"]
    unsure = CaptionInput(
        item.clip_id, item.samples, item.signals, item.labels, {"camera_motion": 0.59}
    )
    result = SignalsCaptioner().caption_all([unsure])[0]
    assert "camera" not in result.caption.lower()
    assert result.fields["camera_motion"] == ""
    complex_ = CaptionInput(
        item.clip_id,
        item.samples,
        item.signals,
        {"camera_motion": "complex"},
        {"camera_motion": 0.99},
    )
    assert SignalsCaptioner().caption_all([complex_])[0].fields["camera_motion"] == ""


def _fake_samples(width: int = 320, height: int = 180, seconds: float = 6.0) -> ClipSamples:
    empty = np.zeros(0)
    return ClipSamples(
        "c",
        "v",
        0.0,
        seconds,
        width,
        height,
        24.0,
        empty,
        [],
        empty,
        np.zeros((0, 1, 1), np.uint8),
        empty,
        empty,
        0.0,
    )


@pytest.mark.parametrize(
    ("signals", "shot_type", "sentence"),
    [
        pytest.param({"face_area": 0.12, "person_area": 0.5}, "close-up", "Close-up", id="face"),
        pytest.param({"face_area": 0.03, "person_area": 0.1}, "medium shot", "Medium", id="mid"),
        pytest.param({"face_area": 0.0, "person_area": 0.02}, "wide shot", "Wide", id="small"),
        pytest.param({"face_area": 0.0, "person_area": 0.0}, "", "No people detected.", id="none"),
        pytest.param({}, "", "", id="not measured"),
    ],
)
def test_shot_type_from_people(signals: dict, shot_type: str, sentence: str) -> None:
    item = CaptionInput("c", _fake_samples(), signals, {}, {})
    result = SignalsCaptioner().caption_one(item)
    assert result.fields["shot_type"] == shot_type
    assert sentence in result.caption
    if not signals:
        assert "people" not in result.caption.lower()


def test_portrait_without_labels_uses_the_frame_size() -> None:
    result = SignalsCaptioner().caption_one(CaptionInput("c", _fake_samples(180, 320, 4.5), {}))
    assert result.caption == "Portrait clip, 4.5 seconds long."


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="min confidence"):
        SignalsCaptioner(camera_min_confidence=1.5)
    with pytest.raises(ValueError, match="slow_below < fast_from"):
        SignalThresholds(slow_below=0.3, fast_from=0.2)
