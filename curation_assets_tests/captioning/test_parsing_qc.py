"""JSON repair, caption QC (exact reasons), camera prefix and caption variants."""

from __future__ import annotations

import pytest

from curation_assets.captioning import (
    FIELDS,
    CaptionQC,
    CaptionQCConfig,
    CaptionQualityFilter,
    CaptionResult,
    Parse,
    caption_variants,
    check_caption,
    parse_fields,
    with_camera_prefix,
)
from curation_assets.captioning.prefix import camera_prefix

DENSE = (
    "A brown dog runs across a sunlit meadow toward a wooden fence, its ears flapping as it "
    "moves. Tall grass sways in a light breeze while a child in a red jacket follows behind, "
    "laughing and waving a stick. Trees line the far edge of the field under a pale blue sky."
)


@pytest.mark.parametrize(
    ("raw", "parse", "expected"),
    [
        pytest.param(
            '{"short_description": "A dog.", "dense_description": "A dog runs."}',
            Parse.OK,
            {"short_description": "A dog.", "dense_description": "A dog runs."},
            id="valid",
        ),
        pytest.param(
            'Sure!\n```json\n{"short_description": "A dog.", "style": "realistic"}\n```\nDone.',
            Parse.OK,
            {"short_description": "A dog.", "style": "realistic"},
            id="code fence and prose",
        ),
        pytest.param(
            '{"short_description": "A dog.", "lighting": "soft",}',
            Parse.REPAIRED,
            {"short_description": "A dog.", "lighting": "soft"},
            id="trailing comma",
        ),
        pytest.param(
            "{'short_description': 'A dog.', 'dense_description': 'The dog\\'s \"red\" ball.'}",
            Parse.REPAIRED,
            {"short_description": "A dog.", "dense_description": 'The dog\'s "red" ball.'},
            id="single quotes",
        ),
        pytest.param(
            '{short_description: "A dog, note: calm.", shot_type: "wide shot"}',
            Parse.REPAIRED,
            {"short_description": "A dog, note: calm.", "shot_type": "wide shot"},
            id="unquoted keys",
        ),
        pytest.param(
            '{"short_description": "A dog.", "dense_description": "A dog runs along the',
            Parse.REPAIRED,
            {"short_description": "A dog.", "dense_description": "A dog runs along the"},
            id="truncated mid value",
        ),
        pytest.param(
            '```json\n{"short_description": "A dog.", "dense_descr',
            Parse.REPAIRED,
            {"short_description": "A dog."},
            id="truncated mid key",
        ),
        pytest.param(
            '{"Short Description": "A dog.", "lighting": ["soft", "warm"], "style": null}',
            Parse.OK,
            {"short_description": "A dog.", "lighting": "soft, warm"},
            id="key spelling and non-string values",
        ),
        pytest.param(
            "A dog runs across a meadow.",
            Parse.FALLBACK,
            {"dense_description": "A dog runs across a meadow."},
            id="plain text",
        ),
        pytest.param("  \n\n ", Parse.FALLBACK, {}, id="empty"),
    ],
)
def test_parse_fields(raw: str, parse: Parse, expected: dict[str, str]) -> None:
    parsed = parse_fields(raw)
    assert parsed.parse == parse
    assert set(parsed.fields) == set(FIELDS)
    assert {k: v for k, v in parsed.fields.items() if v} == expected


def test_missing_fields_are_listed() -> None:
    parsed = parse_fields('{"dense_description": "x"}')
    assert parsed.parse == Parse.OK
    assert "dense_description" not in parsed.missing
    assert set(parsed.missing) == set(FIELDS) - {"dense_description"}


def _result(
    dense: str, parse: Parse = Parse.OK, captioner: str = "vlm", caption: str | None = None
) -> CaptionResult:
    fields = dict.fromkeys(FIELDS, "")
    fields["dense_description"] = dense
    return CaptionResult(
        "c1", dense if caption is None else caption, fields, dense, parse, captioner, "m"
    )


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        pytest.param(_result(DENSE), None, id="good"),
        pytest.param(_result(DENSE, Parse.REPAIRED), None, id="repaired is fine"),
        pytest.param(_result(""), CaptionQC.EMPTY, id="empty"),
        pytest.param(_result(" \n ", Parse.FALLBACK), CaptionQC.EMPTY, id="empty fallback"),
        pytest.param(_result(DENSE, Parse.FALLBACK), CaptionQC.INVALID_JSON, id="not json"),
        pytest.param(
            _result("The image shows " + DENSE), CaptionQC.BANNED_OPENING, id="image shows"
        ),
        pytest.param(
            _result("In this video, " + DENSE), CaptionQC.BANNED_OPENING, id="in this video"
        ),
        pytest.param(_result("A dog runs in a field."), CaptionQC.TOO_SHORT, id="too short"),
        pytest.param(_result(" ".join([DENSE] * 7)), CaptionQC.TOO_LONG, id="too long"),
        pytest.param(
            _result(DENSE + " and then the dog runs" * 4),
            CaptionQC.REPETITION,
            id="3-gram loop",
        ),
        pytest.param(_result("the " * 6 + DENSE), CaptionQC.REPETITION, id="one word stutter"),
        pytest.param(
            _result(DENSE + " and then the dog runs" * 3),
            None,
            id="3-gram three times is allowed",
        ),
        pytest.param(
            _result("a red car and a blue car. a red car and a blue car. " + DENSE[:80]),
            CaptionQC.REPETITION,
            id="repeated fraction",
        ),
        pytest.param(
            _result("", captioner="signals", caption="The camera pans right. Low light."),
            None,
            id="signals caption exempt from min words",
        ),
    ],
)
def test_qc_reasons(result: CaptionResult, reason: CaptionQC | None) -> None:
    assert check_caption(result) == (reason is None, reason)


def test_qc_counts_like_a_filter() -> None:
    qc = CaptionQualityFilter(CaptionQCConfig(min_words=3, banned_openings=("This image",)))
    for dense in (DENSE, "This image is nice", "", "two words"):
        qc.check(_result(dense))
    assert (qc.total, qc.kept) == (4, 1)
    assert qc.dropped == {
        CaptionQC.BANNED_OPENING: 1,
        CaptionQC.EMPTY: 1,
        CaptionQC.TOO_SHORT: 1,
    }
    assert CaptionQC.TOO_SHORT == "caption_too_short"  # the stored reason string


def test_qc_bad_settings_raise() -> None:
    with pytest.raises(ValueError, match="min_words <= max_words"):
        CaptionQCConfig(min_words=50, max_words=10)
    with pytest.raises(ValueError, match="max_repeated_fraction"):
        CaptionQCConfig(max_repeated_fraction=0)


@pytest.mark.parametrize(
    ("label", "confidence", "prefix"),
    [
        pytest.param("pan_right", 0.9, "Camera pans right. ", id="pan right"),
        pytest.param("zoom_in", 0.6, "Camera zooms in. ", id="at threshold"),
        pytest.param("static", 0.95, "Camera is static. ", id="static"),
        pytest.param("pan_right", 0.59, "", id="low confidence"),
        pytest.param("complex", 0.99, "", id="complex"),
        pytest.param(None, None, "", id="no label"),
    ],
)
def test_camera_prefix(label: str | None, confidence: float | None, prefix: str) -> None:
    labels = {"camera_motion": label} if label else {}
    conf = {"camera_motion": confidence} if confidence is not None else {}
    assert camera_prefix(labels, conf) == prefix
    assert with_camera_prefix("A dog runs.", labels, conf) == prefix + "A dog runs."


def test_camera_prefix_threshold_configurable_and_not_doubled() -> None:
    labels, conf = {"camera_motion": "tilt_up"}, {"camera_motion": 0.7}
    assert camera_prefix(labels, conf, min_confidence=0.8) == ""
    once = with_camera_prefix("A tower.", labels, conf)
    assert with_camera_prefix(once, labels, conf) == once == "Camera tilts up. A tower."
    assert with_camera_prefix("", labels, conf) == ""


FIELDS_FULL = {
    "short_description": "A dog runs in a meadow.",
    "dense_description": DENSE,
    "background": "a meadow and trees",
    "style": "realistic",
    "shot_type": "wide shot",
    "lighting": "bright daylight",
    "atmosphere": "playful",
    "camera_motion": "pans right",
}


def test_variants_are_deterministic_and_differ() -> None:
    first = caption_variants(FIELDS_FULL, "clip-1", n=6, seed=7)
    again = caption_variants(dict(FIELDS_FULL), "clip-1", n=6, seed=7)
    assert first == again
    assert caption_variants(FIELDS_FULL, "clip-1", n=3, seed=7) == first[:3]
    assert len(set(first)) > 1
    assert caption_variants(FIELDS_FULL, "clip-2", n=6, seed=7) != first
    assert caption_variants(FIELDS_FULL, "clip-1", n=6, seed=8) != first


def test_variants_dropout_and_permutation() -> None:
    none_dropped = caption_variants(FIELDS_FULL, "c", n=5, dropout=0.0, permute=False)
    assert len(set(none_dropped)) == 1
    assert none_dropped[0].startswith("A dog runs in a meadow. " + DENSE)
    assert none_dropped[0].endswith("Camera motion: pans right.")
    shuffled = caption_variants(FIELDS_FULL, "c", n=20, dropout=0.0)
    assert len(set(shuffled)) > 1
    assert all(len(v) == len(none_dropped[0]) for v in shuffled)  # same fields, new order
    all_dropped = caption_variants(FIELDS_FULL, "c", n=3, dropout=1.0)
    assert all_dropped == [DENSE] * 3  # the longest field survives
    kept = caption_variants(FIELDS_FULL, "c", n=10, dropout=0.9, keep=("lighting",))
    assert all("Lighting: bright daylight." in v for v in kept)


def test_variants_of_nothing() -> None:
    assert caption_variants(dict.fromkeys(FIELDS, ""), "c", n=2) == ["", ""]
    with pytest.raises(ValueError, match="dropout"):
        caption_variants(FIELDS_FULL, "c", n=1, dropout=1.5)
