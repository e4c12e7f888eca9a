"""Reviewer agreement: Krippendorff's alpha against worked values, and two reviewers who disagree
showing up in finetune_set's metadata through the real asset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from curation_assets.assets.finetune import finetune_candidates, finetune_set
from curation_assets.config import load_config
from curation_assets.resources import CurationResource
from curation_assets.review.store import Review, ReviewStore
from curation_assets.selection.agreement import krippendorff_alpha, review_agreement
from curation_assets.selection.finetune import DIMENSIONS

from .conftest import materialize, seed


def test_alpha_on_worked_values() -> None:
    assert krippendorff_alpha([[1, 1], [3, 3], [5, 5]]) == pytest.approx(1.0)
    assert krippendorff_alpha([[1, 1], [1]]) is None  # no variation: nothing to agree about
    assert krippendorff_alpha([[4]]) is None  # nobody to agree with
    # two raters, binary, always opposite: systematic disagreement
    assert krippendorff_alpha([[0, 1], [1, 0], [0, 1], [1, 0]], "nominal") < 0
    # worked by hand: nominal {1,1},{1,2}: D_o = 2/4, D_e = 6/12, alpha 0; interval
    # {1,2},{3,4}: D_o = 4/4, D_e = 40/12, alpha = 1 - 12/40 = 0.7
    assert krippendorff_alpha([[1, 1], [1, 2]], "nominal") == pytest.approx(0.0)
    assert krippendorff_alpha([[1, 2], [3, 4]]) == pytest.approx(0.7)


def _rated(value: int) -> dict[str, int]:
    return dict.fromkeys(DIMENSIONS, value)


def test_two_reviewers_disagree_and_the_set_says_where(home: Path) -> None:
    data = seed(home)
    materialize(home, [finetune_candidates])
    reviews = ReviewStore(data.layout, load_config(home))
    a, b, c = [cid for cid in data.clip_ids if cid not in data.excluded][:3]
    for clip, ann, bob in ((a, 5, 1), (b, 4, 4), (c, 2, 2)):
        reviews.add(
            Review(clip, "ann", "accept", None, None, None, _rated(ann)), reviews.clip(clip)
        )
        decision = "reject" if clip == a else "accept"
        reviews.add(
            Review(clip, "bob", decision, None, None, None, _rated(bob)), reviews.clip(clip)
        )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [finetune_set], instance=instance,
            resources={"curation": CurationResource(home=str(home))},
        )  # fmt: skip
    event = result.get_asset_materialization_events()[0]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    assert meta["clips_reviewed_twice"] == 3
    alpha = meta["agreement_alpha"]
    assert set(alpha) == {"decision", *DIMENSIONS}
    assert alpha["decision"] < 0.5  # one split decision out of three
    assert all(alpha[d] is not None and alpha[d] < 0.9 for d in DIMENSIONS)
    assert a in meta["second_look"] and b not in meta["second_look"]
    assert "accept, reject" in meta["second_look"]
    # the domain function agrees with what the asset showed
    again = review_agreement(
        [
            {"clip_id": r["clip_id"], "reviewer": r["reviewer"], "decision": r["decision"],
             "ratings_json": r["ratings_json"]}
            for r in reviews.reviews().to_dicts()
        ]
    )  # fmt: skip
    assert [row["clip_id"] for row in again["second_look"]] == [a]
