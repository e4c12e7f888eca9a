"""The content family on real decoded clips: synthetic footage with known copies, real photos
with and without people (scikit-image's data set), and a tiny random open_clip model loaded
through the production path (``pretrained=<local checkpoint>``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import cv2
import numpy as np
import open_clip
import pytest
from skimage import data as skdata

from curation_assets.media.synthetic import Shot, VideoSpec, encode_frames, write_video
from curation_assets.signals import clip_model
from curation_assets.signals.base import ClipSamples
from curation_assets.signals.content.clip_embedding import (
    HUMAN_PROMPTS,
    NON_HUMAN_PROMPTS,
    ClipEmbeddingAnalyzer,
    zero_shot_mass,
)
from curation_assets.signals.content.perceptual_hash import PerceptualHashAnalyzer, hamming
from curation_assets.signals.content.thumbnail_embedding import ThumbnailEmbeddingAnalyzer
from curation_assets.signals.samples import clip_samples_for_file
from curation_assets_tests.tiny_clip import TINY_CLIP_CFG as TINY_CFG
from curation_assets_tests.tiny_clip import save_tiny_clip

SCENE_SEEDS = (11, 12, 13, 14)
NEAR_DUPLICATE_RADIUS = 8  # middle-hash Hamming distance of copies of the same footage
# Different real photos (scikit-image's) measured 30-40 bits apart. The synthetic textures all
# share one generator (smooth noise + discs), so they are closer: over 190 pairs of seeds 10-29
# the middle frames measured min 16, 5th percentile 20, median 26.
DIFFERENT_PHOTOS_MIN = 20
DIFFERENT_SYNTHETIC_MIN = 16


def _timed(analyzer, clip: ClipSamples):
    start = time.perf_counter()
    measured = analyzer.analyze(clip)
    return measured, (time.perf_counter() - start) * 1000


def _reencode(src: Path, dst: Path, crf: int, size: tuple[int, int] | None = None) -> Path:
    """Decode ``src`` and encode it again with libx264 at ``crf``, optionally rescaled."""
    with av.open(str(src)) as inp:
        fps = int(round(float(inp.streams.video[0].average_rate)))
        images = (frame.to_ndarray(format="rgb24") for frame in inp.decode(video=0))
        if size:
            images = (cv2.resize(i, size, interpolation=cv2.INTER_AREA) for i in images)
        return encode_frames(dst, images, fps, {"preset": "medium", "crf": str(crf)})


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipSamples]:
    """The same 4.5 s scene as original, crf 35 re-encode, 320x180 rescale and 10% brighter;
    plus three other scenes."""
    folder = tmp_path_factory.mktemp("footage")

    def spec(seed: int, effects: tuple[str, ...] = ()) -> VideoSpec:
        return VideoSpec(f"s{seed}", (Shot(4.5, "drift", seed=seed, effects=effects),), 640, 360)

    original = write_video(spec(SCENE_SEEDS[0]), folder / "original.mp4")
    paths = {
        "original": original,
        "crf35": _reencode(original, folder / "crf35.mp4", 35),
        "rescaled": _reencode(original, folder / "rescaled.mp4", 23, (320, 180)),
        "bright": write_video(spec(SCENE_SEEDS[0], ("bright:1.1",)), folder / "bright.mp4"),
    }
    for seed in SCENE_SEEDS[1:]:
        paths[f"scene{seed}"] = write_video(spec(seed), folder / f"scene{seed}.mp4")
    return {name: clip_samples_for_file(path) for name, path in paths.items()}


COPIES = ("crf35", "rescaled", "bright")
OTHERS = tuple(f"scene{seed}" for seed in SCENE_SEEDS[1:])


# --- pHash ----------------------------------------------------------------------------------------


def test_phash_finds_copies_and_separates_scenes(footage) -> None:
    analyzer = PerceptualHashAnalyzer()
    measured = {}
    for name, clip in footage.items():
        measured[name], ms = _timed(analyzer, clip)
        print(f"\nphash {name}: spread {measured[name].scores} in {ms:.1f} ms")
    middle = {name: m.artifacts["vectors"]["phash"][:8] for name, m in measured.items()}
    copies = {name: hamming(middle["original"], middle[name]) for name in COPIES}
    scenes = [("original", *OTHERS)[i] for i in range(len(OTHERS) + 1)]
    others = {
        (a, b): hamming(middle[a], middle[b]) for i, a in enumerate(scenes) for b in scenes[i + 1 :]
    }
    print(f"copies (middle-hash Hamming): {copies}\ndifferent scenes: {others}")
    assert all(d <= NEAR_DUPLICATE_RADIUS for d in copies.values()), copies
    assert all(d >= DIFFERENT_SYNTHETIC_MIN for d in others.values()), others


def test_phash_separates_different_photos(photos) -> None:
    analyzer = PerceptualHashAnalyzer()
    middle = {n: analyzer.analyze(c).artifacts["vectors"]["phash"][:8] for n, c in photos.items()}
    names = list(middle)
    pairs = {
        (a, b): hamming(middle[a], middle[b]) for i, a in enumerate(names) for b in names[i + 1 :]
    }
    print(f"\nphoto clips (middle-hash Hamming): {pairs}")
    assert all(d >= DIFFERENT_PHOTOS_MIN for d in pairs.values()), pairs


def test_phash_vector_layout_and_determinism(footage) -> None:
    analyzer = PerceptualHashAnalyzer()
    clip = footage["original"]
    first, second = analyzer.analyze(clip), analyzer.analyze(clip)
    vector = first.artifacts["vectors"]["phash"]
    assert vector.dtype == np.uint8 and vector.shape == (24,)
    assert np.array_equal(vector, second.artifacts["vectors"]["phash"])
    assert first.scores == second.scores
    # phash_spread is the largest distance among the three hashes, over 64 bits
    thirds = [vector[i * 8 : (i + 1) * 8] for i in range(3)]
    pairs = [hamming(thirds[i], thirds[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert first.scores["phash_spread"] == max(pairs) / 64
    lo, hi = analyzer.ranges["phash_spread"]
    assert lo <= first.scores["phash_spread"] <= hi


def test_no_samples_no_scores(footage) -> None:
    empty = _empty(footage["original"])
    for analyzer in (PerceptualHashAnalyzer(), ThumbnailEmbeddingAnalyzer()):
        measured = analyzer.analyze(empty)
        assert measured.scores == {} and "vectors" not in measured.artifacts


def _empty(clip: ClipSamples) -> ClipSamples:
    return ClipSamples(**{**clip.__dict__, "rgb": [], "rgb_times": np.zeros(0)})


# --- thumbnail embedding ------------------------------------------------------------------------


def test_thumbnail_embedding_near_identical_for_copies(footage) -> None:
    analyzer = ThumbnailEmbeddingAnalyzer()
    vectors = {}
    for name, clip in footage.items():
        measured, ms = _timed(analyzer, clip)
        vectors[name] = measured.artifacts["vectors"]["thumbnail_embedding"]
        assert measured.scores == {}
        assert vectors[name].ndim == 1 and abs(np.linalg.norm(vectors[name]) - 1) < 1e-5
    print(f"\nthumbnail_embedding: {vectors['original'].shape[0]}-d, {ms:.1f} ms a clip")
    cosine = {name: float(vectors["original"] @ v) for name, v in vectors.items()}
    print(f"cosine to original: { {k: round(v, 3) for k, v in cosine.items()} }")
    assert all(cosine[name] > 0.95 for name in COPIES), cosine
    assert all(cosine[name] < min(cosine[c] for c in COPIES) - 0.1 for name in OTHERS), cosine


# --- real photos (the offline human detector's own tests: test_human_detector.py) ------------

PEOPLE = ("astronaut", "camera")
NO_PEOPLE = ("chelsea", "coffee", "rocket")


def _photo_video(image: np.ndarray, path: Path, zoom: float = 1.08) -> Path:
    """A 5 s 640x360 clip of ``image`` (letter/pillarboxed) slowly zooming in by ``zoom``."""
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    width, height, fps, seconds = 640, 360, 12, 5.0
    scale = min(width / image.shape[1], height / image.shape[0])
    fitted = cv2.resize(
        image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), cv2.INTER_AREA
    )
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    canvas[y : y + fitted.shape[0], x : x + fitted.shape[1]] = fitted
    frames = int(fps * seconds)

    def zoomed(i: int) -> np.ndarray:
        s = 1.0 + (zoom - 1.0) * i / (frames - 1)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, s)
        return cv2.warpAffine(canvas, matrix, (width, height))

    return encode_frames(path, map(zoomed, range(frames)), fps)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipSamples]:
    folder = tmp_path_factory.mktemp("photos")
    return {
        name: clip_samples_for_file(_photo_video(getattr(skdata, name)(), folder / f"{name}.mp4"))
        for name in PEOPLE + NO_PEOPLE
    }


# --- open_clip embedding with a tiny random model -----------------------------------------------

TINY = "tiny-vit-content-test"
UNSAFE = ("graphic violence", "gore")
SAFE = ("a landscape", "an everyday activity")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_tiny_clip(tmp_path_factory.mktemp("tiny_clip_content"), TINY)


def _clip_analyzer(tiny) -> ClipEmbeddingAnalyzer:
    return ClipEmbeddingAnalyzer(
        TINY,
        str(tiny["checkpoint"]),
        frames=4,
        model_config=str(tiny["config"]),
        unsafe_prompts=UNSAFE,
        safe_prompts=SAFE,
    )


def test_clip_embedding_shape_norm_and_identity(tiny, footage) -> None:
    analyzer = _clip_analyzer(tiny)
    assert analyzer.version.startswith(f"1:{TINY}:tiny_clip.pt:prompts-")
    analyzer.analyze(footage["original"])  # load model and prompts once
    first, ms = _timed(analyzer, footage["original"])
    print(f"\nopen_clip (tiny, 4 frames): {first.scores} in {ms:.0f} ms a clip")
    again = analyzer.analyze(footage["original"])
    other = analyzer.analyze(footage[OTHERS[0]])
    vector = first.artifacts["vectors"]["clip_embedding"]
    assert vector.shape == (32,) and abs(np.linalg.norm(vector) - 1) < 1e-5
    assert np.array_equal(vector, again.artifacts["vectors"]["clip_embedding"])
    assert first.scores == again.scores
    assert not np.allclose(vector, other.artifacts["vectors"]["clip_embedding"], atol=1e-4)
    for signal in analyzer.signals:
        assert 0.0 <= first.scores[signal] <= 1.0


def test_zero_shot_equals_manual_computation(tiny, footage) -> None:
    analyzer = _clip_analyzer(tiny)
    clip = footage["rescaled"]
    measured = analyzer.analyze(clip)
    model, _, preprocess = open_clip.create_model_and_transforms(
        TINY, pretrained=str(tiny["checkpoint"])
    )
    model.eval()
    images = [clip.rgb[i] for i in np.round(np.linspace(0, len(clip.rgb) - 1, 4)).astype(int)]
    frames = clip_model.embed_images(model, preprocess, images, "cpu", batch_size=3)
    pooled = frames.mean(0) / np.linalg.norm(frames.mean(0))
    assert np.allclose(pooled, measured.artifacts["vectors"]["clip_embedding"], atol=1e-5)

    def mass(positive, negative) -> float:
        texts = clip_model.encode_texts(TINY, model, [*positive, *negative], "cpu")
        logits = 100.0 * texts @ pooled
        probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        return float(probs[: len(positive)].sum())

    assert measured.scores["human_clip"] == pytest.approx(
        mass(HUMAN_PROMPTS, NON_HUMAN_PROMPTS), abs=1e-5
    )
    assert measured.scores["unsafe_clip"] == pytest.approx(mass(UNSAFE, SAFE), abs=1e-5)


def test_encode_texts_and_embed_images_are_unit_rows(tiny) -> None:
    model, preprocess = clip_model.load_clip(TINY, str(tiny["checkpoint"]), "cpu")
    texts = clip_model.encode_texts(TINY, model, ["a person walking", "a building"], "cpu")
    assert texts.shape == (2, 32) and np.allclose(np.linalg.norm(texts, axis=1), 1, atol=1e-5)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (90, 160, 3), dtype=np.uint8) for _ in range(5)]
    batched = clip_model.embed_images(model, preprocess, images, "cpu", batch_size=2)
    whole = clip_model.embed_images(model, preprocess, images, "cpu", batch_size=8)
    assert batched.shape == (5, 32) and np.allclose(batched, whole, atol=1e-5)
    assert zero_shot_mass(texts[0], texts[:1], texts[1:]) > 0.5  # its own prompt wins


def test_small_text_vocabulary_is_a_clear_error(tmp_path: Path) -> None:
    name = "tiny-vit-small-vocab-test"
    config = tmp_path / f"{name}.json"
    cfg = {**TINY_CFG, "text_cfg": {**TINY_CFG["text_cfg"], "vocab_size": 512}}
    config.write_text(json.dumps(cfg), encoding="utf-8")
    open_clip.add_model_config(config)
    model = open_clip.create_model(name).eval()
    with pytest.raises(ValueError, match="text tower has only 512 tokens"):
        clip_model.encode_texts(name, model, ["a person walking"], "cpu")


def test_bad_prompt_lists_fail_in_the_constructor(tiny) -> None:
    with pytest.raises(ValueError, match="human_prompts"):
        ClipEmbeddingAnalyzer(TINY, str(tiny["checkpoint"]), human_prompts=())
    with pytest.raises(ValueError, match="frames"):
        ClipEmbeddingAnalyzer(TINY, str(tiny["checkpoint"]), frames=0)
