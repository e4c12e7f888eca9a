"""Still images in exports: ``<key>.jpg`` samples beside video clips in real WebDataset shards.

The source JPEG is copied byte for byte when nothing changes; a crop (border, watermark or the
bucket's aspect ratio), a shrink, an EXIF rotation or a non-JPEG source is re-encoded, the same
bytes every time. Photos are scikit-image's sample images; the video is synthetic.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import skimage.data
import webdataset as wds  # the loader training jobs use (dev dependency)
from PIL import Image, ImageOps

from curation_assets.exports import ExportSpec, export_subset, read_manifest, verify_export
from curation_assets.media import synthetic
from curation_assets.media.image import load_rgb
from curation_assets.storage.access import SourceAccess
from curation_assets.vocabulary import ExportFailure
from curation_assets_tests.exports.pattern import member, members_frame
from curation_assets_tests.storage.conftest import moto_endpoint, s3  # noqa: F401 - fixtures

PHOTOS = Path(skimage.data.__file__).parent
SPEC = ExportSpec("mixed", clips_per_tar=3)  # no short side: a JPEG can pass unchanged


def image_member(
    path: Path | str,
    aspect_bucket: str,
    *,
    crop: tuple[int, int, int, int] | None = None,
    caption: str | None = "a photo",
    name: str | None = None,
    size: tuple[int, int] | None = None,
) -> dict:
    """A selected image clip as ``steps.subsets.export_members`` gives it (images contract)."""
    if size is None:
        with Image.open(path) as img:
            size = ImageOps.exif_transpose(img).size  # videos.width/height are upright
    video_id = name or Path(path).stem
    row = {
        "clip_id": f"{video_id}-0000000-0000000",
        "video_id": video_id,
        "uri": str(path),
        "media": "image",
        "start_s": 0.0,
        "end_s": 0.0,
        "duration_s": 0.0,
        "start_frame": 0,
        "end_frame": 1,
        "fps": None,
        "width": size[0],
        "height": size[1],
        "bucket": f"image|{aspect_bucket}",
        "duration_bucket": None,  # an image has no duration bucket
        "aspect_bucket": aspect_bucket,
        "weight": 1.0,
        "caption": caption,
        "fields_json": '{"subject": "test"}',
        "score_aesthetic": 0.7,
        "score_motion_mean": None,
        "crop_x": None,
        "crop_y": None,
        "crop_w": None,
        "crop_h": None,
    }
    if crop is not None:
        row.update(zip(("crop_x", "crop_y", "crop_w", "crop_h"), crop, strict=True))
    return row


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("image_sources")
    # a phone photo stored sideways: EXIF orientation 6 turns it upright (90 degrees clockwise)
    with Image.open(PHOTOS / "rocket.jpg") as rocket:
        exif = Image.Exif()
        exif[0x0112] = 6
        rocket.transpose(Image.Transpose.ROTATE_90).save(
            root / "sideways.jpg", quality=92, exif=exif.tobytes()
        )
    clip = synthetic.VideoSpec("clip.mp4", (synthetic.Shot(2.0, "pan_right", seed=5),), 320, 180)
    return {
        "retina": PHOTOS / "retina.jpg",  # JPEG 1411 x 1411: the 1:1 bucket keeps every pixel
        "rocket": PHOTOS / "rocket.jpg",  # JPEG 640 x 427: the 4:3 bucket crops it
        "astronaut": PHOTOS / "astronaut.png",  # PNG 512 x 512
        "coffee": PHOTOS / "coffee.png",  # PNG 600 x 400
        "horse": PHOTOS / "horse.png",  # RGBA: composited over white
        "sideways": root / "sideways.jpg",
        "video": synthetic.write_video(clip, root / "clip.mp4"),
    }


def _rows(sources: dict[str, Path]) -> list[dict]:
    video = member(sources["video"], 0, 48, 24, 320, 180, "16:9", caption="a moving texture")
    return [
        {**video, "media": "video"},
        image_member(sources["retina"], "1:1"),
        image_member(sources["retina"], "1:1", crop=(100, 60, 1200, 1300), name="retina_cropped"),
        image_member(sources["rocket"], "4:3", caption=None),
        image_member(sources["astronaut"], "1:1"),
        image_member(sources["coffee"], "4:3"),
        image_member(sources["horse"], "4:3"),
        image_member(sources["sideways"], "4:3"),
    ]


def _frame(rows: list[dict]) -> pl.DataFrame:
    return members_frame(rows).with_columns(
        pl.col("fps", "score_motion_mean").cast(pl.Float64),
        pl.col("duration_bucket").cast(pl.String),
    )


def _by_video(manifest: pl.DataFrame) -> dict[str, dict]:
    return {r["video_id"]: r for r in manifest.iter_rows(named=True)}


def _tar_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _jpg(row: dict, out: Path) -> bytes:
    return _tar_members(out / row["tar"])[f"{row['key']}.jpg"]


def _rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        return np.asarray(img.convert("RGB"), dtype=np.float32)


def test_images_and_a_video_export_to_shards_a_webdataset_loader_reads(tmp_path, sources):
    out = tmp_path / "export"
    report = export_subset(_frame(_rows(sources)), out, SPEC)
    assert report.failed == [] and report.ok == 8
    assert report.per_bucket == {"2-4s|16:9": 1, "image|1:1": 3, "image|4:3": 4}
    manifest = read_manifest(out)
    rows = _by_video(manifest)
    assert manifest.filter(pl.col("media") == "image").height == 7
    assert rows["clip"]["media"] == "video" and rows["clip"]["out_jpeg"] is None

    samples = list(
        wds.WebDataset([str(p) for p in report.tar_paths], shardshuffle=False, empty_check=False)
    )
    assert [s["__key__"] for s in samples] == manifest["key"].to_list()
    for sample, row in zip(samples, manifest.iter_rows(named=True), strict=True):
        meta = json.loads(sample["json"])
        assert meta["clip_id"] == row["clip_id"] and meta["uri"] == row["uri"]
        assert ("txt" in sample) == (row["caption"] is not None)
        if row["caption"] is not None:
            assert sample["txt"].decode() == row["caption"] == meta["caption"]
        if row["media"] == "video":
            assert "mp4" in sample and "jpg" not in sample and "media" not in meta
            continue
        assert "mp4" not in sample
        assert len(sample["jpg"]) == row["out_bytes"]
        with Image.open(io.BytesIO(sample["jpg"])) as img:
            img.load()
            assert img.format == "JPEG" and img.mode in ("RGB", "L")
            assert img.size == (row["out_width"], row["out_height"])
            assert img.getexif().get(0x0112, 1) == 1  # upright pixels, nothing left to turn
        assert meta["media"] == "image"
        assert meta["aspect_bucket"] == row["aspect_bucket"] and meta["bucket"] == row["bucket"]
        assert meta["source"] == {"fps": None, "width": row["width"], "height": row["height"]}
        assert meta["scores"] == {"aesthetic": 0.7, "motion_mean": None}
        assert meta["fields"] == {"subject": "test"}
        assert meta["output"] == {
            "frames": 1, "fps": None, "duration_s": 0.0, "jpeg": row["out_jpeg"],
            "width": row["out_width"], "height": row["out_height"],
        }  # fmt: skip

    # sizes: the bucket's aspect ratio, a border crop, EXIF orientation
    sizes = {v: (r["out_width"], r["out_height"]) for v, r in rows.items() if v != "clip"}
    assert sizes == {
        "retina": (1411, 1411),
        "retina_cropped": (1200, 1200),  # 1200 x 1300 border crop, then 1:1
        "rocket": (569, 427),  # 640 x 427 to 4:3
        "astronaut": (512, 512),
        "coffee": (533, 400),
        "horse": (400, 300),
        "sideways": (569, 427),  # stored 427 x 640 on its side, upright landscape
    }
    assert verify_export(out, decode=True).passed


def test_a_jpeg_that_needs_nothing_is_copied_byte_for_byte(tmp_path, sources):
    out = tmp_path / "export"
    export_subset(_frame(_rows(sources)), out, SPEC)
    rows = _by_video(read_manifest(out))
    copied = {v for v, r in rows.items() if r["out_jpeg"] == "copied"}
    assert copied == {"retina"}
    assert _jpg(rows["retina"], out) == sources["retina"].read_bytes()
    for name in ("retina_cropped", "rocket", "astronaut", "coffee", "horse", "sideways"):
        assert rows[name]["out_jpeg"] == "reencoded", name
    # re-encoded pixels are the source's, cropped: upright, not mirrored, alpha over white
    full = load_rgb(sources["retina"]).astype(np.float32)
    cropped = _rgb(_jpg(rows["retina_cropped"], out))
    assert np.abs(cropped - full[110:1310, 100:1300]).mean() < 3.0  # centre of 1200 x 1300
    rocket = load_rgb(sources["rocket"]).astype(np.float32)[:, 35:604]  # centre 569 of 640
    turned = _rgb(_jpg(rows["sideways"], out))
    assert np.abs(turned - rocket).mean() < 4.0
    assert np.abs(turned[::-1, ::-1] - rocket).mean() > 20.0  # upside down would not match
    astronaut = load_rgb(sources["astronaut"]).astype(np.float32)
    assert np.abs(_rgb(_jpg(rows["astronaut"], out)) - astronaut).mean() < 3.0
    horse = _rgb(_jpg(rows["horse"], out))
    assert horse[:5, :5].min() > 240  # transparent corner: white, not black


def test_a_short_side_shrinks_and_re_encodes_even_a_plain_jpeg(tmp_path, sources):
    rows = [_rows(sources)[1], _rows(sources)[4]]  # retina (copied at full size), astronaut
    out = tmp_path / "small"
    export_subset(_frame(rows), out, ExportSpec("small", short_side=256))
    manifest = _by_video(read_manifest(out))
    assert {v: r["out_jpeg"] for v, r in manifest.items()} == {
        "retina": "reencoded",
        "astronaut": "reencoded",
    }
    for row in manifest.values():
        with Image.open(io.BytesIO(_jpg(row, out))) as img:
            assert img.size == (256, 256) == (row["out_width"], row["out_height"])
    # a short side above the image's own: nothing to shrink, copied again
    big = tmp_path / "big"
    export_subset(_frame(rows[:1]), big, ExportSpec("big", short_side=2048))
    row = read_manifest(big).row(0, named=True)
    assert row["out_jpeg"] == "copied" and _jpg(row, big) == sources["retina"].read_bytes()


def test_two_exports_are_byte_identical_and_a_rerun_rewrites_nothing(tmp_path, sources):
    members = _frame(_rows(sources))
    first, second = tmp_path / "a", tmp_path / "b"
    export_subset(members, first, SPEC)
    export_subset(members, second, SPEC)
    names = sorted(p.name for p in first.iterdir() if p.is_file())
    assert any(n.endswith(".tar") for n in names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    before = {p.name: p.stat().st_mtime_ns for p in first.iterdir() if p.is_file()}
    again = export_subset(members, first, SPEC)
    assert (again.exported, again.skipped, again.tars_written) == (0, 8, [])
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir() if p.is_file()} == before
    # a video setting leaves the image shards alone
    other = export_subset(members, first, ExportSpec("mixed", clips_per_tar=3, crf=23))
    assert (other.exported, other.reused, other.skipped) == (1, 0, 7)
    assert len(other.tars_written) == 1


def test_bad_images_are_failed_rows_with_reasons(tmp_path, sources):
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(sources["retina"].read_bytes()[:60_000])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 500)
    rows = [
        image_member(sources["astronaut"], "1:1"),
        image_member(tmp_path / "gone.jpg", "1:1", size=(512, 512)),
        image_member(truncated, "1:1", size=(1411, 1411)),
        image_member(junk, "1:1", size=(512, 512)),
    ]
    out = tmp_path / "export"
    report = export_subset(_frame(rows), out, ExportSpec("bad"))
    reasons = {f.clip_id.split("-")[0]: f.reason for f in report.failed}
    assert reasons == {
        "gone": ExportFailure.SOURCE_MISSING,
        "truncated": ExportFailure.UNREADABLE,
        "junk": ExportFailure.UNREADABLE,
    }
    manifest = _by_video(read_manifest(out))
    assert manifest["astronaut"]["status"] == "ok"
    assert {manifest[v]["reason"] for v in reasons} == {"source_missing", "unreadable"}
    assert verify_export(out, decode=True).passed


def test_manifest_only_export_predicts_image_sizes(tmp_path, sources):
    members = _frame(_rows(sources))
    export_subset(members, tmp_path / "media", SPEC)
    spec = ExportSpec("mixed", clips_per_tar=3, write_media=False)
    export_subset(members, tmp_path / "plan", spec)
    cols = ["clip_id", "media", "out_frames", "out_width", "out_height", "out_duration_s"]
    real, planned = read_manifest(tmp_path / "media"), read_manifest(tmp_path / "plan")
    assert planned.select(cols).equals(real.select(cols))
    assert planned["out_jpeg"].null_count() == planned.height


def test_images_on_s3_are_read_where_they_are(tmp_path, sources, s3):  # noqa: F811
    local = [image_member(sources["retina"], "1:1"), image_member(sources["coffee"], "4:3")]
    rows = []
    for row in local:
        key = f"raw/photos/{Path(row['uri']).name}"
        s3.client.upload_file(row["uri"], s3.bucket, key)
        rows.append({**row, "uri": f"s3://{s3.bucket}/{key}"})
    out = tmp_path / "export"
    access = SourceAccess(lambda: s3.client)
    report = export_subset(_frame(rows), out, SPEC, sources=access)
    assert report.failed == []
    manifest = _by_video(read_manifest(out))
    assert manifest["retina"]["out_jpeg"] == "copied"
    assert _jpg(manifest["retina"], out) == sources["retina"].read_bytes()
    assert (manifest["coffee"]["out_width"], manifest["coffee"]["out_height"]) == (533, 400)
    again = export_subset(_frame(rows), out, SPEC, sources=SourceAccess(lambda: s3.client))
    assert (again.exported, again.skipped) == (0, 2)


def test_an_image_stage_exports_through_the_real_assets(home, tmp_path):
    """Photos and a video ingested, scored and selected for real; the image stage's export
    asset writes ``.jpg`` samples, the video stage's ``.mp4`` ones."""
    import shutil

    import dagster as dg
    import yaml

    from curation_assets.assets.subsets import build_subsets
    from curation_assets.config import CurationConfig, Layout
    from curation_assets.definitions import GLOBAL_ASSETS, PER_SHARD_ASSETS
    from curation_assets.resources import CurationResource
    from curation_assets.storage.files import path_of

    layout = Layout(home)
    uploads = layout.shard_uploads("mixed")
    uploads.mkdir(parents=True, exist_ok=True)
    for name in ("retina.jpg", "rocket.jpg", "astronaut.png", "coffee.png", "chelsea.png"):
        shutil.copy(PHOTOS / name, uploads / name)
    with Image.open(PHOTOS / "rocket.jpg") as rocket:
        exif = Image.Exif()
        exif[0x0112] = 6
        rocket.transpose(Image.Transpose.ROTATE_90).save(
            uploads / "sideways.jpg", quality=92, exif=exif.tobytes()
        )
    pan = synthetic.VideoSpec("pan.mp4", (synthetic.Shot(6, "pan_right", seed=41),), 480, 270)
    synthetic.write_video(pan, uploads / "pan.mp4")
    (uploads / "_READY").write_text("")
    stages = {
        "t_images": {"media": "image", "export": {"clips_per_tar": 2}},
        "t_videos": {"export": {"short_side": 96, "fps": 12, "clips_per_tar": 2}},
    }
    (home / "curation.yaml").write_text(
        yaml.safe_dump({"subsets": {"presets": [], "stages": stages}}), encoding="utf-8"
    )
    cfg = CurationConfig.from_yaml(home / "curation.yaml")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", ["mixed"])
        resources = {"curation": CurationResource(home=str(home))}
        assert dg.materialize(
            PER_SHARD_ASSETS, instance=instance, partition_key="mixed", resources=resources
        ).success
        assert dg.materialize(GLOBAL_ASSETS, instance=instance, resources=resources).success
        assets, exports, _ = build_subsets(cfg)
        assert dg.materialize([*assets, *exports], instance=instance, resources=resources).success
    images = read_manifest(layout.exports / "t_images")
    videos = read_manifest(layout.exports / "t_videos")
    assert images.height >= 4 and set(images["media"]) == {"image"}
    assert set(videos["media"]) == {"video"} and videos["out_jpeg"].null_count() == videos.height
    assert (images["status"] == "ok").all() and images["bucket"].str.starts_with("image|").all()
    for row in images.iter_rows(named=True):
        data = _jpg(row, layout.exports / "t_images")
        with Image.open(io.BytesIO(data)) as img:
            assert img.size == (row["out_width"], row["out_height"])
        source = Path(path_of(row["uri"]))
        assert (row["out_jpeg"] == "copied") == (source.name == "retina.jpg")  # JPEG, 1:1
        if row["out_jpeg"] == "copied":
            assert data == source.read_bytes()
        if source.stem in ("rocket", "sideways"):  # near duplicates: one is kept, upright
            assert (row["out_width"], row["out_height"]) == (569, 427)
    assert verify_export(layout.exports / "t_images", decode=True).passed
    assert verify_export(layout.exports / "t_videos", decode=True).passed
