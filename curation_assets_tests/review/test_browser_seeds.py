"""In a real browser (Debian's Chromium via Playwright): open "more like this" on a clip, mark it
as a seed under a theme, let the expansion queue its neighbours, accept the first with ratings as
one reviewer and reject it with other ratings as another, and see the disagreement in
finetune_set's agreement figures."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from curation_assets.assets.finetune import (
    finetune_candidates,
    finetune_expansion,
    finetune_seeds,
    finetune_set,
)
from curation_assets.resources import CurationResource
from curation_assets_tests.review.test_browser import (  # noqa: F401 - the page fixture
    _clip_id,
    _name_box_focused,
    _rate_all,
    _wait_for_next,
    page,
    pytestmark,
)
from curation_assets_tests.review.test_finetune_expansion import _vectors

from .conftest import materialize, seed, serving

EXPAND = [finetune_seeds, finetune_expansion, finetune_candidates]


def _start(tab, url: str, name: str) -> None:
    tab.goto(url + "/")
    _name_box_focused(tab)
    tab.keyboard.type(name)
    tab.keyboard.press("Enter")
    tab.wait_for_url(re.compile(r"/clips/"), timeout=90_000)


def test_seed_more_like_this_review_and_disagree_in_the_browser(home: Path, page) -> None:  # noqa: F811
    data = seed(home)
    look = _vectors(data)
    materialize(home, EXPAND)
    with serving(data.layout) as server:
        _start(page, server.url, "ann")
        first = _clip_id(page.url)
        page.click("#more-like-this")
        page.wait_for_url(re.compile(rf"/clips/{first}/similar"))
        shown = page.eval_on_selector_all(".neighbour", "els => els.map(e => e.dataset.clipId)")
        assert len(shown) >= 6 and all(look[c] == look[first] for c in shown[:6])
        page.fill("#theme", "textured pans")
        page.click("#mark-seed")
        page.wait_for_selector("#seed-saved")
        assert "textured pans" in page.inner_text("#seeded")

        materialize(home, EXPAND)
        queue = data.store.query(
            "SELECT clip_id, source FROM finetune_candidates ORDER BY rank"
        ).rows()
        assert queue[0][1] == "expansion:textured pans"
        neighbour = queue[0][0]
        assert look[neighbour] == look[first]

        for name, rating, key in (("ann", "5", "a"), ("bob", "1", "x")):
            page.context.clear_cookies()
            _start(page, server.url, name)
            assert _clip_id(page.url) == neighbour, "the seed's neighbour opens the queue"
            _rate_all(page, rating)
            page.keyboard.press(key)
            _wait_for_next(page, neighbour)
        # leave the app before it stops: the next clip's video and strip would otherwise go on
        # loading from a closed port (console errors that say nothing about the app)
        page.goto("about:blank")

    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [finetune_set],
            instance=instance,
            resources={"curation": CurationResource(home=str(home))},
        )
    meta = {
        k: v.value
        for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()
    }
    assert meta["clips_reviewed_twice"] == 1
    assert neighbour in meta["second_look"] and "accept, reject" in meta["second_look"]
    assert data.store.query("SELECT count(*) FROM finetune_set").item() == 0  # 1 accept, 1 reject
