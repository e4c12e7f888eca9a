"""Browser tests: Debian's Chromium, headless, driven by Playwright, keyboard only."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import time
from pathlib import Path

import av
import pytest

from curation_assets.assets.finetune import finetune_set
from curation_assets.exports import read_manifest
from curation_assets.review.app import create_app
from curation_assets.review.store import ReviewStore
from curation_assets.selection.finetune import DIMENSIONS
from curation_assets_tests.storage.conftest import moto_endpoint, s3  # noqa: F401 - fixtures

from .conftest import Seeded, Server, materialize, moved_to_s3, seed, serving_app

CHROMIUM = os.environ.get("CURATION_CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: run scripts/system_deps"
)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(30_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        yield page
        context.close()
        browser.close()
        assert not errors, errors  # no script errors, no CSP violations


def _clip_id(url: str) -> str:
    return re.search(r"/clips/([A-Za-z0-9_-]+)", url).group(1)


def _rate_all(page, value: str) -> None:
    for _ in DIMENSIONS:
        page.keyboard.press(value)


def _wait_until(page, expression: str, timeout_s: float = 90.0) -> None:
    """Poll ``expression`` from the test side. ``page.wait_for_function`` compiles its predicate
    inside the page, which the app's CSP (no 'unsafe-eval') rightly refuses whenever the first
    check is not already true; ``page.evaluate`` goes through the debugger protocol instead."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        time.sleep(0.05)


def _name_box_focused(page) -> None:
    """Typing starts only once autofocus has landed (a loaded machine can be slow to get there)."""
    _wait_until(page, "!!document.activeElement && document.activeElement.id === 'reviewer-input'")


def _wait_for_next(page, previous: str) -> None:
    page.wait_for_url(lambda url: "/clips/" in url and _clip_id(url) != previous or "done=1" in url)


def test_review_by_keyboard_trim_edit_caption_accept_then_finetune_set_holds_it(
    seeded: Seeded, live_server: Server, page, tmp_path: Path
) -> None:
    page.goto(live_server.url + "/")
    _name_box_focused(page)
    page.keyboard.type("ann")  # the name box has focus on arrival
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/clips/"), timeout=90_000)
    clip_id = _clip_id(page.url)
    start, end = seeded.store.query(
        "SELECT start_s, end_s FROM clips WHERE clip_id = ?", [clip_id]
    ).row(0)
    _wait_until(page, "document.getElementById('video').readyState >= 1")
    # playhead starts at the in point (clip start); 2 x 0.5 s on, in point; 4 x 0.5 s on, out point
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("i")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("o")
    assert float(page.input_value("#in_s")) == pytest.approx(start + 1.0, abs=0.011)
    assert float(page.input_value("#out_s")) == pytest.approx(start + 3.0, abs=0.011)
    page.keyboard.press("e")
    page.keyboard.press("Control+a")
    new_caption = "A slow pan right over a textured hillside <b>at dusk</b>."
    page.keyboard.type(new_caption)
    page.keyboard.press("Escape")
    page.keyboard.press("a")  # not rated yet: refused in the page, no navigation
    assert "Rate every dimension" in page.inner_text("#form-message")
    assert _clip_id(page.url) == clip_id
    _rate_all(page, "4")
    page.screenshot(path=str(tmp_path / "review_page.png"), full_page=True)
    shot_dir = os.environ.get("CURATION_SCREENSHOT_DIR")
    if shot_dir:
        shutil.copy(tmp_path / "review_page.png", Path(shot_dir) / "review_page.png")
    page.keyboard.press("a")
    _wait_for_next(page, clip_id)

    stored = ReviewStore(seeded.layout, _cfg(seeded)).reviews()
    assert stored.height == 1
    review = stored.row(0, named=True)
    assert (review["reviewer"], review["decision"]) == ("ann", "accept")
    assert review["caption"] == new_caption

    materialize(seeded.home, [finetune_set])
    member = seeded.store.query("SELECT * FROM finetune_set").to_dicts()
    assert [m["clip_id"] for m in member] == [clip_id]
    assert member[0]["start_s"] == pytest.approx(start + 1.0, abs=0.011)
    assert member[0]["end_s"] == pytest.approx(start + 3.0, abs=0.011)
    assert member[0]["caption"] == new_caption and member[0]["caption_edited"]
    assert end - start == pytest.approx(4.0)
    subset = seeded.store.query("SELECT clip_id FROM subset_members WHERE subset = 'finetune_set'")
    assert subset["clip_id"].to_list() == [clip_id]
    # exported like the other subsets: the trimmed segment, transcoded, with the edited caption
    out = seeded.layout.exports / "finetune_set"
    manifest = read_manifest(out).to_dicts()
    assert [m["clip_id"] for m in manifest] == [clip_id]
    tars = sorted(out.glob("finetune_set-*.tar"))
    assert len(tars) == 1
    with tarfile.open(tars[0]) as tar:
        names = tar.getnames()
        text = tar.extractfile(next(n for n in names if n.endswith(".txt"))).read().decode()
        mp4 = tar.extractfile(next(n for n in names if n.endswith(".mp4"))).read()
    assert text == new_caption
    (tmp_path / "cut.mp4").write_bytes(mp4)
    with av.open(str(tmp_path / "cut.mp4")) as container:
        seconds = float(container.duration / av.time_base)
    assert seconds == pytest.approx(2.0, abs=0.1)


def _cfg(seeded: Seeded):
    from curation_assets.config import load_config

    return load_config(seeded.home)


def test_a_reviewer_goes_through_20_candidates_by_keyboard_alone(
    seeded: Seeded, live_server: Server, page
) -> None:
    ranked = seeded.store.query("SELECT clip_id FROM finetune_candidates ORDER BY rank")[
        "clip_id"
    ].to_list()
    assert len(ranked) >= 21
    page.goto(live_server.url + "/")
    _name_box_focused(page)
    page.keyboard.type("bo")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/clips/"), timeout=90_000)
    seen = []
    for n in range(21):  # 20 reviews and one skip
        clip_id = _clip_id(page.url)
        seen.append(clip_id)
        if n == 3:  # skip one, come back to it at the end of the queue
            page.keyboard.press("s")
            _wait_for_next(page, clip_id)
            continue
        _rate_all(page, str(1 + n % 5))
        page.keyboard.press("a" if n % 3 else "x")
        _wait_for_next(page, clip_id)
    stored = ReviewStore(seeded.layout, _cfg(seeded)).reviews()
    assert stored.height == 20
    assert stored["reviewer"].unique().to_list() == ["bo"]
    assert seen == ranked[:21]  # the queue follows the ranking
    # the skipped clip is still in the queue: after the others it comes round again
    assert seen[3] not in stored["clip_id"].to_list()
    rejects = stored.filter(stored["decision"] == "reject").height
    assert rejects == len([n for n in range(21) if n != 3 and n % 3 == 0])


def test_a_caption_holding_script_shows_as_text_in_the_browser(
    seeded: Seeded, live_server: Server, page
) -> None:
    page.goto(f"{live_server.url}/clips/{seeded.script_clip}?reviewer=ann")
    text = page.inner_text("#original-caption")
    assert text.startswith('<script>document.title="pwned"</script><b>bold</b>')
    assert page.title() != "pwned"
    assert page.locator("#original-caption b").count() == 0
    assert page.input_value("#caption").startswith("<script>")


def test_an_s3_clip_plays_from_its_preview_on_the_source_clock(s3, home: Path, page) -> None:  # noqa: F811
    """The preview starts at the clip's start: the page shows and trims in source seconds."""

    seeded = seed(home, videos=1, clips_per_video=3, uri_for=moved_to_s3(s3))
    materialize(home)
    clip_id = seeded.clip_ids[2]  # 8 s to 12 s of its video
    app = create_app(seeded.layout, s3_client=lambda: s3.client)
    with serving_app(app) as server:
        page.goto(f"{server.url}/clips/{clip_id}?reviewer=ann")
        _wait_until(page, "document.getElementById('video').readyState >= 1")
        duration = page.evaluate("document.getElementById('video').duration")
        assert duration == pytest.approx(4.0, abs=0.1)  # the cut preview, not the whole source
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("i")
        _wait_until(page, "document.getElementById('video').seeking === false")
        now = page.evaluate("document.getElementById('video').currentTime")
        assert now == pytest.approx(1.0, abs=0.05)  # 9 s in the source = 1 s into the preview
        assert float(page.inner_text("#playhead")) == pytest.approx(9.0, abs=0.05)
        for _ in range(4):
            page.keyboard.press("ArrowRight")
        page.keyboard.press("o")
        assert float(page.input_value("#in_s")) == pytest.approx(9.0, abs=0.011)
        assert float(page.input_value("#out_s")) == pytest.approx(11.0, abs=0.011)
        page.keyboard.press(" ")  # plays from the in point and stops at the out point
        _wait_until(page, "document.getElementById('video').paused === false")
        _wait_until(page, "document.getElementById('video').paused === true", timeout_s=30)
        assert float(page.inner_text("#playhead")) == pytest.approx(9.0, abs=0.1)
        page.goto("about:blank")  # leave before the server stops (no loads from a closed port)
