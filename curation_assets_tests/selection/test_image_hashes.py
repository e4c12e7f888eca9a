"""Still-image hashes and the pieces of near-duplicates and ``frame_of`` on their own: pHashes
measured on scikit-image's real photos through the production path (image pass, stored JPEG
sample, pHash analyzer), a video clip's frame hashes, the index's crop hashes and the frame
matcher on hand-made hashes, concepts per media kind. Materialized for real in
``test_image_duplicates.py``.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import imagehash
import numpy as np
import polars as pl
import pytest
import skimage
from PIL import Image

from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.selection.concepts import cluster_per_kind
from curation_assets.selection.dedup import DuplicateIndex
from curation_assets.selection.duplicate_groups import duplicate_groups
from curation_assets.selection.frames import FrameMatches, ShardKeys
from curation_assets.signals.content.perceptual_hash import (
    CROP_SCALES,
    PerceptualHashAnalyzer,
    centred_crop,
    crop_hashes,
    phash_bits,
    window_boxes,
)
from curation_assets.signals.samples import (
    clip_samples_for_file,
    image_samples_for_file,
)

PHOTOS = Path(skimage.data.__file__).parent
RADIUS = 8  # dedup.hamming_radius default
# motorcycle_right is left out: it is motorcycle_left seen from a camera a few cm aside (the
# Middlebury stereo pair, 4 bits apart), a near duplicate by any pHash measure
STEREO_TWIN = "motorcycle_right.png"
# a wall of bricks: a periodic texture, whose hash changes with any cut that is not one of the
# window keys' (a copy cut by 12 % or mirrored lands 10-14 bits away: the known miss)
PERIODIC = "brick.png"


def real_photos(min_short_side: int = 256) -> list[Path]:
    """skimage's photos that admission takes (short side >= 256), stereo twin excluded."""
    out = []
    for path in sorted(PHOTOS.glob("*")):
        if path.suffix.lower() not in (".png", ".jpg") or path.name == STEREO_TWIN:
            continue
        with Image.open(path) as img:
            if min(img.size) >= min_short_side:
                out.append(path)
    return out


def half_q70(source: Path, target: Path) -> Path:
    """A half-size copy re-encoded as JPEG quality 70 (a re-upload)."""
    with Image.open(source) as img:
        rgb = img.convert("RGB")
        rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.LANCZOS).save(
            target, quality=70
        )
    return target


def cut_left_mirrored(source: Path, target: Path, left: float, mirror: bool) -> Path:
    """A copy with ``left`` of the width cut off the left side only, or mirrored."""
    with Image.open(source) as img:
        rgb = img.convert("RGB")
        rgb = rgb.crop((round(rgb.width * left), 0, rgb.width, rgb.height))
        (rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirror else rgb).save(target)
    return target


def crop_each_side(source: Path, target: Path, fraction: float = 0.05) -> Path:
    """A copy with ``fraction`` of the width / height cut off each side (a light crop)."""
    with Image.open(source) as img:
        w, h = img.size
        dx, dy = round(w * fraction), round(h * fraction)
        img.convert("RGB").crop((dx, dy, w - dx, h - dy)).save(target)
    return target


def image_vectors(path: Path) -> dict[str, np.ndarray]:
    """The pHash vectors of an image clip, through the pipeline's own path: image pass, stored
    samples (JPEG round trip), the clip's samples, the analyzer."""
    return PerceptualHashAnalyzer().analyze(image_samples_for_file(path)).artifacts["vectors"]


def bits(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())


def crop_tolerant(a: dict, b: dict) -> int:
    """What the image index compares: one hash against the other's hash or crop hashes."""
    crops_a, crops_b = a["phash_crops"].reshape(-1, 8), b["phash_crops"].reshape(-1, 8)
    keys_a, keys_b = [a["phash"][:8], *crops_a], [b["phash"][:8], *crops_b]
    return min([bits(keys_a[0], k) for k in keys_b] + [bits(k, keys_b[0]) for k in keys_a[1:]])


# --- real photos: what the hashes measure ------------------------------------------------------


@pytest.fixture(scope="module")
def photo_vectors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("photo_copies")
    out = {}
    for path in real_photos():
        out[path.name] = image_vectors(path)
        out[f"{path.name} half q70"] = image_vectors(half_q70(path, folder / f"{path.stem}.jpg"))
        out[f"{path.name} crop 5%"] = image_vectors(crop_each_side(path, folder / path.name))
        left = cut_left_mirrored(path, folder / f"left {path.stem}.png", 0.12, mirror=False)
        out[f"{path.name} left 12%"] = image_vectors(left)
        mirrored = cut_left_mirrored(path, folder / f"mirror {path.stem}.png", 0.0, mirror=True)
        out[f"{path.name} mirrored"] = image_vectors(mirrored)
    return out


def test_image_vectors_layout(photo_vectors) -> None:
    vectors = photo_vectors["astronaut.png"]
    # 4 centred crops, 20 one-side and 12 two-side windows, the mirror
    assert vectors["phash"].shape == (24,) and vectors["phash_crops"].shape == (8 * 37,)
    assert len(CROP_SCALES) == 4 and len(window_boxes()) == 32
    # one sample: the three "frame" hashes of an image are the same
    assert bits(vectors["phash"][:8], vectors["phash"][8:16]) == 0
    assert "phash_frames" not in vectors


def test_hashes_are_imagehash_phash_bit_for_bit() -> None:
    """The analyzer's own pHash (one grey conversion for all crops) gives imagehash's bits:
    stored hashes stay comparable with those of earlier runs."""
    for path in real_photos(min_short_side=0):
        rgb = image_samples_for_file(path).rgb[0]
        crops = [centred_crop(rgb, keep) for keep in CROP_SCALES]
        expected = [np.asarray(imagehash.phash(Image.fromarray(c)).hash).ravel() for c in crops]
        assert np.array_equal(crop_hashes(rgb), np.packbits(expected, axis=1).ravel()), path.name
        reference = np.asarray(imagehash.phash(Image.fromarray(rgb)).hash).ravel()
        assert np.array_equal(phash_bits(rgb), reference), path.name


def test_reencodes_and_light_crops_land_within_the_radius_distinct_photos_do_not(
    photo_vectors,
) -> None:
    names = [p.name for p in real_photos()]
    assert len(names) >= 18
    plain = {"half q70": {}, "crop 5%": {}, "left 12%": {}, "mirrored": {}}
    tolerant = {copy: {} for copy in plain}
    for name, copy in itertools.product(names, plain):
        a, b = photo_vectors[name], photo_vectors[f"{name} {copy}"]
        plain[copy][name] = bits(a["phash"][:8], b["phash"][:8])
        tolerant[copy][name] = crop_tolerant(a, b)
    distinct = {
        (a, b): crop_tolerant(photo_vectors[a], photo_vectors[b])
        for a, b in itertools.combinations(names, 2)
    }
    closest = min(distinct.items(), key=lambda kv: kv[1])
    print(
        f"\nhalf q70: plain {sorted(plain['half q70'].values())}"
        + "".join(
            f"\n{copy}: plain {sorted(plain[copy].values())}, "
            f"crop-tolerant {sorted(tolerant[copy].values())}"
            for copy in ("crop 5%", "left 12%", "mirrored")
        )
        + f"\n{len(distinct)} distinct pairs, closest {closest}"
    )
    assert max(tolerant["half q70"].values()) <= RADIUS, tolerant["half q70"]
    assert max(tolerant["crop 5%"].values()) <= RADIUS, tolerant["crop 5%"]
    for copy in ("left 12%", "mirrored"):  # measured: brick 14 and 10 bits, every other <= 6
        missed = {n for n, d in tolerant[copy].items() if d > RADIUS}
        assert missed <= {PERIODIC}, (copy, tolerant[copy])
    for copy in ("crop 5%", "left 12%", "mirrored"):
        assert max(plain[copy].values()) > RADIUS, copy  # why crop and window keys are needed
    assert closest[1] >= 2 * RADIUS, closest  # a wide margin, not a near miss


def test_the_image_index_groups_each_copy_with_its_original_only(photo_vectors, tmp_path) -> None:
    names = [p.name for p in real_photos()]
    index = DuplicateIndex(tmp_path / "images")

    def add(shard: str, ids: list[str]) -> None:
        index.add_shard(
            shard,
            ids,
            np.stack([photo_vectors[i]["phash"] for i in ids]),
            crop_hashes=np.stack([photo_vectors[i]["phash_crops"] for i in ids]),
        )

    add("photos", names)
    copies = ("half q70", "crop 5%", "left 12%", "mirrored")
    add("copies", [f"{n} {c}" for n in names for c in copies])
    wrong = [
        (a, b)
        for a, b in index.edges.select("clip_a", "clip_b").rows()
        if a.split()[0] != b.split()[0]
    ]
    assert wrong == []
    clips = pl.DataFrame({"clip_id": index.clips()["clip_id"]}).with_columns(
        duration_s=pl.lit(0.0), short_side_px=pl.lit(256.0), quality=pl.lit(None, pl.Float64)
    )
    groups = duplicate_groups(index.edges, clips)
    group_of = dict(zip(groups["clip_id"], groups["group_id"], strict=True))
    for name in names:  # each photo and its four copies: one group of five
        kept = copies if name != PERIODIC else ("half q70", "crop 5%")
        family = {group_of.get(f"{name}{c}") for c in ("", *(f" {c}" for c in kept))}
        assert len(family) == 1 and None not in family, (name, family)
    size_of = dict(zip(groups["clip_id"], groups["group_size"], strict=True))
    assert {size_of[n] for n in names if n != PERIODIC} == {5}
    assert "phash_crop" in set(index.edges["kind"])


# --- the index's crop hashes on hand-made hashes -------------------------------------------------


def _hash(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, 8, dtype=np.uint8)


def _flip(h: np.ndarray, n: int) -> np.ndarray:
    out = h.copy()
    for bit in range(n):
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def test_a_hash_close_to_a_crop_hash_is_a_phash_crop_edge_both_ways(tmp_path) -> None:
    original, crop90, other = _hash(1), _hash(2), _hash(3)
    index = DuplicateIndex(tmp_path / "idx")
    # the original brings its crop hashes; the cropped copy's own hash is close to one of them
    index.add_shard(
        "a",
        ["orig"],
        np.tile(original, 3)[None],
        crop_hashes=np.concatenate([_hash(9), crop90])[None],
    )
    index.add_shard(
        "b", ["copy", "far"], np.stack([np.tile(_flip(crop90, 3), 3), np.tile(other, 3)])
    )
    # and the other way round: a new clip whose crop hash is close to an old clip's hash
    index.add_shard(
        "c",
        ["zoomed"],
        np.tile(_hash(4), 3)[None],
        crop_hashes=np.concatenate([_flip(other, 8), _hash(5)])[None],
    )
    rows = index.edges.select("clip_a", "clip_b", "kind", "distance").rows()
    assert rows == [("copy", "orig", "phash_crop", 3.0), ("far", "zoomed", "phash_crop", 8.0)]
    assert index.counters["phash_crop_edges_found"] == 2
    assert index.counters["comparisons_old_vs_old"] == 0

    again = DuplicateIndex(tmp_path / "idx")  # crop hashes are stored and searched after reload
    again.add_shard("d", ["late"], np.tile(_flip(crop90, 1), 3)[None])
    assert ("late", "orig") in {
        (a, b) for a, b, k in again.edges.select("clip_a", "clip_b", "kind").rows()
    }
    assert again.remove_shard("a")
    assert not any("orig" in (a, b) for a, b in again.edges.select("clip_a", "clip_b").rows())
    again.add_shard("e", ["late2"], np.tile(crop90, 3)[None])  # orig's crops are gone
    assert ("late2", "orig") not in set(again.edges.select("clip_a", "clip_b").rows())


def test_a_pair_found_by_both_hashes_is_one_phash_edge(tmp_path) -> None:
    h = _hash(7)
    index = DuplicateIndex(tmp_path / "idx")
    index.add_shard("a", ["x"], np.tile(h, 3)[None], crop_hashes=np.tile(h, 2)[None])
    index.add_shard("b", ["y"], np.tile(h, 3)[None], crop_hashes=np.tile(h, 2)[None])
    assert index.edges.select("clip_a", "clip_b", "kind").rows() == [("x", "y", "phash")]


def test_bad_crop_hashes_are_refused(tmp_path) -> None:
    index = DuplicateIndex(tmp_path / "idx")
    with pytest.raises(ValueError, match="crop_hashes"):
        index.add_shard(
            "a", ["x"], np.zeros((1, 24), np.uint8), crop_hashes=np.zeros((1, 7), np.uint8)
        )
    with pytest.raises(ValueError, match="crop_hashes"):
        index.add_shard(
            "a", ["x"], np.zeros((1, 24), np.uint8), crop_hashes=np.zeros((2, 8), np.uint8)
        )


# --- frame_of on hand-made hashes ---------------------------------------------------------------


def test_frame_matches_are_incremental_and_follow_changed_shards(tmp_path) -> None:
    frames = np.stack([np.concatenate([_hash(10 + i) for i in range(4)]), np.tile(_hash(20), 4)])
    shards = {
        "v": ShardKeys(video_ids=["clip1", "clip2"], frame_hashes=frames),
        "i": ShardKeys(
            image_ids=["grab", "photo"], image_hashes=np.stack([_flip(_hash(12), 2), _hash(30)])
        ),
    }
    loads: list[str] = []

    def load(shard: str) -> ShardKeys:
        loads.append(shard)
        return shards[shard]

    state = tmp_path / "frame_of.json"
    matcher = FrameMatches(state, radius=8)
    report = matcher.update({"v": "1", "i": "1"}, load)
    assert matcher.matches.rows() == [("grab", "clip1", 2, "i", "v")]
    assert report.comparisons == 2 * 8  # both shards new: 2 images x 8 frame hashes

    loads.clear()
    again = FrameMatches(state, radius=8)
    assert again.update({"v": "1", "i": "1"}, load).comparisons == 0 and loads == []
    # a new shard of images is compared with every frame; old images never again
    shards["j"] = ShardKeys(image_ids=["grab2"], image_hashes=_flip(_hash(20), 8)[None])
    report = again.update({"v": "1", "i": "1", "j": "1"}, load)
    assert report.comparisons == 1 * 8 and report.shards_compared == ["j"]
    assert {r[0]: r[1] for r in again.matches.rows()} == {"grab": "clip1", "grab2": "clip2"}
    # a shard that is gone takes its matches with it; another radius starts over
    again.update({"v": "1", "i": "1"}, load)
    assert [r[0] for r in again.matches.rows()] == ["grab"]
    assert FrameMatches(state, radius=4).matches.height == 0


# --- concepts per media kind --------------------------------------------------------------------


def test_concepts_are_clustered_and_weighted_per_media_kind() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(30, 8)).astype(np.float32)
    kinds = ["video"] * 20 + ["image"] * 10
    found = cluster_per_kind(vectors, kinds, k=4, seed=0)
    assert all(not label.startswith("image:") for label in found.labels[:20])
    assert all(label.startswith("image:c") for label in found.labels[20:])
    assert found.weights[:20].mean() == pytest.approx(1.0)
    assert found.weights[20:].mean() == pytest.approx(1.0)
    assert found.k == {"image": 4, "video": 4}
    # a video's concept does not depend on the images
    alone = cluster_per_kind(vectors[:20], kinds[:20], k=4, seed=0)
    assert alone.labels == found.labels[:20]
    assert np.allclose(alone.weights, found.weights[:20])


def test_a_video_clip_keeps_the_hashes_of_up_to_16_samples(tmp_path) -> None:
    video = write_video(
        VideoSpec("v.mp4", (Shot(10, "pan_right", seed=3),), 640, 360), tmp_path / "v.mp4"
    )
    clip = clip_samples_for_file(video, 0.25, 10.0)
    analyzer = PerceptualHashAnalyzer()
    started = time.perf_counter()
    vectors = analyzer.analyze(clip).artifacts["vectors"]
    ms = (time.perf_counter() - started) * 1e3
    print(f"\n{len(clip.rgb)} samples: phash with frame hashes in {ms:.0f} ms")
    assert "phash_crops" not in vectors
    frames = vectors["phash_frames"].reshape(16, 8)
    assert len(clip.rgb) > 16
    first, last = vectors["phash"][8:16], vectors["phash"][16:24]
    assert bits(frames[0], first) == 0 and bits(frames[-1], last) == 0
    assert (
        len({f.tobytes() for f in frames}) > 8
    )  # the pan moves: distinct samples, distinct hashes
    short = clip_samples_for_file(video, 0.25, 2.0)  # 4 samples: the last one repeated
    frames = analyzer.analyze(short).artifacts["vectors"]["phash_frames"].reshape(16, 8)
    assert all(bits(f, frames[len(short.rgb) - 1]) == 0 for f in frames[len(short.rgb) - 1 :])
