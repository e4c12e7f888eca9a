"""Fixtures for the fine-tune workflow: real synthetic videos, stored scores, a live server."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import dagster as dg
import pytest
import uvicorn

from curation_assets.assets.finetune import finetune_candidates
from curation_assets.config import CurationConfig, Layout
from curation_assets.lineage.store import LineageStore
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets.review.app import create_app

SHARD = "reviewshard"
SCRIPT_CAPTION = '<script>document.title="pwned"</script><b>bold</b> & a pan over hills'

# Scores that pass the default strict fine-tune thresholds; tests vary one signal per clip.
GOOD = {
    "short_side_px": 1080.0,
    "aspect_ratio": 1.78,
    "border_area": 0.0,
    "text_area": 0.0,
    "watermark_confidence": 0.0,
    "sharpness": 120.0,
    "brightness": 0.45,
    "clipped_fraction": 0.0,
    "technical_quality": 0.6,
    "colorfulness": 0.5,
    "static_fraction": 0.1,
    "motion_mean": 0.05,
    "motion_p95": 0.2,
    "shake": 0.002,
    "shots_per_second": 0.1,
    "slideshow": 0.0,
}


@dataclass
class Seeded:
    home: Path
    clip_ids: list[str]  # every seeded clip, in order
    excluded: dict[str, str]  # clip_id -> the reason it must not be a candidate
    script_clip: str  # the clip whose caption holds <script>

    @property
    def layout(self) -> Layout:
        return Layout(self.home)

    @property
    def store(self) -> LineageStore:
        return store_for(self.layout)


_MEDIA_CACHE = Path(tempfile.mkdtemp(prefix="review_media_"))


def _cached_video(index: int, seconds: float) -> Path:
    """Synthetic videos are written once per test session, then copied (writing is the cost)."""
    path = _MEDIA_CACHE / f"{index}-{seconds:g}.mp4"
    if not path.exists():
        spec = VideoSpec("v.mp4", (Shot(seconds, "pan_right", seed=40 + index),), 320, 180)
        write_video(spec, path.with_suffix(".tmp.mp4"))
        path.with_suffix(".tmp.mp4").replace(path)
    return path


def seed(
    home: Path,
    videos: int = 4,
    clips_per_video: int = 6,
    clip_s: float = 4.0,
    uri_for: Callable[[Path], str] | None = None,
) -> Seeded:
    """Real videos under uploads/, their clips and scores in lineage, a keyframe per clip.

    ``uri_for`` may put each video elsewhere (e.g. S3) and give its uri; by default the local
    file's ``file://`` uri."""
    layout = Layout(home)
    store = store_for(layout)
    rows: dict[str, list[dict]] = {
        k: [] for k in ("videos", "clips", "scores", "clip_labels", "captions", "decisions")
    }
    clip_ids: list[str] = []
    excluded: dict[str, str] = {}
    seconds = clips_per_video * clip_s
    kf_dir = layout.shard_warehouse(SHARD) / "keyframes"
    kf_dir.mkdir(parents=True, exist_ok=True)
    for v in range(videos):
        video_id = f"v{v:016x}"
        path = layout.shard_uploads(SHARD) / f"video {v}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_cached_video(v, seconds), path)
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0)).to_image()
        rows["videos"].append(
            {
                "video_id": video_id,
                "shard": SHARD,
                "file_name": path.name,
                "uri": uri_for(path) if uri_for else path.absolute().as_uri(),
                "status": "admitted",
                "duration_s": seconds,
                "width": 320,
                "height": 180,
                "fps": 24.0,
                "codec": "h264",
            }
        )
        for k in range(clips_per_video):
            start, end = k * clip_s, (k + 1) * clip_s
            cid = f"{video_id}-{int(start * 1000):07d}-{int(end * 1000):07d}"
            clip_ids.append(cid)
            n = len(clip_ids)
            rows["clips"].append(
                {
                    "clip_id": cid,
                    "video_id": video_id,
                    "shard": SHARD,
                    "start_s": start,
                    "end_s": end,
                    "duration_s": clip_s,
                }
            )
            scores = dict(GOOD, technical_quality=0.5 + 0.4 * (n % 10) / 10)
            if n == 3:
                scores["text_area"] = 0.05  # passes the loose gate (0.08), not the strict 0.005
                excluded[cid] = "strict_text_overlay"
            if n == 5:
                scores["shake"] = 0.0065  # loose gate 0.008 passes, strict 0.005 fails
                excluded[cid] = "strict_jitter"
            if n == 7:
                excluded[cid] = "failed_near_duplicate"
                rows["decisions"].append(
                    {
                        "clip_id": cid,
                        "stage": "near_duplicates",
                        "filter": "near_duplicate",
                        "passed": False,
                        "reason": "near_duplicate",
                        "shard": SHARD,
                    }
                )
            for signal, value in scores.items():
                rows["scores"].append(
                    {
                        "clip_id": cid,
                        "signal": signal,
                        "value": value,
                        "scorer": "seed",
                        "shard": SHARD,
                    }
                )
            rows["scores"].append(
                {"clip_id": cid, "signal": "concept_weight", "value": 1.0, "scorer": "seed"}
            )
            rows["clip_labels"].append(
                {"clip_id": cid, "kind": "concept", "label": f"c{v % 2}", "scorer": "seed"}
            )
            caption = SCRIPT_CAPTION if n == 1 else f"Clip {n}: a textured scene pans right."
            rows["captions"].append(
                {"clip_id": cid, "captioner": "seed", "caption": caption, "shard": SHARD}
            )
            frame.save(kf_dir / f"{cid}.jpg")
    store.replace("seed", SHARD, rows)
    return Seeded(home, clip_ids, excluded, clip_ids[0])


def moved_to_s3(s3) -> Callable[[Path], str]:
    """For ``seed(uri_for=...)``: each video uploaded under raw/ and its local copy deleted, so
    nothing can fall back on a local file."""

    def upload(path: Path) -> str:
        s3.client.upload_file(str(path), s3.bucket, f"raw/{path.name}")
        path.unlink()
        return f"s3://{s3.bucket}/raw/{path.name}"

    return upload


def materialize(
    home: Path, assets=None, resource: CurationResource | None = None
) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            assets or [finetune_candidates],
            instance=instance,
            resources={"curation": resource or CurationResource(home=str(home))},
        )
        assert result.success
        return result


@pytest.fixture
def seeded(home: Path) -> Seeded:
    data = seed(home)
    materialize(home, [finetune_candidates])
    return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture
def live_server(seeded: Seeded) -> Iterator[Server]:
    with serving(seeded.layout) as server:
        yield server


@contextmanager
def serving(layout: Layout, config: CurationConfig | None = None) -> Iterator[Server]:
    """The app on a free loopback port, in a thread (what `curate review` serves)."""
    with serving_app(create_app(layout, config)) as server:
        yield server


@contextmanager
def serving_app(app) -> Iterator[Server]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("review server did not start")
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}", server, thread)
    server.should_exit = True
    thread.join(10)
