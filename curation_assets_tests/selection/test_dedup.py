"""Cross-shard near-duplicates on hand-made hashes and embeddings with known truth."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from curation_assets.selection import dedup
from curation_assets.selection.dedup import DedupSettings, DuplicateIndex
from curation_assets.selection.duplicate_groups import _components, duplicate_groups
from curation_assets.storage import files

RNG_SEED = 7


def random_hashes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 24), dtype=np.uint8)


def flip(h: np.ndarray, part: int, bits: int, seed: int = 0) -> np.ndarray:
    """A copy of one 24-byte hash with ``bits`` distinct bits flipped in part 0, 1 or 2."""
    out = h.copy()
    chosen = np.random.default_rng(seed).choice(64, bits, replace=False)
    for bit in chosen:
        out[part * 8 + bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def unit(*values: float, d: int = 8) -> np.ndarray:
    v = np.zeros(d, np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


def edge_set(index: DuplicateIndex, kind: str | None = None) -> set[tuple[str, str]]:
    edges = index.edges if kind is None else index.edges.filter(pl.col("kind") == kind)
    return set(zip(edges["clip_a"], edges["clip_b"], strict=True))


def ids(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


@pytest.fixture
def base() -> np.ndarray:
    return random_hashes(6, RNG_SEED)


def test_near_copies_in_different_shards_form_one_group_distinct_ones_do_not(tmp_path, base):
    index = DuplicateIndex(tmp_path / "dedup")
    index.add_shard("a", ["a0", "a1"], base[:2])
    copy = flip(flip(base[0], 0, 3), 1, 2, seed=1)  # 3 bits in the middle hash, 2 in the first
    index.add_shard("b", ["b0", "b1"], np.stack([copy, base[2]]))

    edges = index.edges
    assert edges.select("clip_a", "clip_b", "kind", "distance", "shard_a", "shard_b").rows() == [
        ("a0", "b0", "phash", 3.0, "a", "b")
    ]
    clips = pl.DataFrame(
        {
            "clip_id": ["a0", "a1", "b0", "b1"],
            "duration_s": [6.0, 6.0, 6.0, 6.0],
            "short_side_px": [720, 720, 1080, 720],
            "quality": [None, None, None, None],
        }
    )
    groups = duplicate_groups(edges, clips)
    assert groups.drop("kept_because").rows() == [
        ("a0", "dup-a0", False, 2),
        ("b0", "dup-a0", True, 2),
    ]


@pytest.mark.parametrize("tables", [4, 0], ids=["multihash", "brute_force"])
@pytest.mark.parametrize(("bits", "duplicate"), [(8, True), (9, False)])
def test_hash_radius_is_inclusive(tmp_path, base, tables, bits, duplicate):
    index = DuplicateIndex(tmp_path, DedupSettings(hash_tables=tables, require_all_hashes=False))
    index.add_shard("a", ["a0"], base[:1])
    report = index.add_shard("b", ["b0"], flip(base[0], 0, bits)[None])
    assert report.new_edges == int(duplicate)
    if duplicate:
        assert index.edges["distance"].to_list() == [8.0]


def test_other_frames_must_agree_unless_disabled(tmp_path, base):
    other_end = flip(base[0], 2, 20)[None]  # same middle frame, different last frame
    strict = DuplicateIndex(tmp_path / "strict")
    strict.add_shard("a", ["a0"], base[:1])
    assert strict.add_shard("b", ["b0"], other_end).new_edges == 0

    loose = DuplicateIndex(tmp_path / "loose", DedupSettings(require_all_hashes=False))
    loose.add_shard("a", ["a0"], base[:1])
    assert loose.add_shard("b", ["b0"], other_end).new_edges == 1
    assert loose.edges["distance"].to_list() == [0.0]


def test_edge_distance_is_the_largest_of_the_three_hashes(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0"], base[:1])
    index.add_shard("b", ["b0"], flip(flip(base[0], 0, 2), 2, 7, seed=3)[None])
    assert index.edges["distance"].to_list() == [7.0]


@pytest.mark.parametrize("require_all", [True, False])
@pytest.mark.parametrize("tables", [4, 8, 0])
def test_hash_search_equals_brute_force(tmp_path, tables, require_all):
    """Multi-index hashing is exact: same pairs as an all-pairs numpy loop, across shards."""
    rng = np.random.default_rng(1)
    hashes = random_hashes(600, 2)
    for i in range(150):  # planted near copies with 0..12 flipped bits in every part
        src = hashes[rng.integers(0, 600)]
        copy = src
        for part in range(3):
            copy = flip(copy, part, int(rng.integers(0, 13)), seed=i * 3 + part)
        hashes = np.vstack([hashes, copy])
    perm = rng.permutation(len(hashes))
    hashes = hashes[perm]
    names = [f"c{i:04d}" for i in range(len(hashes))]
    settings = DedupSettings(hash_tables=tables, require_all_hashes=require_all)
    index = DuplicateIndex(tmp_path, settings)
    for s, chunk in enumerate(np.array_split(np.arange(len(hashes)), 5)):
        index.add_shard(f"s{s}", [names[i] for i in chunk], hashes[chunk])

    n = len(hashes)
    dist = dedup.hamming(hashes[:, None, :].repeat(n, 1), hashes[None].repeat(n, 0))
    close = (dist <= 8).all(axis=2) if require_all else dist[:, :, 0] <= 8
    expected = {(names[i], names[j]) for i, j in zip(*np.nonzero(np.triu(close, 1)), strict=True)}
    assert 30 < len(expected) < 150  # some planted copies are too far: the radius matters
    assert edge_set(index) == expected


class SpyIndex:
    """Wraps a faiss index and records who was asked what."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls: list[tuple[int, int]] = []  # (queries, vectors in the index)

    def add(self, x):
        self.inner.add(x)

    def range_search(self, x, radius):
        self.calls.append((len(x), self.inner.ntotal))
        return self.inner.range_search(x, radius)


def test_incremental_compares_only_new_shard_against_old_and_itself(tmp_path):
    hashes = random_hashes(12, 3)
    index = DuplicateIndex(tmp_path)
    a = index.add_shard("a", ids("a", 3), hashes[:3])
    b = index.add_shard("b", ids("b", 4), hashes[3:7])
    spy = SpyIndex(index._hash_index)
    index._hash_index = spy
    c = index.add_shard("c", ids("c", 5), hashes[7:])

    assert (a.comparisons_new_vs_old, a.comparisons_new_vs_new) == (0, 3)
    assert (b.comparisons_new_vs_old, b.comparisons_new_vs_new) == (12, 6)
    assert (c.comparisons_new_vs_old, c.comparisons_new_vs_new) == (5 * 7, 10)
    assert spy.calls == [(5, 12)]  # only C's 5 hashes were queries, against A + B + C
    counters = index.counters
    assert counters["comparisons_old_vs_old"] == 0
    assert counters["comparisons_new_vs_old"] == 0 + 12 + 35
    assert counters["comparisons_new_vs_new"] == 3 + 6 + 10
    assert counters["shards_added"] == 3


def test_new_copies_within_one_shard_are_found_once(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    report = index.add_shard("a", ["a0", "a1", "a2"], np.stack([base[0], base[1], base[0]]))
    assert report.new_edges == 1
    assert edge_set(index) == {("a0", "a2")}


def test_readding_a_shard_is_a_noop(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0"], base[:1])
    index.add_shard("b", ["b0"], base[:1])
    before = (index.edges, index.counters)
    report = index.add_shard("a", ["a0"], base[:1])
    assert report.skipped_because_already_indexed
    assert report.new_clips == 0 and report.new_edges == 0
    assert index.edges.equals(before[0]) and index.counters == before[1]


def test_replace_removes_the_shard_clips_and_edges_then_reindexes(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0", "a1"], base[:2])
    index.add_shard("b", ["b0", "b1"], np.stack([base[0], base[2]]))
    index.add_shard("c", ["c0"], base[1:2])
    assert edge_set(index) == {("a0", "b0"), ("a1", "c0")}

    # shard a re-run: a0 now looks like b1, a1 is gone, a2 is new and unique
    report = index.add_shard("a", ["a0", "a2"], np.stack([base[2], base[3]]), replace=True)
    assert report.replaced and not report.skipped_because_already_indexed
    assert report.comparisons_new_vs_old == 2 * 3  # against b and c, never b x c again
    assert edge_set(index) == {("a0", "b1")}
    assert sorted(index.clips()["clip_id"]) == ["a0", "a2", "b0", "b1", "c0"]
    assert index.counters["shards_replaced"] == 1
    assert index.counters["comparisons_old_vs_old"] == 0
    reloaded = DuplicateIndex(tmp_path)
    assert edge_set(reloaded) == {("a0", "b1")}
    assert reloaded.shards == ["b", "c", "a"]


def test_clip_ids_must_be_unique_across_shards(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["x"], base[:1])
    with pytest.raises(ValueError, match="already indexed elsewhere"):
        index.add_shard("b", ["x"], base[1:2])
    with pytest.raises(ValueError, match="hashes must be uint8"):
        index.add_shard("b", ["y"], base[:1, :8])
    assert index.shards == ["a"]


def test_remove_shard(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0"], base[:1])
    index.add_shard("b", ["b0"], base[:1])
    assert index.remove_shard("a") and not index.remove_shard("a")
    assert index.edges.height == 0
    assert DuplicateIndex(tmp_path).shards == ["b"]


def test_persistence_round_trip_and_search_after_reload(tmp_path, base):
    emb = np.stack([unit(1, 0), unit(0, 1)])
    first = DuplicateIndex(tmp_path)
    first.add_shard("a", ["a0", "a1"], base[:2], emb, embedding_model="clip")
    first.add_shard("b", ["b0"], base[:1], emb[1:], embedding_model="clip")

    again = DuplicateIndex(tmp_path)
    assert again.shards == ["a", "b"]
    assert again.edges.equals(first.edges)
    assert again.counters == first.counters
    assert again.clips().equals(first.clips())
    assert again.embedding_model == "clip" and again.num_embeddings == 3
    # the rebuilt faiss indexes still find old clips
    again.add_shard("c", ["c0"], base[1:2], emb[:1], embedding_model="clip")
    assert ("a1", "c0") in edge_set(again, "phash")
    assert ("a0", "c0") in edge_set(again, "embedding")


def test_a_crash_mid_save_leaves_the_previous_state_readable(tmp_path, base, monkeypatch):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0"], base[:1])
    real_replace = os.replace

    def crash_on_manifest(src, dst):
        if Path(dst).name == "manifest.json":
            raise OSError("power cut")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", crash_on_manifest)  # the one atomic writer
    with pytest.raises(OSError, match="power cut"):
        index.add_shard("b", ["b0"], base[:1])
    monkeypatch.setattr(files.os, "replace", real_replace)

    survivor = DuplicateIndex(tmp_path)
    assert survivor.shards == ["a"]
    assert survivor.edges.height == 0
    report = survivor.add_shard("b", ["b0"], base[:1])
    assert report.new_edges == 1
    leftovers = [p.name for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_settings_are_stored_with_the_index(tmp_path, base):
    DuplicateIndex(tmp_path, DedupSettings(hash_radius=4)).add_shard("a", ["a0"], base[:1])
    assert DuplicateIndex(tmp_path).settings.hash_radius == 4
    with pytest.raises(ValueError, match="delete the folder"):
        DuplicateIndex(tmp_path, DedupSettings(hash_radius=8))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hash_radius": 40}, "hash_radius"),
        ({"hash_radius": 16, "hash_tables": 2}, "flips per table"),
        ({"embedding_threshold": 1.5}, "embedding_threshold"),
        ({"ivf_nprobe": 0}, "ivf_nprobe"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupSettings(**kwargs)


@pytest.mark.parametrize(("cosine", "duplicate"), [(0.995, True), (0.99, True), (0.985, False)])
def test_embedding_duplicates_at_cosine_threshold(tmp_path, cosine, duplicate):
    hashes = random_hashes(2, 5)  # distinct hashes: only the embeddings can link the clips
    second = unit(cosine, float(np.sqrt(1 - cosine**2)))
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0"], hashes[:1], unit(1)[None], embedding_model="clip")
    # scale does not matter: embeddings are re-normalised
    index.add_shard("b", ["b0"], hashes[1:], 3 * second[None], embedding_model="clip")
    assert edge_set(index, "embedding") == ({("a0", "b0")} if duplicate else set())
    if duplicate:
        assert index.edges["distance"][0] == pytest.approx(1 - cosine, abs=1e-6)


def test_embeddings_from_another_model_or_dimension_are_refused(tmp_path, base):
    index = DuplicateIndex(tmp_path)
    index.add_shard("a", ["a0"], base[:1], unit(1)[None], embedding_model="clip-l14")
    with pytest.raises(ValueError, match="cannot be compared"):
        index.add_shard("b", ["b0"], base[1:2], unit(1)[None], embedding_model="thumbnail")
    with pytest.raises(ValueError, match="dimension"):
        index.add_shard("b", ["b0"], base[1:2], unit(1, d=4)[None], embedding_model="clip-l14")
    with pytest.raises(ValueError, match="need embedding_model"):
        index.add_shard("b", ["b0"], base[1:2], unit(1)[None])


def test_missing_embedding_rows_are_skipped(tmp_path, base):
    emb = np.stack([unit(1), np.full(8, np.nan, np.float32), np.zeros(8, np.float32)])
    index = DuplicateIndex(tmp_path)
    report = index.add_shard("a", ["a0", "a1", "a2"], base[:3], emb, embedding_model="clip")
    assert report.embedding_clips == 1
    report = index.add_shard("b", ["b0"], base[3:4], unit(1)[None], embedding_model="clip")
    assert report.embedding_comparisons_new_vs_old == 1
    assert edge_set(index, "embedding") == {("a0", "b0")}


def test_switch_to_ivf_keeps_finding_copies_and_survives_reload(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((90, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    copies = vectors[:10] + 0.01 * rng.standard_normal((10, 16)).astype(np.float32)
    hashes = random_hashes(100, 9)
    settings = DedupSettings(ivf_after=50, ivf_nlist=4, ivf_nprobe=4)  # nprobe = nlist: exact
    index = DuplicateIndex(tmp_path, settings)
    all_vectors = np.vstack([vectors, copies])
    names = [f"v{i:03d}" for i in range(100)]
    order = [range(0, 40), range(40, 80), range(80, 100)]
    for s, chunk in enumerate(order):
        chunk = list(chunk)
        index.add_shard(f"s{s}", [names[i] for i in chunk], hashes[chunk], all_vectors[chunk],
                        embedding_model="clip")  # fmt: skip
        assert index.embedding_search == ("flat" if s == 0 else "ivf")
    expected = {(names[i], names[90 + i]) for i in range(10)}
    assert edge_set(index, "embedding") == expected
    reloaded = DuplicateIndex(tmp_path)
    assert reloaded.embedding_search == "ivf"
    reloaded.add_shard("s3", ["w0"], random_hashes(1, 11), copies[:1], embedding_model="clip")
    assert {("v000", "w0"), ("v090", "w0")} <= edge_set(reloaded, "embedding")


def clips_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "clip_id": pl.String,
            "duration_s": pl.Float64,
            "short_side_px": pl.Int64,
            "quality": pl.Float64,
        },
        orient="row",
    )


def edges_frame(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "clip_a": [a for a, _ in pairs],
            "clip_b": [b for _, b in pairs],
            "kind": ["phash"] * len(pairs),
            "distance": [0.0] * len(pairs),
        }
    )


@pytest.mark.parametrize(
    ("clips", "representative"),
    [
        pytest.param([("x", 8.0, 720, 0.1), ("y", 6.0, 1080, 0.9), ("z", 6.0, 720, 0.9)], "y",
                     id="resolution_before_duration"),
        pytest.param([("x", 6.0, 720, 0.9), ("y", 6.0, 1080, 0.1), ("z", 6.0, 720, 0.9)], "y",
                     id="then_resolution"),
        pytest.param([("x", 6.0, 720, None), ("y", 6.0, 720, 0.2), ("z", 6.0, 720, 0.5)], "z",
                     id="then_quality_missing_last"),
        pytest.param([("x", 6.0, 720, 0.5), ("y", 8.0, 720, 0.5), ("z", 6.0, 720, 0.5)], "y",
                     id="then_longest"),
        pytest.param([("x", 6.0, 720, None), ("y", 6.0, 720, None), ("z", 6.0, 720, None)], "x",
                     id="then_smallest_id"),
        pytest.param([("x", None, 720, 0.9), ("y", 5.0, 720, 0.9), ("z", float("nan"), 720, 0.9)],
                     "y", id="missing_duration_last"),
    ],
)  # fmt: skip
def test_representative_rule(clips, representative):
    groups = duplicate_groups(edges_frame([("x", "y"), ("y", "z")]), clips_frame(clips))
    assert groups["group_id"].unique().to_list() == ["dup-x"]
    assert groups.filter("is_representative")["clip_id"].to_list() == [representative]
    assert groups["group_size"].to_list() == [3, 3, 3]


def test_the_copy_failing_fewer_visual_filters_is_kept_and_the_others_say_why():
    clips = clips_frame(
        [("x", 10.0, 2160, 0.9), ("y", 6.0, 480, 0.2), ("z", 6.0, 1080, 0.5), ("w", 6.0, 1080, 0.4)]
    ).with_columns(
        failed_visual=pl.Series(
            [["watermark"], [], ["sharpness", "text_overlay"], []], dtype=pl.List(pl.String)
        )
    )
    groups = duplicate_groups(edges_frame([("x", "y"), ("y", "z"), ("z", "w")]), clips)
    why = dict(zip(groups["clip_id"], groups["kept_because"], strict=True))
    # w: clean and the higher resolution of the clean ones; x is watermarked (4K, longest)
    assert groups.filter("is_representative")["clip_id"].to_list() == ["w"]
    assert why["w"] is None
    assert why["x"] == "fewer failing visual filters (0: none; this copy 1: watermark)"
    assert why["z"] == (
        "fewer failing visual filters (0: none; this copy 2: sharpness, text_overlay)"
    )
    assert why["y"] == "higher resolution (1080 px vs 480 px)"


def test_without_visual_failures_the_order_is_resolution_quality_duration():
    clips = clips_frame([("x", 8.0, 720, 0.5), ("y", 6.0, 720, 0.5), ("z", 6.0, 720, 0.9)])
    groups = duplicate_groups(edges_frame([("x", "y"), ("y", "z")]), clips)
    why = dict(zip(groups["clip_id"], groups["kept_because"], strict=True))
    assert why == {
        "x": "better quality (0.9 vs 0.5)",
        "y": "better quality (0.9 vs 0.5)",
        "z": None,
    }
    tie = duplicate_groups(
        edges_frame([("a", "b")]),
        clips_frame([("a", 6.0, 720, None), ("b", 6.0, 720, None)]),
    )
    assert tie["kept_because"].to_list() == [None, "the same on every criterion: smallest clip id"]


def test_groups_are_transitive_and_separate():
    edges = edges_frame([("c", "d"), ("a", "b"), ("e", "d"), ("f", "g"), ("b", "a")])
    clips = clips_frame([(name, 5.0, 720, None) for name in "abcdefgh"])
    groups = duplicate_groups(edges, clips)
    assert groups.drop("kept_because").rows() == [
        ("a", "dup-a", True, 2),
        ("b", "dup-a", False, 2),
        ("c", "dup-c", True, 3),
        ("d", "dup-c", False, 3),
        ("e", "dup-c", False, 3),
        ("f", "dup-f", True, 2),
        ("g", "dup-f", False, 2),
    ]  # h has no edge: not in the output
    assert duplicate_groups(edges.clear(), clips).height == 0


def test_union_find_matches_a_reference_on_random_graphs():
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(2, 60))
        a, b = rng.integers(0, n, 40), rng.integers(0, n, 40)
        labels = list(range(n))
        for x, y in zip(a, b, strict=True):  # naive relabelling
            old, new = max(labels[x], labels[y]), min(labels[x], labels[y])
            labels = [new if label == old else label for label in labels]
        assert _components(n, a, b).tolist() == labels


def test_hamming_counts_bits_per_part():
    a = np.zeros((1, 24), np.uint8)
    b = a.copy()
    b[0, [0, 9, 10, 23]] = [0b1, 0b11, 0b1, 0xFF]
    assert dedup.hamming(a, b).tolist() == [[1, 3, 8]]
    assert list(itertools.chain.from_iterable(dedup.hamming(b, b).tolist())) == [0, 0, 0]
