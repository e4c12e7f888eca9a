"""The VLM captioner end to end with a tiny random Qwen2-VL loaded like a real checkpoint.

The weights are random, so the text is garbage: what is tested is that loading, chat template,
batched left-padded generation, decoding of the new tokens only, parsing and QC hold together,
and that garbage is flagged rather than crashing anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from curation_assets.captioning import (
    FIELDS,
    CaptionInput,
    CaptionQC,
    CaptionQualityFilter,
    Parse,
    VlmCaptioner,
)
from curation_assets.captioning.tiny_model import cached_tiny_qwen2_vl, torch_threads
from curation_assets.captioning.vlm import generated_counts
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.signals.samples import clip_samples_for_file


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    return cached_tiny_qwen2_vl()


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """A tiny model runs fastest on one CPU thread (see captioning.tiny_model)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[CaptionInput]:
    folder = tmp_path_factory.mktemp("vlm_clips")
    shots = {
        "pan": Shot(4.5, "pan_right", seed=3),
        "dark": Shot(4.5, "static", seed=4, effects=("dark:0.2",)),
        "portrait": Shot(4.5, "drift", seed=5),
    }
    items = []
    for name, shot in shots.items():
        size = (180, 320) if name == "portrait" else (320, 180)
        path = write_video(VideoSpec(f"{name}.mp4", (shot,), *size), folder / f"{name}.mp4")
        samples = clip_samples_for_file(path)
        labels = {"camera_motion": "pan_right"} if name == "pan" else {}
        confidence = {"camera_motion": 0.95} if name == "pan" else {}
        items.append(CaptionInput(samples.clip_id, samples, {}, labels, confidence))
    return items


def test_tiny_checkpoint_loads_like_a_real_one(tiny_model: Path) -> None:
    from transformers import AutoConfig, AutoProcessor

    assert (tiny_model / "model.safetensors").stat().st_size < 3_000_000
    processor = AutoProcessor.from_pretrained(tiny_model)
    assert type(processor).__name__ == "Qwen2VLProcessor"
    assert processor.video_processor is not None and processor.chat_template
    config = AutoConfig.from_pretrained(tiny_model)
    vocab = config.text_config.vocab_size
    assert len(processor.tokenizer) <= vocab
    for token_id in (
        config.text_config.bos_token_id,
        config.text_config.eos_token_id,
        config.text_config.pad_token_id,
        config.image_token_id,
        config.video_token_id,
    ):
        assert 0 <= token_id < vocab


def test_captions_a_batch_end_to_end(tiny_model: Path, clips: list[CaptionInput]) -> None:
    captioner = VlmCaptioner(
        str(tiny_model), device="cpu", batch_size=3, frames_per_clip=3, max_new_tokens=48
    )
    captioner.load()
    started = time.perf_counter()
    results = captioner.caption_all(clips)
    elapsed = time.perf_counter() - started
    print(f"tiny VLM: {len(clips)} clips in {elapsed:.2f} s")
    assert [r.clip_id for r in results] == [c.clip_id for c in clips]
    qc = CaptionQualityFilter()
    for r in results:
        assert r.error is None
        assert (r.captioner, r.model) == ("vlm", str(tiny_model))
        assert r.parse in set(Parse)
        assert set(FIELDS) <= set(r.fields)
        assert 1 <= r.generated_tokens <= 48
        passed, reason = qc.check(r)
        print(repr(r.raw[:80]), r.parse, reason)
        assert not passed  # random weights: garbage, flagged with a reason
        assert reason in set(CaptionQC)
    # the pan clip's camera field comes from the motion classifier, not the model
    assert results[0].fields["camera_motion"] == "pans right"
    assert qc.total == 3 and qc.kept == 0


def test_same_answer_alone_and_in_a_batch(tiny_model: Path, clips: list[CaptionInput]) -> None:
    """Left padding: a clip's greedy answer must not depend on its batch neighbours."""
    captioner = VlmCaptioner(str(tiny_model), device="cpu", batch_size=3, max_new_tokens=12)
    batched = captioner.caption_all(clips)
    alone = captioner.caption_batch([clips[2]])
    assert alone[0].raw == batched[2].raw


def test_a_bad_clip_is_recorded_and_the_batch_goes_on(
    tiny_model: Path, clips: list[CaptionInput]
) -> None:
    empty = clips[0].samples
    no_frames = CaptionInput(
        "no-frames",
        type(empty)(**{**empty.__dict__, "rgb": [], "rgb_times": np.zeros(0)}),
    )
    captioner = VlmCaptioner(str(tiny_model), device="cpu", batch_size=2, max_new_tokens=4)
    results = captioner.caption_all([clips[1], no_frames, clips[2]])
    assert [r.clip_id for r in results] == [clips[1].clip_id, "no-frames", clips[2].clip_id]
    assert results[1].error is not None and "no rgb samples" in results[1].error
    assert results[1].caption == "" and results[1].parse == Parse.FALLBACK
    assert results[0].error is None and results[2].error is None


def test_well_formed_answer_gets_prefix(tiny_model: Path, clips: list[CaptionInput]) -> None:
    captioner = VlmCaptioner(str(tiny_model))
    raw = '```json\n{"dense_description": "A field of grass.", "camera_motion": "static"}\n```'
    result = captioner.to_result(clips[0], raw, 20)
    assert result.parse == Parse.OK
    assert result.caption == "Camera pans right. A field of grass."
    assert result.fields["camera_motion"] == "pans right"
    unlabelled = captioner.to_result(clips[1], raw, 20)
    assert unlabelled.caption == "A field of grass."
    assert unlabelled.fields["camera_motion"] == "static"


def test_generated_counts_stop_at_first_eos() -> None:
    rows = np.array([[5, 6, 2, 0, 0], [5, 6, 7, 8, 9], [2, 0, 0, 0, 0]])
    assert generated_counts(rows, {2}) == [3, 5, 1]


def test_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        VlmCaptioner("m", batch_size=0)
    with pytest.raises(ValueError, match="dtype"):
        VlmCaptioner("m", dtype="float8")
    with pytest.raises(ValueError, match="placeholders"):
        VlmCaptioner("m", prompt="Describe {clip}")
