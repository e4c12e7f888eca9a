"""Seeds and "more like this" through the real assets: seeds marked in the review store and listed
in a seeds file, their neighbours in stored embeddings, the review queue opening with them."""

from __future__ import annotations

import re
import shutil
import zlib
from pathlib import Path

import numpy as np

from curation_assets.assets.finetune import (
    finetune_candidates,
    finetune_expansion,
    finetune_seeds,
)
from curation_assets.config import load_config
from curation_assets.review.similar import expand_seeds
from curation_assets.review.store import ReviewStore
from curation_assets.steps.finetune import lineage_seeds
from curation_assets.steps.finetune_expansion_state import EXPANSION_STATE
from curation_assets.storage.vectors import save_vectors
from curation_assets_tests.review.conftest import SHARD, Seeded, materialize, seed

ASSETS = [finetune_seeds, finetune_expansion, finetune_candidates]
EXPAND = [finetune_seeds, finetune_expansion]


def _store(home: Path) -> ReviewStore:
    data = seed(home)
    return data, ReviewStore(data.layout, load_config(home))


def _vectors(data: Seeded) -> dict[str, str]:
    """Two looks: even clips near one direction, odd clips near another (like two concepts)."""
    rng = np.random.default_rng(3)
    axes = np.eye(16, dtype=np.float32)
    look = {}
    pairs = []
    for n, cid in enumerate(data.clip_ids):
        kind = "even" if n % 2 == 0 else "odd"
        base = axes[0] if kind == "even" else axes[1]
        vec = base + 0.1 * rng.standard_normal(16).astype(np.float32)
        pairs.append((cid, vec / np.linalg.norm(vec)))
        look[cid] = kind
    save_vectors(data.layout.shard_warehouse(SHARD) / "vectors", {"thumbnail_embedding": pairs})
    return look


def test_seeds_expand_into_neighbours_that_open_the_review_queue(home: Path) -> None:
    data, reviews = _store(home)
    look = _vectors(data)
    even_seed, odd_seed = data.clip_ids[0], data.clip_ids[1]
    seeds_file = home / "seeds.yaml"
    seeds_file.write_text(
        f"seeds:\n  - {{clip_id: {odd_seed}, theme: odd look, marked_by: bob}}\n"
        "  - {clip_id: no-such-clip, theme: odd look}\n"
    )
    (home / "curation.yaml").write_text(
        f"finetune:\n  seeds_file: {seeds_file}\n  expansion_k: 4\n"
    )
    reviews = ReviewStore(data.layout, load_config(home))
    reviews.mark_seed(even_seed, "alice", "  even   look ")
    materialize(home, ASSETS)
    store = data.store

    seeds = store.query(
        "SELECT clip_id, theme, marked_by, source, problem FROM finetune_seeds "
        "ORDER BY theme, clip_id"
    ).rows()
    assert seeds == [
        (even_seed, "even look", "alice", "review", None),
        ("no-such-clip", "odd look", "", "file", "unknown clip id"),
        (odd_seed, "odd look", "bob", "file", None),
    ]
    found = store.query(
        "SELECT theme, rank, clip_id, neighbour_of, similarity FROM finetune_expansion "
        "ORDER BY theme, rank"
    ).rows()
    assert [(t, r) for t, r, *_ in found] == [("even look", i) for i in range(1, 5)] + [
        ("odd look", i) for i in range(1, 5)
    ]
    for theme, _, clip_id, of, similarity in found:
        assert look[clip_id] == theme.split()[0], "neighbours share their seed's look"
        assert clip_id not in data.excluded, "only clips the candidate pool admits"
        assert clip_id not in (even_seed, odd_seed)
        assert of == (even_seed if theme == "even look" else odd_seed) and similarity > 0.7
    assert len({c for _, _, c, *_ in found}) == len(found)

    queue = store.query("SELECT clip_id, source FROM finetune_candidates ORDER BY rank").rows()
    assert {s for _, s in queue[:8]} == {"expansion:even look", "expansion:odd look"}
    assert {c for c, _ in queue[:8]} == {c for _, _, c, *_ in found}
    assert {s for _, s in queue[8:]} == {"score"}

    # re-running changes nothing; unmarking a seed drops its theme
    materialize(home, ASSETS)
    assert store.query(
        "SELECT theme, rank, clip_id FROM finetune_expansion ORDER BY 1, 2"
    ).rows() == [(t, r, c) for t, r, c, *_ in found]
    reviews.mark_seed(even_seed, "alice", "even look", remove=True)
    materialize(home, ASSETS)
    themes = store.query("SELECT DISTINCT theme FROM finetune_expansion").rows()
    assert themes == [("odd look",)]


def test_no_seeds_and_a_broken_seeds_file_are_reported_not_raised(home: Path) -> None:
    data, _ = _store(home)
    (home / "bad.yaml").write_text("seeds: {not: a list}\n")
    (home / "curation.yaml").write_text(f"finetune:\n  seeds_file: {home / 'bad.yaml'}\n")
    result = materialize(home, ASSETS)
    meta = {
        e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }
    assert meta["finetune_seeds"]["seeds"].value == 0
    assert "expected a top-level 'seeds:' list" in str(meta["finetune_seeds"]["problems"].value)
    assert meta["finetune_expansion"]["neighbours"].value == 0
    assert meta["finetune_candidates"]["from_seeds"].value == 0
    assert data.store.query("SELECT count(*) FROM finetune_candidates").item() > 0


def test_more_like_this_page_and_seed_marking_over_http(home: Path) -> None:
    import re

    from fastapi.testclient import TestClient

    from curation_assets.review.app import create_app

    data, _ = _store(home)
    look = _vectors(data)
    materialize(home, ASSETS)
    client = TestClient(create_app(data.layout), follow_redirects=False)
    clip_id = data.clip_ids[2]
    page = client.get(f"/clips/{clip_id}", params={"reviewer": "ann"})
    assert f'href="/clips/{clip_id}/similar?reviewer=ann"' in page.text
    similar = client.get(f"/clips/{clip_id}/similar", params={"reviewer": "ann"})
    assert similar.status_code == 200
    shown = re.findall(r'class="neighbour" data-clip-id="([^"]+)"', similar.text)
    sims = [float(x) for x in re.findall(r'class="similarity">([0-9.]+)<', similar.text)]
    # the same look first (the pool holds ~9 of them), the other look only after
    same = [look[c] == look[clip_id] for c in shown]
    assert len(shown) == 12 and all(same[:6]) and same == sorted(same, reverse=True)
    assert clip_id not in shown and not set(shown) & set(data.excluded)
    assert sims[0] >= sims[5] > 0.7
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', similar.text).group(1)
    form = {"csrf": csrf, "reviewer": "ann", "theme": "pans", "action": "seed"}
    assert client.post(f"/clips/{clip_id}/seed", data={**form, "csrf": "0" * 64}).status_code == 403
    posted = client.post(f"/clips/{clip_id}/seed", data=form)
    assert posted.status_code == 303 and "marked=1" in posted.headers["location"]
    after = client.get(f"/clips/{clip_id}/similar", params={"reviewer": "ann", "marked": 1})
    assert 'id="seed-saved"' in after.text and "<b>pans</b> (by ann)" in after.text
    materialize(home, ASSETS)
    queued = data.store.query(
        "SELECT clip_id FROM finetune_candidates WHERE source = 'expansion:pans' ORDER BY rank"
    )["clip_id"].to_list()
    assert len(queued) >= 6 and all(look[c] == look[clip_id] for c in queued[:6])
    read_only = TestClient(create_app(data.layout, read_only=True), follow_redirects=False)
    assert read_only.post(f"/clips/{clip_id}/seed", data=form).status_code in (404, 405)


def test_the_queue_shows_progress_per_seed_theme_and_a_dropped_seed_uses_its_kept_copy(
    home: Path,
) -> None:
    from fastapi.testclient import TestClient

    from curation_assets.review.app import create_app
    from curation_assets.review.store import Review

    data, reviews = _store(home)
    _vectors(data)
    dropped = next(c for c, why in data.excluded.items() if why == "failed_near_duplicate")
    kept = data.clip_ids[8]
    group = [
        {"clip_id": c, "kind": "duplicate_group", "label": "g1", "scorer": "near_duplicates"}
        for c in (dropped, kept)
    ]
    data.store.replace(
        "dup", SHARD,
        {"clip_labels": group, "decisions": [
            {"clip_id": kept, "stage": "near_duplicates", "filter": "near_duplicate",
             "passed": True, "reason": "representative of its group", "shard": SHARD}]},
    )  # fmt: skip
    reviews.mark_seed(data.clip_ids[0], "ann", "first look")
    reviews.mark_seed(dropped, "ann", "copy look")
    materialize(home, ASSETS)
    problem = data.store.query(
        "SELECT problem FROM finetune_seeds WHERE clip_id = ?", [dropped]
    ).item()
    assert problem == f"dropped as a near duplicate of {kept}: expanded from {kept} instead"
    sources = data.store.query(
        "SELECT DISTINCT neighbour_of FROM finetune_expansion WHERE theme = 'copy look'"
    ).rows()
    assert sources == [(kept,)]
    queued = data.store.query(
        "SELECT clip_id FROM finetune_candidates WHERE source = 'expansion:first look' "
        "ORDER BY rank"
    )["clip_id"].to_list()
    assert queued
    reviews.add(Review(queued[0], "bob", "reject", None, None, None, {}), reviews.clip(queued[0]))
    page = TestClient(create_app(data.layout)).get("/", params={"reviewer": "ann"})
    row = re.search(r'data-theme="first look"><td>first look</td><td>(\d+)</td>'
                    r'<td class="reviewed">(\d+)</td>', page.text)  # fmt: skip
    assert row and int(row.group(1)) == len(queued) and int(row.group(2)) == 1
    assert "seed: first look" in page.text


# -- incremental expansion: a new shard searched alone --------------------------------------------

NEW_SHARD = "a_new_shard"  # sorts before SHARD: its clips come first in the pool's order
LINEAGE_TABLES = {
    "videos": "video_id",
    "clips": "clip_id",
    "scores": "clip_id",
    "clip_labels": "clip_id",
    "captions": "clip_id",
    "decisions": "clip_id",
}


def _look_vector(source: str, n: int) -> np.ndarray:
    """The seeded clip ``source`` (n-th, 0-based) and its copies: near axis 0 (even) or 1 (odd)."""
    rng = np.random.default_rng(zlib.crc32(source.encode()))
    vec = np.eye(16, dtype=np.float32)[n % 2] + 0.1 * rng.standard_normal(16).astype(np.float32)
    return vec / np.linalg.norm(vec)


def _add_copies(data: Seeded, shard: str, copies: range) -> dict[str, str]:
    """Lineage rows of the seeded clips again under ``shard`` (new video and clip ids, the same
    scores and decisions, so the same ones are eligible): clip -> the seeded clip it copies."""
    source_of: dict[str, str] = {}
    rows: dict[str, list[dict]] = {}
    seeded_videos = {c[:17] for c in data.clip_ids}  # video ids are "v" + 16 hex digits
    for table, column in LINEAGE_TABLES.items():
        found = data.store.query(f"SELECT * FROM {table}").to_dicts()
        rows[table] = []
        for copy in copies:
            prefix = f"{shard[:1]}{copy}"
            for row in found:
                if row[column][:17] not in seeded_videos:
                    continue
                new = dict(row, shard=shard) if "shard" in row else dict(row)
                for key in ("video_id", "clip_id"):
                    if row.get(key):
                        new[key] = prefix + row[key][len(prefix) :]
                rows[table].append(new)
                if table == "clips":
                    source_of[new["clip_id"]] = row["clip_id"]
    data.store.replace(f"copies_{shard}", shard, rows)
    return source_of


def _write_vectors(data: Seeded, shard: str, source_of: dict[str, str], exact: set[str]) -> None:
    """Each clip's vector: its source's look; the clips in ``exact`` get their source's exact
    vector (ties across shards), the others a vector of their own."""
    index = {c: n for n, c in enumerate(data.clip_ids)}
    pairs = [
        (cid, _look_vector(src if cid in exact else cid, index[src]))
        for cid, src in source_of.items()
    ]
    save_vectors(data.layout.shard_warehouse(shard) / "vectors", {"thumbnail_embedding": pairs})


def _shard_a(home: Path) -> tuple[Seeded, ReviewStore, dict[str, str]]:
    """The seeded shard and three copies of it in the same shard (96 clips, 84 eligible: more
    than a seed's search depth, 64 + seeds), three seeds in two themes, k = 4."""
    data, _ = _store(home)
    source_of = {c: c for c in data.clip_ids} | _add_copies(data, SHARD, range(1, 4))
    _write_vectors(data, SHARD, source_of, exact=set())
    (home / "curation.yaml").write_text("finetune:\n  expansion_k: 4\n")
    reviews = ReviewStore(data.layout, load_config(home))
    reviews.mark_seed(data.clip_ids[0], "ann", "even look")
    reviews.mark_seed(data.clip_ids[2], "ann", "even look")
    reviews.mark_seed(data.clip_ids[1], "ann", "odd look")
    return data, reviews, source_of


def _add_shard_b(data: Seeded) -> dict[str, str]:
    """A new shard: three more copies, the first one's vectors exact copies of the seeded clips'
    (the seeds' among them: ties with earlier shards' clips)."""
    source_of = _add_copies(data, NEW_SHARD, range(1, 4))
    exact = {c for c in source_of if c.startswith(f"{NEW_SHARD[:1]}1")}
    _write_vectors(data, NEW_SHARD, source_of, exact)
    return source_of


def _run(home: Path) -> dict:
    result = materialize(home, EXPAND)
    return {
        e.asset_key.path[-1]: e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
    }["finetune_expansion"]


def _expansion(data: Seeded) -> tuple[list[tuple], bytes]:
    rows = data.store.query("SELECT * FROM finetune_expansion ORDER BY theme, rank").rows()
    part = data.store.parts_dir / "finetune_expansion" / "finetune_expansion__all.parquet"
    return rows, part.read_bytes()


def _one_search(data: Seeded, reviews: ReviewStore) -> list[tuple]:
    """The same seeds over every stored embedding at once (the review page's path)."""
    found = expand_seeds(reviews, lineage_seeds(reviews))
    return [tuple(r.values()) for r in sorted(found.rows, key=lambda r: (r["theme"], r["rank"]))]


def test_a_new_shard_is_searched_alone_and_gives_what_a_full_search_gives(home: Path) -> None:
    data, reviews, _ = _shard_a(home)
    first = _run(home)
    assert first["mode"].value == "full (no earlier search)"
    assert first["pool_searched"].value == first["searched_now"].value == 84

    copies = _add_shard_b(data)
    second = _run(home)
    assert second["mode"].value == f"incremental (searched shards: {NEW_SHARD})"
    assert second["searched_now"].value == 63 and second["pool_searched"].value == 147
    rows, part = _expansion(data)
    assert [(t, r) for t, _, _, _, r, _ in rows] == [("even look", i) for i in range(1, 5)] + [
        ("odd look", i) for i in range(1, 5)
    ]
    picked = {c for _, c, *_ in rows}
    assert picked & set(copies) and picked - set(copies), "old and new shards' clips both picked"
    assert rows == _one_search(data, ReviewStore(data.layout, load_config(home)))

    # nothing new: nothing searched, the same bytes
    again = _run(home)
    assert again["mode"].value == "incremental (searched shards: none)"
    assert again["searched_now"].value == 0
    assert _expansion(data) == (rows, part)

    # from scratch over both shards: the same rows, the same bytes
    (data.layout.warehouse / "global" / EXPANSION_STATE).unlink()
    scratch = _run(home)
    assert scratch["mode"].value == "full (no earlier search)"
    assert scratch["searched_now"].value == 147
    assert _expansion(data) == (rows, part)


def test_a_change_to_what_earlier_shards_were_searched_for_means_a_full_search(
    home: Path,
) -> None:
    data, reviews, source_of = _shard_a(home)
    assert _run(home)["mode"].value == "full (no earlier search)"

    def check(mode: str) -> None:
        meta = _run(home)
        assert meta["mode"].value == mode
        fresh = ReviewStore(data.layout, load_config(home))
        assert _expansion(data)[0] == _one_search(data, fresh)

    (home / "curation.yaml").write_text("finetune:\n  expansion_k: 5\n")
    check("full (settings changed: finetune.expansion_k 4 -> 5)")
    check("incremental (searched shards: none)")
    reviews.mark_seed(data.clip_ids[4], "bob", "even look")
    check("full (seeds changed)")
    # an earlier clip leaves the pool (a new gate fails it): its shard's membership changed
    gone = data.clip_ids[8]
    data.store.replace(
        "late_gate", SHARD,
        {"decisions": [{"clip_id": gone, "stage": "near_duplicates", "filter": "near_duplicate",
                        "passed": False, "reason": "near_duplicate", "shard": SHARD}]},
    )  # fmt: skip
    check(f"full (pool membership of shard {SHARD}'s clips changed)")
    _add_shard_b(data)
    check(f"incremental (searched shards: {NEW_SHARD})")
    _write_vectors(data, SHARD, source_of, exact=set(list(source_of)[:5]))  # re-embedded
    check(f"full (embeddings of shard {SHARD} changed)")
    for shard in (SHARD, NEW_SHARD):  # open_clip embeddings appear for every shard
        thumbs = list(zip(*_vectors_of(data, shard), strict=True))
        save_vectors(
            data.layout.shard_warehouse(shard) / "vectors",
            {
                "thumbnail_embedding": thumbs,
                "clip_embedding": [(c, np.roll(v, 3)) for c, v in thumbs],
            },
        )
    check("full (embedding changed: thumbnail_embedding -> clip_embedding)")
    shutil.rmtree(data.layout.shard_warehouse(NEW_SHARD) / "vectors")
    check(f"full (shard {NEW_SHARD} is gone)")


def _vectors_of(data: Seeded, shard: str) -> tuple[list[str], np.ndarray]:
    from curation_assets.storage.vectors import load_vectors

    return load_vectors(data.layout.shard_warehouse(shard) / "vectors" / "thumbnail_embedding.npz")
