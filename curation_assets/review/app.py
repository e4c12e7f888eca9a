"""The fine-tune review web app (``curate review``): server-rendered pages, keyboard driven.

Reviewers see the ranked ``finetune_candidates`` one by one: the clip's segment plays from its
source file (HTTP range requests; an s3:// source, or one no browser plays, as a preview cut on
demand, ``previews``), with keyframe, scores, labels, the caption and everyone's reviews so far
(agreement shown). They rate HunyuanVideo's dimensions, set in/out points, edit the caption and
accept or reject; each submission is one durable review part (``ReviewStore``).

Security: Jinja2 autoescapes everything (captions may hold HTML), a strict Content-Security-Policy
allows only this origin's scripts, every write needs a CSRF token bound to a session cookie, clip
ids are looked up in lineage and files are served only from under the data root, and
``read_only`` builds the app without any write route.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import mimetypes
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import av
import jinja2
from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from curation_assets.config import CurationConfig, Layout, load_config
from curation_assets.review.previews import PreviewCache
from curation_assets.review.similar import similar_clips
from curation_assets.review.store import (
    Review,
    ReviewError,
    ReviewStore,
    check_clip_id,
    check_reviewer,
)
from curation_assets.review.thumbs import STRIP, cached_thumbnail, strip_times
from curation_assets.selection.finetune import (
    DIMENSIONS,
    RATING_MAX,
    RATING_MIN,
    agreement,
    latest_reviews,
)
from curation_assets.selection.seeds import marked_seeds
from curation_assets.signals.catalogue import check_config
from curation_assets.storage.access import SourceAccess, boto3_s3_client

HERE = Path(__file__).parent
SESSION_COOKIE = "review_session"
CSP = (
    "default-src 'self'; img-src 'self'; media-src 'self'; script-src 'self'; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def create_app(
    layout: Layout | None = None,
    config: CurationConfig | None = None,
    read_only: bool = False,
    s3_client: Callable[[], Any] = boto3_s3_client,
) -> FastAPI:
    layout = layout or Layout()
    config = config or check_config(load_config(layout.home))
    store = ReviewStore(layout, config)
    previews = PreviewCache(
        layout.warehouse / "review_cache" / "previews",
        SourceAccess(s3_client).open,
        config.finetune.preview_cache_mb * 2**20,
    )

    def playable(clip: dict) -> tuple[Path, float]:
        """The file the browser plays for ``clip`` and the source time at its start: the source
        itself when a browser can play it, else (an s3:// object, an AVI, HEVC, 10-bit ...) a
        preview of the segment, cut on demand, starting at the clip's start."""
        path = store.media_path(clip)
        if path is not None and _browser_plays(clip, path):
            return path, 0.0
        if path is None and not _remote(clip):
            raise HTTPException(404, "source file not available under the data root")
        try:
            return previews.path(clip), float(clip["start_s"])
        except Exception as exc:  # noqa: BLE001 - S3, network and decoding errors alike
            detail = f"{type(exc).__name__}: {exc}"[:200]
            raise HTTPException(404, f"the source could not be fetched or cut: {detail}") from exc

    secret = secrets.token_bytes(32)
    app = FastAPI(title="curation review", docs_url=None, redoc_url=None, openapi_url=None)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True
    )
    templates = Jinja2Templates(env=env)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.store = store
    app.state.read_only = read_only

    def csrf_token(session: str) -> str:
        return hmac.new(secret, session.encode(), hashlib.sha256).hexdigest()

    @app.middleware("http")
    async def security(request: Request, call_next):
        session = request.cookies.get(SESSION_COOKIE)
        fresh = session is None or len(session) != 43
        request.state.session = secrets.token_urlsafe(32) if fresh else session
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        if fresh:
            response.set_cookie(
                SESSION_COOKIE, request.state.session, httponly=True, samesite="strict"
            )
        return response

    def render(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
        ctx.update(
            read_only=read_only,
            csrf=csrf_token(request.state.session),
            dimensions=DIMENSIONS,
            rating_min=RATING_MIN,
            rating_max=RATING_MAX,
        )
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    def reviewer_of(request: Request, given: str | None) -> str | None:
        name = given if given is not None else request.cookies.get("reviewer")
        if not name:
            return None
        try:
            return check_reviewer(name)
        except ReviewError:
            return None

    def clip_or_404(clip_id: str) -> dict:
        try:
            clip = store.clip(check_clip_id(clip_id))
        except ReviewError:
            clip = None
        if clip is None:
            raise HTTPException(404, "no such clip")
        return clip

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, reviewer: str | None = None, done: int = 0):
        name = reviewer_of(request, reviewer)
        candidates = store.candidates().to_dicts()
        latest = latest_reviews(store.reviews())
        by_clip: dict[str, list[dict]] = {}
        for row in latest.to_dicts():
            by_clip.setdefault(row["clip_id"], []).append(row)
        for cand in candidates:
            rows = by_clip.get(cand["clip_id"], [])
            cand["agreement"] = agreement(rows) if rows else None
            mine = [r for r in rows if r["reviewer"] == name]
            cand["mine"] = mine[0]["decision"] if mine else None
        left = sum(1 for c in candidates if c["mine"] is None)
        themes: dict[str, dict[str, int]] = {}  # seed theme -> its neighbours' review progress
        for cand in candidates:
            source = cand.get("source") or "score"
            if source.startswith("expansion:"):
                t = themes.setdefault(source.split(":", 1)[1], {"queued": 0, "reviewed": 0})
                t["queued"] += 1
                t["reviewed"] += cand["clip_id"] in by_clip
        bad_name = reviewer is not None and name is None
        return render(
            request,
            "index.html",
            candidates=candidates,
            reviewer=name,
            left=left,
            themes=themes,
            done=done,
            error="invalid reviewer name" if bad_name else None,
        )

    @app.get("/next")
    def next_item(request: Request, reviewer: str, after: str | None = None):
        name = reviewer_of(request, reviewer)
        if name is None:
            return RedirectResponse("/?" + urlencode({"reviewer": reviewer}), status_code=303)
        ids = store.candidates()["clip_id"].to_list()
        reviews = store.reviews()
        seen = set(reviews.filter(reviews["reviewer"] == name)["clip_id"].to_list())
        order = ids
        if after in ids:  # skip: continue after the current one, wrapping around
            pos = ids.index(after) + 1
            order = [c for c in ids[pos:] + ids[:pos] if c != after]
        todo = [c for c in order if c not in seen]
        if not todo:
            return _redirect("/", reviewer=name, done=1, remember=name)
        return _redirect(f"/clips/{todo[0]}", reviewer=name, remember=name)

    @app.get("/clips/{clip_id}", response_class=HTMLResponse)
    def clip_page(request: Request, clip_id: str, reviewer: str | None = None):
        clip = clip_or_404(clip_id)
        name = reviewer_of(request, reviewer)
        latest = latest_reviews(store.reviews(clip_id)).to_dicts()
        mine = next((r for r in latest if r["reviewer"] == name), None)
        ids = store.candidates()["clip_id"].to_list()
        rank = ids.index(clip_id) + 1 if clip_id in ids else None
        for row in latest:
            row["ratings"] = json.loads(row["ratings_json"] or "{}")
        ratings = json.loads(mine["ratings_json"]) if mine else {}
        local = store.media_path(clip)
        return render(
            request,
            "clip.html",
            clip=clip,
            reviewer=name,
            reviews=latest,
            agreement=agreement(latest) if latest else None,
            mine=mine,
            ratings=ratings,
            caption=mine["caption"] if mine and mine["caption"] is not None else clip["caption"],
            in_s=mine["in_s"] if mine and mine["in_s"] is not None else clip["start_s"],
            out_s=mine["out_s"] if mine and mine["out_s"] is not None else clip["end_s"],
            rank=rank,
            total=len(ids),
            has_keyframe=store.keyframe_path(clip) is not None,
            has_media=local is not None or _remote(clip),
            media_offset=0.0 if local and _browser_plays(clip, local) else clip["start_s"],
            strip=[(k, t) for k, t in enumerate(strip_times(clip["start_s"], clip["end_s"]))],
        )

    @app.get("/clips/{clip_id}/similar", response_class=HTMLResponse)
    def similar(request: Request, clip_id: str, reviewer: str | None = None, marked: int = 0):
        clip = clip_or_404(clip_id)
        found = similar_clips(store, clip_id)
        marks = [m for m in marked_seeds(store.seed_marks().to_dicts()) if m.clip_id == clip_id]
        return render(
            request,
            "similar.html",
            clip=clip,
            reviewer=reviewer_of(request, reviewer),
            neighbours=found.rows,
            problems=found.expansion.problems,
            embedding=found.embedding,
            pool=found.pool,
            seeded=marks,
            marked=marked,
        )

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/media/{clip_id}")
    def media(clip_id: str):
        path, _ = playable(clip_or_404(clip_id))
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type)

    @app.get("/keyframes/{clip_id}.jpg")
    def keyframe(clip_id: str):
        path = store.keyframe_path(clip_or_404(clip_id))
        if path is None:
            raise HTTPException(404, "no keyframe")
        return FileResponse(path, media_type="image/jpeg")

    @app.get("/thumbs/{clip_id}/{index}.jpg")
    def thumb(clip_id: str, index: int):
        clip = clip_or_404(clip_id)
        if not 0 <= index < STRIP:
            raise HTTPException(404, "no thumbnail")
        path, offset = playable(clip)
        t = strip_times(clip["start_s"], clip["end_s"])[index]
        try:
            jpeg = cached_thumbnail(
                layout.warehouse / "review_cache", f"{clip['clip_id']}-{index}", path, t - offset
            )
        except (av.FFmpegError, ValueError, OSError):
            raise HTTPException(404, "the source could not be decoded here") from None
        return FileResponse(jpeg, media_type="image/jpeg")

    async def checked_post(request: Request, clip_id: str, csrf: str) -> tuple[dict, Any]:
        """A write's clip and form, after its CSRF token (bound to the session) checks out."""
        if not hmac.compare_digest(csrf, csrf_token(request.state.session)):
            raise HTTPException(403, "missing or invalid CSRF token; reload the page")
        return clip_or_404(clip_id), await request.form()

    if not read_only:

        @app.post("/clips/{clip_id}/review")
        async def submit(request: Request, clip_id: str, csrf: str = Form("")):
            clip, form = await checked_post(request, clip_id, csrf)
            try:
                review = _review_from_form(clip_id, form)
                store.add(review, clip)
            except ReviewError as exc:
                return render(request, "error.html", status=400, message=str(exc), clip=clip)
            # on to the next unreviewed candidate after this one (skipped ones come round again)
            return _redirect(
                "/next", reviewer=review.reviewer, after=clip_id, remember=review.reviewer
            )

        @app.post("/clips/{clip_id}/seed")
        async def mark_seed(request: Request, clip_id: str, csrf: str = Form("")):
            clip, form = await checked_post(request, clip_id, csrf)
            name = str(form.get("reviewer") or "")
            try:
                store.mark_seed(
                    clip_id,
                    name,
                    str(form.get("theme") or ""),
                    remove=form.get("action") == "unseed",
                )
            except ReviewError as exc:
                return render(request, "error.html", status=400, message=str(exc), clip=clip)
            return _redirect(f"/clips/{clip_id}/similar", reviewer=name, marked=1, remember=name)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if request.url.path.startswith(("/media/", "/keyframes/")):
            return Response(str(exc.detail), status_code=exc.status_code, media_type="text/plain")
        return render(request, "error.html", status=exc.status_code, message=exc.detail)

    return app


# What Chromium, Firefox and Safari all play in a <video> element: anything else is previewed.
BROWSER_CONTAINERS = {".mp4", ".m4v", ".mov", ".webm"}
BROWSER_CODECS = {"h264", "vp8", "vp9", "av1"}
BROWSER_PIX_FMTS = {"yuv420p", "yuvj420p"}


def _browser_plays(clip: dict, path: Path) -> bool:
    return (
        path.suffix.lower() in BROWSER_CONTAINERS
        and (clip.get("codec") or "h264") in BROWSER_CODECS
        and (clip.get("pix_fmt") or "yuv420p") in BROWSER_PIX_FMTS
    )


def _remote(clip: dict) -> bool:
    return str(clip.get("uri") or "").startswith("s3://")


def _redirect(path: str, remember: str | None = None, **params) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    response = RedirectResponse(f"{path}?{query}" if query else path, status_code=303)
    if remember:
        response.set_cookie("reviewer", remember, httponly=True, samesite="strict")
    return response


def _number(form, key: str) -> float | None:
    raw = (form.get(key) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ReviewError(f"{key}: not a number: {raw[:40]!r}") from None
    if not math.isfinite(value):
        raise ReviewError(f"{key}: not a finite number")
    return value


def _review_from_form(clip_id: str, form) -> Review:
    ratings = {}
    for dim in DIMENSIONS:
        raw = (form.get(f"rating_{dim}") or "").strip()
        if raw:
            try:
                ratings[dim] = int(raw)
            except ValueError:
                raise ReviewError(f"{dim}: rating must be a whole number") from None
    decision = form.get("decision") or ""
    if decision == "accept" and len(ratings) < len(DIMENSIONS):
        missing = [d for d in DIMENSIONS if d not in ratings]
        raise ReviewError(f"rate every dimension before accepting (missing: {', '.join(missing)})")
    caption = form.get("caption")
    return Review(
        clip_id=clip_id,
        reviewer=check_reviewer(form.get("reviewer") or ""),
        decision=decision,
        in_s=_number(form, "in_s"),
        out_s=_number(form, "out_s"),
        caption=caption.replace("\r\n", "\n") if isinstance(caption, str) else None,
        ratings=ratings,
    )


def serve(
    host: str = "127.0.0.1", port: int = 8300, read_only: bool = False, layout: Layout | None = None
) -> None:
    import uvicorn

    uvicorn.run(create_app(layout, read_only=read_only), host=host, port=port, log_level="info")
