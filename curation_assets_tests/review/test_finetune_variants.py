"""finetune_variants: K seeded, stratified subsets of the accepted set, each exported with media
(WebDataset shards read back by the ``webdataset`` library), byte-identical when re-run."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest
import webdataset as wds

from curation_assets.assets.finetune import (
    finetune_candidates,
    finetune_set,
    finetune_variants,
)
from curation_assets.config import load_config
from curation_assets.resources import CurationResource
from curation_assets.review.store import Review, ReviewStore
from curation_assets.selection.finetune import DIMENSIONS
from curation_assets.selection.variants import variant_members

from .conftest import materialize, seed


def test_variants_are_seeded_stratified_and_differ() -> None:
    ids = [f"c{i:02d}" for i in range(20)]
    strata = {c: ("a" if i < 15 else "b") for i, c in enumerate(ids)}
    rows = variant_members(ids, strata, variants=3, fraction=0.6, seed=7)
    assert rows == variant_members(list(reversed(ids)), strata, 3, 0.6, 7)  # order-free
    by_variant = {v: [c for w, c in rows if w == v] for v in range(3)}
    for members in by_variant.values():
        assert Counter(strata[c] for c in members) == {"a": 9, "b": 3}  # 60 % of each stratum
    assert len({tuple(m) for m in by_variant.values()}) == 3  # different subsets
    assert variant_members(ids, strata, 3, 0.6, 8) != rows  # another seed, other variants
    assert variant_members(ids, strata, 0, 0.6, 7) == []
    with pytest.raises(ValueError, match="fraction"):
        variant_members(ids, strata, 2, 0.0, 7)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_variants_materialize_export_and_rerun_byte_identical(home: Path) -> None:
    (home / "curation.yaml").write_text(
        "finetune:\n  variants: 2\n  variant_fraction: 0.5\n  variant_seed: 3\n"
    )
    data = seed(home)
    materialize(home, [finetune_candidates])
    reviews = ReviewStore(data.layout, load_config(home))
    accepted = [c for c in data.clip_ids if c not in data.excluded][:6]
    for clip in accepted:
        review = Review(clip, "ann", "accept", None, None, None, dict.fromkeys(DIMENSIONS, 4))
        reviews.add(review, reviews.clip(clip))

    def run() -> dg.ExecuteInProcessResult:
        with dg.instance_for_test() as instance:
            return dg.materialize(
                [finetune_set, finetune_variants],
                instance=instance,
                resources={"curation": CurationResource(home=str(home))},
            )

    assert run().success
    rows = data.store.query("SELECT variant, clip_id FROM finetune_variants ORDER BY 1, 2").rows()
    per = Counter(v for v, _ in rows)
    assert set(per) == {0, 1} and all(n >= 2 for n in per.values())
    assert {c for _, c in rows} <= set(accepted)
    root = data.layout.exports / "finetune_variants"
    for v in (0, 1):
        shards = sorted(str(p) for p in (root / f"variant_{v:02d}").rglob("*.tar"))
        assert shards, f"variant {v} has WebDataset shards"
        keys = [s["__key__"] for s in wds.WebDataset(shards, shardshuffle=False)]
        assert len(keys) == per[v]
    before = _digest(root)
    assert run().success
    assert _digest(root) == before  # byte-identical re-run
