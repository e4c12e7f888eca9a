"""Reviewing clips whose sources live in S3: ranged reads, cut previews, the page's clock offset.

Against moto's S3 server on loopback (the storage tests' fixtures).
"""

from __future__ import annotations

import io
import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient

from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.transcode import transcode_clip
from curation_assets.review.app import create_app
from curation_assets.review.previews import PreviewCache
from curation_assets.storage.ranged import S3RangeReader, open_s3
from curation_assets_tests.storage.conftest import moto_endpoint, s3  # noqa: F401 - fixtures

from .conftest import SHARD, materialize, moved_to_s3, seed


def _frames(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


@pytest.fixture(scope="module")
def long_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 s with a cut every 10 s: a clip in the middle needs a small part of the file."""
    spec = VideoSpec(
        "long.mp4",
        tuple(Shot(10, motion, seed=k) for k, motion in enumerate(["pan_right", "drift"] * 2)),
        480,
        270,
        24,
    )
    return write_video(spec, tmp_path_factory.mktemp("s3src") / spec.name)


def test_ranged_reader_is_a_seekable_file(s3) -> None:  # noqa: F811
    payload = bytes(range(256)) * 4000
    s3.client.put_object(Bucket=s3.bucket, Key="blob.bin", Body=payload)
    raw = S3RangeReader(s3.client, s3.bucket, "blob.bin")
    assert raw.size == len(payload) and raw.seekable()
    raw.seek(1000)
    assert raw.read(10) == payload[1000:1010]
    raw.seek(-5, io.SEEK_END)
    assert raw.read(100) == payload[-5:]  # short read at the end, then EOF
    assert raw.read(1) == b""
    with open_s3(s3.client, f"s3://{s3.bucket}/blob.bin", block=4096) as fh:
        fh.seek(500_000)
        assert fh.read(8192) == payload[500_000:508_192]
        assert fh.raw.bytes_fetched == 8192  # only the range asked for, nothing before it


def test_a_cut_through_ranged_reads_equals_the_local_cut_and_fetches_a_part(
    s3,  # noqa: F811
    long_video: Path,
) -> None:
    s3.client.upload_file(str(long_video), s3.bucket, "raw/long.mp4")
    local = transcode_clip(long_video, 24.0, 28.0, short_side=180)
    with open_s3(s3.client, f"s3://{s3.bucket}/raw/long.mp4", block=64 * 1024) as fh:
        remote = transcode_clip(fh, 24.0, 28.0, short_side=180)
        fetched = fh.raw.bytes_fetched
    assert remote.frames == local.frames == 96  # 4 s at 24 fps, frame-accurate
    assert remote.first_source_s == local.first_source_s
    for a, b in zip(_frames(remote.data), _frames(local.data), strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0
    size = long_video.stat().st_size
    assert fetched < 0.6 * size, (fetched, size)  # the index and the stretch, not the file


def test_preview_cache_cuts_once_and_evicts_the_least_recently_used(
    s3,  # noqa: F811
    long_video: Path,
    tmp_path: Path,
) -> None:
    s3.client.upload_file(str(long_video), s3.bucket, "raw/long.mp4")
    uri = f"s3://{s3.bucket}/raw/long.mp4"
    cache = PreviewCache(tmp_path / "previews", lambda u: open_s3(s3.client, u), 10**9)
    clips = [
        {"clip_id": f"c{k}", "uri": uri, "start_s": 10.0 * k + 1, "end_s": 10.0 * k + 5}
        for k in range(3)
    ]
    first = cache.path(clips[0])
    assert cache.path(clips[0]) == first and cache.made == 1  # cached
    assert len(_frames(first.read_bytes())) == 96
    one = first.stat().st_size
    cache.max_bytes = int(2.5 * one)
    cache.path(clips[1])
    cache.path(clips[0])  # used again: now the most recent
    cache.path(clips[2])  # over the bound: clip 1 (least recently used) goes
    kept = sorted(p.stem for p in (tmp_path / "previews").glob("*.mp4"))
    assert kept == ["c0", "c2"]
    assert not list((tmp_path / "previews").glob("*.tmp"))


def test_the_review_page_plays_an_s3_clip_from_a_cut_preview(s3, home: Path) -> None:  # noqa: F811
    seeded = seed(home, videos=2, clips_per_video=3, uri_for=moved_to_s3(s3))
    materialize(home)
    app = create_app(seeded.layout, s3_client=lambda: s3.client)
    client = TestClient(app)
    clip_id = seeded.clip_ids[1]  # the clip from 4 s to 8 s of its video
    page = client.get(f"/clips/{clip_id}")
    assert page.status_code == 200
    assert 'data-offset="4.0"' in page.text
    assert re.search(rf'src="/media/{clip_id}#t=0\.0+,4\.0+"', page.text), page.text

    media = client.get(f"/media/{clip_id}")
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    frames = _frames(media.content)
    assert len(frames) == 4 * 24  # the clip's 4 s, cut frame-accurately
    partial = client.get(f"/media/{clip_id}", headers={"Range": "bytes=0-99"})
    assert partial.status_code == 206 and len(partial.content) == 100
    thumb = client.get(f"/thumbs/{clip_id}/0.jpg")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    previews = seeded.layout.warehouse / "review_cache" / "previews"
    assert [p.stem for p in previews.glob("*.mp4")] == [clip_id]

    s3.client.delete_object(Bucket=s3.bucket, Key="raw/video 1.mp4")
    gone = [c for c in seeded.clip_ids if c.startswith("v0000000000000001")][0]
    missing = client.get(f"/media/{gone}")
    assert missing.status_code == 404 and "could not be fetched" in missing.text


def test_finetune_set_of_s3_clips_exports_the_trimmed_cut(s3, home: Path) -> None:  # noqa: F811
    """Accepted reviews of S3 sources: the export cuts the trimmed range through ranged reads
    (it used to need a local file) and the manifest keeps the s3:// uri."""
    import tarfile

    from curation_assets.assets.finetune import finetune_set
    from curation_assets.config import load_config
    from curation_assets.exports import read_manifest
    from curation_assets.resources import CurationResource
    from curation_assets.review.store import Review, ReviewStore
    from curation_assets.selection.finetune import DIMENSIONS
    from curation_assets_tests.storage.conftest import REGION

    seeded = seed(home, videos=1, clips_per_video=3, uri_for=moved_to_s3(s3))
    materialize(home)
    clip_id = seeded.clip_ids[1]  # 4 s to 8 s
    reviews = ReviewStore(seeded.layout, load_config(home))
    review = Review(
        clip_id, "ann", "accept", 5.0, 7.5, "A cut of an S3 clip.", dict.fromkeys(DIMENSIONS, 4)
    )
    reviews.add(review, reviews.clip(clip_id))
    resource = CurationResource(home=str(home), s3_endpoint_url=s3.endpoint, s3_region_name=REGION)
    materialize(home, [finetune_set], resource=resource)
    out = seeded.layout.exports / "finetune_set"
    manifest = read_manifest(out).to_dicts()
    assert [(m["clip_id"], m["status"]) for m in manifest] == [(clip_id, "ok")]
    assert manifest[0]["uri"] == f"s3://{s3.bucket}/raw/video 0.mp4"
    assert manifest[0]["out_frames"] == 60  # 2.5 s at 24 fps
    (tar_path,) = out.glob("finetune_set-*.tar")
    with tarfile.open(tar_path) as tar:
        mp4 = next(n for n in tar.getnames() if n.endswith(".mp4"))
        assert len(_frames(tar.extractfile(mp4).read())) == 60
    assert not (seeded.layout.warehouse / "export_sources").exists()  # nothing staged whole


def _as_avi(path: Path) -> str:
    """``seed(uri_for=...)``: the video re-encoded as MPEG-4 Part 2 in AVI (no browser plays
    that), the MP4 removed."""
    target = path.with_suffix(".avi")
    with av.open(str(path)) as src, av.open(str(target), "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        for index, frame in enumerate(src.decode(video=0)):
            frame.pts, frame.time_base = index, Fraction(1, 24)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    path.unlink()
    return target.absolute().as_uri()


def test_a_local_source_no_browser_plays_is_reviewed_from_a_preview(home: Path) -> None:
    seeded = seed(home, videos=1, clips_per_video=3, uri_for=_as_avi)
    materialize(home)
    client = TestClient(create_app(seeded.layout))
    clip_id = seeded.clip_ids[1]  # 4 s to 8 s
    page = client.get(f"/clips/{clip_id}")
    assert page.status_code == 200 and 'data-offset="4.0"' in page.text
    media = client.get(f"/media/{clip_id}")
    assert media.status_code == 200 and media.headers["content-type"] == "video/mp4"
    assert len(_frames(media.content)) == 96  # the 4 s segment as H.264, not the AVI
    assert client.get(f"/thumbs/{clip_id}/3.jpg").status_code == 200
    # a source the browser plays is still served as it is
    plain = seed(home / "plain", videos=1, clips_per_video=2)
    materialize(home / "plain")
    client = TestClient(create_app(plain.layout))
    assert 'data-offset="0.0"' in client.get(f"/clips/{plain.clip_ids[1]}").text
    served = client.get(f"/media/{plain.clip_ids[1]}")
    assert served.content == (plain.layout.shard_uploads(SHARD) / "video 0.mp4").read_bytes()


def test_source_access_stats_once_and_opens_without_another_head(s3, long_video: Path) -> None:  # noqa: F811
    from curation_assets.storage.access import SourceAccess

    s3.client.upload_file(str(long_video), s3.bucket, "raw/long.mp4")
    heads: list[str] = []

    class Counting:
        def head_object(self, **kw):
            heads.append(kw["Key"])
            return s3.client.head_object(**kw)

        def get_object(self, **kw):
            return s3.client.get_object(**kw)

    uri, missing = f"s3://{s3.bucket}/raw/long.mp4", f"s3://{s3.bucket}/raw/gone.mp4"
    access = SourceAccess(Counting)
    stats = access.stat([uri, uri, missing, str(long_video)])
    assert stats[uri][0] == stats[str(long_video)][0] == long_video.stat().st_size
    assert stats[missing] is None
    assert sorted(heads) == ["raw/gone.mp4", "raw/long.mp4"]  # one HEAD per distinct object
    with access.open(uri) as fh:
        assert fh.read(8)[4:] == b"ftyp"
    assert len(heads) == 2  # the size came from the stat
