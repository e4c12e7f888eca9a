"""The review app over HTTP (FastAPI TestClient and a live server): queue, writes, security."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from curation_assets.review.app import create_app
from curation_assets.review.store import ReviewStore, compacted_parts, loose_parts
from curation_assets.selection.finetune import DIMENSIONS, latest_reviews

from .conftest import SCRIPT_CAPTION, Seeded, Server, serving


def _client(seeded: Seeded, read_only: bool = False) -> TestClient:
    return TestClient(create_app(seeded.layout, read_only=read_only), follow_redirects=False)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)


def _form(csrf: str, reviewer: str, decision: str, **extra) -> dict:
    data = {"csrf": csrf, "reviewer": reviewer, "decision": decision}
    data.update({f"rating_{d}": "4" for d in DIMENSIONS})
    data.update(extra)
    return data


def _first(seeded: Seeded) -> str:
    return seeded.store.query("SELECT clip_id FROM finetune_candidates WHERE rank = 1").item()


def test_the_queue_walks_candidates_in_rank_order_and_skips_what_you_reviewed(seeded) -> None:
    client = _client(seeded)
    ranked = seeded.store.query("SELECT clip_id FROM finetune_candidates ORDER BY rank")[
        "clip_id"
    ].to_list()
    visited = []
    for _ in range(3):
        nxt = client.get("/next", params={"reviewer": "ann"})
        assert nxt.status_code == 303
        path = nxt.headers["location"].split("?")[0]
        clip_id = path.rsplit("/", 1)[1]
        visited.append(clip_id)
        page = client.get(path, params={"reviewer": "ann"})
        assert page.status_code == 200
        posted = client.post(
            f"/clips/{clip_id}/review", data=_form(_csrf(page.text), "ann", "reject")
        )
        assert posted.status_code == 303, posted.text
    assert visited == ranked[:3]
    # another reviewer starts at the top again
    assert (
        client.get("/next", params={"reviewer": "bob"})
        .headers["location"]
        .startswith(f"/clips/{ranked[0]}")
    )


def test_a_caption_with_html_is_shown_as_text(seeded) -> None:
    client = _client(seeded)
    page = client.get(f"/clips/{seeded.script_clip}", params={"reviewer": "ann"})
    assert page.status_code == 200
    assert "<script>document.title" not in page.text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;&lt;b&gt;bold" in page.text
    index = client.get("/", params={"reviewer": "ann"}).text
    assert "<script>document" not in index and "&lt;script&gt;document" in index
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_writes_need_the_csrf_token_of_this_session(seeded) -> None:
    client = _client(seeded)
    clip_id = _first(seeded)
    page = client.get(f"/clips/{clip_id}", params={"reviewer": "ann"})
    token = _csrf(page.text)
    assert (
        client.post(f"/clips/{clip_id}/review", data=_form("", "ann", "reject")).status_code == 403
    )
    other = _client(seeded)  # another browser: its own session cookie, so the token is foreign
    other.get("/")
    assert (
        other.post(f"/clips/{clip_id}/review", data=_form(token, "ann", "reject")).status_code
        == 403
    )
    assert ReviewStore(seeded.layout, _config(seeded)).reviews().height == 0
    assert (
        client.post(f"/clips/{clip_id}/review", data=_form(token, "ann", "reject")).status_code
        == 303
    )


def _config(seeded: Seeded):
    from curation_assets.config import load_config

    return load_config(seeded.home)


def test_invalid_reviews_are_refused_with_the_reason(seeded) -> None:
    client = _client(seeded)
    clip_id = _first(seeded)
    start, end = seeded.store.query(
        "SELECT start_s, end_s FROM clips WHERE clip_id = ?", [clip_id]
    ).row(0)
    token = _csrf(client.get(f"/clips/{clip_id}", params={"reviewer": "ann"}).text)
    cases = {
        "lies outside the clip": _form(token, "ann", "accept", in_s=str(start - 1)),
        "shorter than 2 s": _form(token, "ann", "accept", in_s=str(start), out_s=str(start + 1)),
        "rate every dimension": {"csrf": token, "reviewer": "ann", "decision": "accept"},
        "reviewer name": _form(token, "<img src=x>", "accept"),
        "decision must be": _form(token, "ann", "maybe"),
        "needs a caption": _form(token, "ann", "accept", caption="   "),
        "not a number": _form(token, "ann", "accept", in_s="soon"),
    }
    for reason, data in cases.items():
        response = client.post(f"/clips/{clip_id}/review", data=data)
        assert response.status_code == 400, reason
        assert reason in response.text, (reason, response.text[-400:])
    assert (
        "<img src=x>"
        not in client.post(f"/clips/{clip_id}/review", data=cases["reviewer name"]).text
    )
    assert ReviewStore(seeded.layout, _config(seeded)).reviews().height == 0
    assert end - start == 4.0


def test_clip_ids_never_reach_files_outside_the_data_root(seeded, tmp_path: Path) -> None:
    client = _client(seeded)
    for bad in ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x" * 200, "v0-0000000-0004000"]:
        assert client.get(f"/media/{bad}").status_code == 404
        assert client.get(f"/keyframes/{bad}.jpg").status_code == 404
        assert client.get(f"/clips/{bad}").status_code == 404
    # a clip whose video row points outside the data root is not served either
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(b"secret")
    store = seeded.store
    store.replace(
        "evil",
        "x",
        {
            "videos": [{"video_id": "vevil", "shard": "reviewshard", "uri": outside.as_uri()}],
            "clips": [
                {
                    "clip_id": "vevil-0000000-0004000",
                    "video_id": "vevil",
                    "shard": "reviewshard",
                    "start_s": 0.0,
                    "end_s": 4.0,
                }
            ],
        },
    )
    assert client.get("/media/vevil-0000000-0004000").status_code == 404
    link = seeded.home / "uploads" / "reviewshard" / "link.mp4"
    link.symlink_to(outside)
    store.replace(
        "evil",
        "x",
        {
            "videos": [{"video_id": "vevil", "shard": "reviewshard", "uri": link.as_uri()}],
            "clips": [
                {
                    "clip_id": "vevil-0000000-0004000",
                    "video_id": "vevil",
                    "shard": "reviewshard",
                    "start_s": 0.0,
                    "end_s": 4.0,
                }
            ],
        },
    )
    assert client.get("/media/vevil-0000000-0004000").status_code == 404


def test_the_segment_is_served_with_range_requests(seeded) -> None:
    client = _client(seeded)
    clip_id = _first(seeded)
    whole = client.get(f"/media/{clip_id}")
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes"
    part = client.get(f"/media/{clip_id}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == whole.content[100:200]
    assert client.get(f"/keyframes/{clip_id}.jpg").content[:2] == b"\xff\xd8"


def test_a_strip_of_thumbnails_is_decoded_across_the_segment_and_cached(seeded) -> None:
    from PIL import Image

    client = _client(seeded)
    clip_id = _first(seeded)
    page = client.get(f"/clips/{clip_id}").text
    assert page.count(f'src="/thumbs/{clip_id}/') == 4
    first = client.get(f"/thumbs/{clip_id}/0.jpg")
    assert first.status_code == 200 and first.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(first.content))
    assert image.height == 96 and image.width == 170  # 320x180 source, even width
    cached = seeded.layout.warehouse / "review_cache" / f"{clip_id}-0.jpg"
    assert cached.read_bytes() == first.content
    frames = [client.get(f"/thumbs/{clip_id}/{k}.jpg").content for k in range(4)]
    assert len(set(frames)) == 4  # a pan: four different frames
    assert client.get(f"/thumbs/{clip_id}/4.jpg").status_code == 404
    assert client.get(f"/thumbs/{clip_id}/-1.jpg").status_code == 404


def test_read_only_serves_pages_without_any_write_route(seeded) -> None:
    client = _client(seeded, read_only=True)
    clip_id = _first(seeded)
    page = client.get(f"/clips/{clip_id}", params={"reviewer": "ann"})
    assert page.status_code == 200 and "read-only" in page.text
    assert 'id="review-form"' not in page.text
    posted = client.post(f"/clips/{clip_id}/review", data=_form("x", "ann", "accept"))
    assert posted.status_code in (404, 405)
    app = create_app(seeded.layout, read_only=True)
    assert not [r for r in app.routes if "POST" in getattr(r, "methods", set())]


def test_agreement_is_shown_for_several_reviewers(seeded) -> None:
    clip_id = _first(seeded)
    for name, decision in [("ann", "accept"), ("bob", "accept"), ("cy", "reject")]:
        client = _client(seeded)
        token = _csrf(client.get(f"/clips/{clip_id}", params={"reviewer": name}).text)
        client.post(f"/clips/{clip_id}/review", data=_form(token, name, decision))
    page = _client(seeded).get(f"/clips/{clip_id}").text
    assert "2 accept / 1 reject, 66% agree" in page
    index = _client(seeded).get("/").text
    assert "2 accept / 1 reject" in index and "66%" in index


def test_two_reviewers_at_once_lose_no_review(seeded) -> None:
    """Two browsers posting as fast as they can, in parallel, against the live server, while
    the single-review parts are compacted every few reviews (compact_reviews_after: 5)."""
    ids = seeded.store.query("SELECT clip_id FROM finetune_candidates ORDER BY rank")[
        "clip_id"
    ].to_list()
    cfg = _config(seeded)
    cfg = cfg.model_copy(
        update={"finetune": cfg.finetune.model_copy(update={"compact_reviews_after": 5})}
    )
    errors: list[str] = []
    with serving(seeded.layout, cfg) as live_server:
        threads = [threading.Thread(target=_review_all, args=(live_server, n, ids, errors))
                   for n in ("ann", "bob")]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert not errors
    stored = ReviewStore(seeded.layout, _config(seeded)).reviews()
    assert stored.height == 2 * len(ids)
    latest = latest_reviews(stored)
    assert sorted(latest.filter(latest["reviewer"] == "ann")["clip_id"].to_list()) == sorted(ids)
    assert sorted(latest.filter(latest["reviewer"] == "bob")["clip_id"].to_list()) == sorted(ids)
    folder = seeded.layout.lineage_parts / "reviews"
    assert compacted_parts(folder) and len(loose_parts(folder)) <= 5 + 2
    # and lineage.duckdb shows each exactly once as the reviews view
    import duckdb

    seeded.store.ensure_catalog()
    with duckdb.connect(str(seeded.layout.lineage_db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM reviews").fetchone()[0] == 2 * len(ids)
        assert con.execute("SELECT count(DISTINCT review_id) FROM reviews").fetchone()[
            0
        ] == 2 * len(ids)


def _review_all(live_server: Server, name: str, ids: list[str], errors: list[str]) -> None:
    with httpx.Client(base_url=live_server.url, follow_redirects=False) as http:
        token = _csrf(http.get(f"/clips/{ids[0]}", params={"reviewer": name}).text)
        for clip_id in ids:
            r = http.post(f"/clips/{clip_id}/review", data=_form(token, name, "accept"))
            if r.status_code != 303:
                errors.append(f"{name} {clip_id}: {r.status_code}")


@pytest.mark.parametrize("decision", ["accept", "reject"])
def test_a_review_is_durable_once_acknowledged(seeded, decision: str) -> None:
    client = _client(seeded)
    clip_id = _first(seeded)
    token = _csrf(client.get(f"/clips/{clip_id}", params={"reviewer": "ann"}).text)
    assert (
        client.post(f"/clips/{clip_id}/review", data=_form(token, "ann", decision)).status_code
        == 303
    )
    parts = list((seeded.layout.lineage_parts / "reviews").glob("review__*.parquet"))
    assert len(parts) == 1
    assert not list((seeded.layout.lineage_parts / "reviews").glob(".*tmp"))
    # a fresh process (new store, new app) reads it back
    assert ReviewStore(seeded.layout, _config(seeded)).reviews()["decision"].to_list() == [decision]
    assert SCRIPT_CAPTION  # the seeded caption stays available to other tests


def test_curate_review_serves_on_loopback_and_read_only_has_no_writes(seeded) -> None:
    import os
    import subprocess
    import sys
    import time

    from .conftest import free_port

    port = free_port()
    env = dict(os.environ, CURATION_HOME=str(seeded.home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "curation_assets.cli", "review", "--read-only", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                index = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "curate review did not start"
                time.sleep(0.3)
        assert index.status_code == 200 and "read-only" in index.text
        clip_id = _first(seeded)
        posted = httpx.post(f"http://127.0.0.1:{port}/clips/{clip_id}/review", data={"x": "1"})
        assert posted.status_code in (404, 405)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}/" in out and "read-only" in out
