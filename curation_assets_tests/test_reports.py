"""Pictures and tables for the UI: real pixels and real markdown, then the assets' metadata."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import cv2
import dagster as dg
import numpy as np
import pytest

from curation_assets.assets.metadata import contact_sheets, render
from curation_assets.assets.metadata.contact_sheets import SHEET_COLUMNS, SHEET_TILE_WIDTH
from curation_assets.assets.metadata.ingest import shot_clips_metadata, source_videos_metadata
from curation_assets.assets.metadata.render import SheetLayout
from curation_assets.config import CurationConfig, Layout
from curation_assets.definitions import PER_SHARD_ASSETS
from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.resources import CurationResource, store_for
from curation_assets.steps.shots import ClipRows


def _decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable image"
    return image


def _solid(rgb: tuple[int, int, int], width: int, height: int) -> np.ndarray:
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = rgb
    return frame


def _data_uri_image(markdown: str) -> np.ndarray:
    match = re.fullmatch(r"!\[[^\]]*\]\(data:image/(png|jpeg);base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:80]
    return _decode(base64.b64decode(match.group(2)))


# -- histogram ---------------------------------------------------------------------------------


def test_histogram_png_decodes_to_the_asked_size() -> None:
    png = render.histogram_png([4.2, 5.0, 5.5, 9.0, 15.9], bins=10, title="t", xlabel="s")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert _decode(png).shape[:2] == (200, 400)  # 5 x 2.5 in at 80 dpi
    assert _decode(render.histogram_png([], 10, "empty", "s")).shape[:2] == (200, 400)
    small = render.histogram_png([1.0, 2.0], 5, "x", "y", size_in=(3, 2), dpi=50)
    assert _decode(small).shape[:2] == (100, 150)


# -- contact sheet -----------------------------------------------------------------------------

COLOURS = [(220, 30, 30), (30, 200, 40), (30, 60, 220), (240, 220, 20), (200, 30, 200)]


def test_contact_sheet_grid_and_letterboxed_tiles_come_from_the_frames() -> None:
    # landscape, portrait, square, very wide, tiny: each must fill the middle of its own cell
    sizes = [(320, 180), (180, 320), (200, 200), (640, 120), (40, 30)]
    tiles = [
        (_solid(c, w, h), f"clip{i}\n{i + 4.5:.1f} s")
        for i, (c, (w, h)) in enumerate(zip(COLOURS, sizes, strict=True))
    ]
    sheet = render.contact_sheet(tiles, columns=3, tile_width=160)
    layout = SheetLayout.for_tiles(5, columns=3, tile_width=160)
    assert (layout.columns, layout.rows) == (3, 2)
    assert sheet.shape == (*layout.size, 3)
    assert sheet.dtype == np.uint8
    for i, colour in enumerate(COLOURS):
        x0, y0, x1, y1 = layout.image_box(i)
        centre = sheet[(y0 + y1) // 2, (x0 + x1) // 2]
        assert np.abs(centre.astype(int) - colour).max() <= 2, (i, centre, colour)
    # portrait tile: letterbox bars left and right, not the frame's colour
    x0, y0, x1, y1 = layout.image_box(1)
    assert sheet[(y0 + y1) // 2, x0 + 2].max() < 10
    assert sheet[(y0 + y1) // 2, x1 - 3].max() < 10
    # very wide tile: bars above and below
    x0, y0, x1, y1 = layout.image_box(3)
    assert sheet[y0 + 2, (x0 + x1) // 2].max() < 10
    # the label band under each frame holds text (light pixels on a dark band)
    for i in range(5):
        x0, _, x1, y1 = layout.image_box(i)
        band = sheet[y1 : y1 + layout.label_height, x0:x1]
        assert (band > 180).any(), f"no label text under tile {i}"
    # the unused sixth cell stays background
    x0, y0, x1, y1 = layout.image_box(5)
    assert sheet[y0:y1, x0:x1].max() < 40


@pytest.mark.parametrize(
    ("count", "columns", "grid"), [(1, 6, (1, 1)), (6, 6, (6, 1)), (7, 6, (6, 2)), (48, 6, (6, 8))]
)
def test_contact_sheet_size_follows_the_tile_count(count, columns, grid) -> None:
    tiles = [(_solid(COLOURS[i % 5], 64, 36), str(i)) for i in range(count)]
    sheet = render.contact_sheet(tiles, columns=columns, tile_width=96)
    layout = SheetLayout.for_tiles(count, columns, 96)
    assert (layout.columns, layout.rows) == grid
    cols, rows = grid
    assert sheet.shape[:2] == (
        rows * layout.cell_height + (rows + 1) * layout.gap,
        cols * 96 + (cols + 1) * layout.gap,
    )


def test_contact_sheet_with_no_tiles_is_a_small_card() -> None:
    sheet = render.contact_sheet([], columns=6, tile_width=192)
    assert sheet.shape == (*SheetLayout.for_tiles(0, 6, 192).size, 3)
    assert _decode(render.jpeg_bytes(sheet)).shape == sheet.shape


def test_grey_and_rgba_frames_are_accepted() -> None:
    grey = np.full((90, 160), 128, np.uint8)
    rgba = np.zeros((90, 160, 4), np.uint8)
    rgba[..., 1] = 250
    sheet = render.contact_sheet([(grey, "g"), (rgba, "a")], columns=2, tile_width=160)
    layout = SheetLayout.for_tiles(2, 2, 160)
    x0, y0, x1, y1 = layout.image_box(1)
    assert tuple(sheet[(y0 + y1) // 2, (x0 + x1) // 2]) == (0, 250, 0)


# -- markdown ----------------------------------------------------------------------------------


def test_markdown_table_escapes_pipes_and_keeps_one_line_per_row() -> None:
    rows = [{"file": "a|b.mp4", "n": 3, "note": "two\nlines"}, {"file": "c.mp4", "n": 10}]
    table = render.markdown_table(rows, {"file": "file", "n": "count", "note": "note"})
    lines = table.splitlines()
    assert lines[0] == "| file | count | note |"
    assert lines[1] == "| --- | ---: | --- |"
    assert lines[2] == r"| a\|b.mp4 | 3 | two lines |"
    assert lines[3] == "| c.mp4 | 10 |  |"
    # every row splits into exactly the header's cells on unescaped pipes
    for line in lines:
        assert len(re.split(r"(?<!\\)\|", line)) == 5
    assert render.markdown_table([], ["a"], empty="nothing") == "nothing"


def test_reasons_table_sorts_by_count_with_examples() -> None:
    table = render.reasons_table(
        {"too_short": 1, "unreadable": 3, "never": 0}, {"too_short": "x.mp4", "unreadable": "y|z"}
    )
    assert table.splitlines()[2:] == [r"| unreadable | 3 | y\|z |", r"| too\_short | 1 | x.mp4 |"]
    assert "never" not in table
    assert render.reasons_table({}, empty="no rejections") == "no rejections"


def test_png_markdown_embeds_and_downscales_big_pictures() -> None:
    png = render.histogram_png([1.0, 2.0, 3.0], 3, "h", "x")
    md = render.png_markdown(png, "alt [text]")
    assert md.startswith("![alt (text)](data:image/png;base64,")
    assert _data_uri_image(md).shape[:2] == (200, 400)
    noise = np.random.default_rng(0).integers(0, 256, (600, 800, 3), np.uint8)
    big = render.png_bytes(noise)
    assert len(big) > 1_000_000
    shrunk = render.png_markdown(big, "noise", max_bytes=150_000)
    payload = base64.b64decode(shrunk.split("base64,")[1][:-1])
    assert len(payload) <= 150_000
    assert _decode(payload).shape[0] < 600
    jpeg = render.jpeg_markdown(noise, "noise", max_bytes=60_000)
    assert len(base64.b64decode(jpeg.split("base64,")[1][:-1])) <= 60_000


# -- metadata functions ------------------------------------------------------------------------


def test_source_videos_metadata_counts_and_examples() -> None:
    rows = [
        {"file_name": "ok.mp4", "status": "admitted", "reason": None, "duration_s": 10.0},
        {"file_name": "ok2.mp4", "status": "admitted", "reason": None, "duration_s": 6.5},
        {
            "file_name": "a.m4a",
            "status": "rejected",
            "reason": "no_video_stream",
            "duration_s": None,
            "detail": "audio only",
        },
        {"file_name": "b.txt", "status": "rejected", "reason": "unreadable", "duration_s": None},
        {"file_name": "c.txt", "status": "rejected", "reason": "unreadable", "duration_s": None},
    ]
    md = source_videos_metadata(rows, CurationConfig())
    assert md["files"].value == 5 and md["admitted"].value == 2 and md["rejected"].value == 3
    assert md["admitted_seconds"].value == 16.5
    reasons = md["rejection_reasons"].value
    assert r"| unreadable | 2 | b.txt |" in reasons
    assert r"| no\_video\_stream | 1 | a.m4a (audio only) |" in reasons
    assert _data_uri_image(md["admitted_duration_histogram"].value).shape[:2] == (200, 400)


def test_shot_clips_metadata_survives_missing_samples(tmp_path: Path) -> None:
    rows = ClipRows(
        decode_passes=[
            {
                "video_id": "vmissing",
                "status": "ok",
                "frames": 10,
                "decoded_s": 5.0,
                "decode_fps": 100.0,
                "samples_path": str(tmp_path / "nope.npz"),
            }
        ],
        shots=[
            {
                "video_id": "vmissing",
                "shot_index": 0,
                "start_s": 0.0,
                "end_s": 5.0,
                "clips": 1,
                "reason": None,
                "detail": None,
            }
        ],
        clips=[
            {
                "clip_id": "vmissing-0000000-0005000",
                "video_id": "vmissing",
                "start_s": 0.0,
                "end_s": 5.0,
                "duration_s": 5.0,
                "shot_index": 0,
            }
        ],
    )
    sheet = tmp_path / "sheets" / "s.jpg"
    md = shot_clips_metadata(rows, Layout(tmp_path), "s", sheet)
    assert md["contact_sheet_tiles"].value == 0
    assert md["contact_sheet_missing_frames"].value == 1
    assert "samples missing" in md["contact_sheet_note"].value
    assert (
        _decode(sheet.read_bytes()).shape[:2]
        == SheetLayout.for_tiles(0, SHEET_COLUMNS, SHEET_TILE_WIDTH).size
    )
    assert md["decode_fps_median"].value == 100.0


def test_metadata_for_an_empty_outcome_is_still_valid(tmp_path: Path) -> None:
    rows = [
        {
            "file_name": "x.txt",
            "status": "rejected",
            "reason": "unreadable",
            "duration_s": None,
            "detail": "not | a video",
        }
    ]
    md = source_videos_metadata(rows, CurationConfig())
    assert md["admitted"].value == 0 and md["admitted_seconds"].value == 0.0
    assert r"x.txt (not \| a video)" in md["rejection_reasons"].value
    assert _data_uri_image(md["admitted_duration_histogram"].value).shape[:2] == (200, 400)
    sheet = tmp_path / "empty.jpg"
    md = shot_clips_metadata(ClipRows(), Layout(tmp_path), "s", sheet)
    assert md["clips"].value == 0 and md["clip_seconds"].value == 0.0
    assert md["shot_outcomes"].value == "no shots"
    assert md["decode_problems"].value == "no decode problems"
    assert md["contact_sheet_tiles"].value == 0 and sheet.is_file()


# -- end to end: the assets' materializations --------------------------------------------------

SOURCE_KEYS = {
    "files",
    "admitted",
    "rejected",
    "admitted_seconds",
    "rejected_seconds",
    "rejection_reasons",
    "admission_rules",
    "admitted_duration_histogram",
}
SHOT_KEYS = {
    "videos_decoded",
    "decode_failures",
    "shots",
    "clips",
    "clip_seconds",
    "shot_outcomes",
    "decode_problems",
    "decoded_frames",
    "decoded_seconds",
    "decode_fps_median",
    "decode_fps_min",
    "decode_fps_max",
    "clip_duration_histogram",
    "contact_sheet",
    "contact_sheet_preview",
    "contact_sheet_tiles",
    "contact_sheet_missing_frames",
    "contact_sheet_capped",
    "contact_sheet_note",
}


def test_materialized_assets_carry_the_promised_metadata(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shard = "meta1"
    folder = Layout(home).shard_uploads(shard)
    specs = [
        VideoSpec("three shots.mp4", (Shot(6), Shot(5, "pan_right"), Shot(2.0), Shot(5))),
        VideoSpec("portrait.mp4", (Shot(5),), width=180, height=320),
    ]
    for spec in specs:
        write_video(spec, folder / spec.name)
    (folder / "notes.txt").write_text("not a video\n")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "_READY").write_text("")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("source_shard", [shard])
        result = dg.materialize(
            PER_SHARD_ASSETS,
            instance=instance,
            partition_key=shard,
            resources={"curation": CurationResource(home=str(home))},
        )
        assert result.success
        by_asset = {
            m.asset_key.to_user_string(): m.metadata
            for m in result.get_asset_materialization_events()
            for m in [m.materialization]
        }
    source, shots = by_asset["source_videos"], by_asset["shot_clips"]
    assert SOURCE_KEYS <= set(source)
    assert SHOT_KEYS <= set(shots)
    assert source["files"].value == source["admitted"].value + source["rejected"].value
    assert source["admitted"].value == 2 and source["rejected"].value >= 1
    assert "unreadable" in source["rejection_reasons"].value

    # 6 s + 5 s + 5 s shots give clips; the 2 s shot is too short; portrait 5 s gives one
    clips = shots["clips"].value
    assert clips == 4
    assert "shot\\_too\\_short" in shots["shot_outcomes"].value
    assert shots["contact_sheet_tiles"].value == clips
    assert shots["contact_sheet_missing_frames"].value == 0
    assert shots["decode_fps_median"].value > 0

    sheet_path = Path(shots["contact_sheet"].value)
    assert sheet_path == Layout(home).shard_warehouse(shard) / "contact_sheets" / "shot_clips.jpg"
    sheet = _decode(sheet_path.read_bytes())
    layout = SheetLayout.for_tiles(clips, SHEET_COLUMNS, SHEET_TILE_WIDTH)
    assert sheet.shape[:2] == layout.size
    assert (layout.columns, layout.rows) == (4, 1)
    for i in range(clips):  # every cell's middle holds a real frame, not the letterbox black
        x0, y0, x1, y1 = layout.image_box(i)
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        assert sheet[cy - 10 : cy + 10, cx - 10 : cx + 10].mean() > 20, f"cell {i} is empty"
    assert not list(sheet_path.parent.glob("*.tmp"))
    preview = _data_uri_image(shots["contact_sheet_preview"].value)
    assert preview.shape[1] > 0
    assert _data_uri_image(shots["clip_duration_histogram"].value).shape[:2] == (200, 400)

    # the same rows again, read back from lineage: a capped sheet, and one video's samples gone
    store = store_for(Layout(home))
    rows = ClipRows(
        decode_passes=store.query("SELECT * FROM decode_passes ORDER BY video_id").to_dicts(),
        shots=store.query("SELECT * FROM shots ORDER BY video_id, shot_index").to_dicts(),
        clips=store.query("SELECT * FROM clips ORDER BY clip_id").to_dicts(),
    )
    monkeypatch.setattr(contact_sheets, "SHEET_MAX_TILES", 3)
    capped = shot_clips_metadata(rows, Layout(home), shard, home / "capped.jpg")
    assert capped["contact_sheet_capped"].value is True
    assert capped["contact_sheet_tiles"].value == 3
    assert "capped at 3" in capped["contact_sheet_note"].value
    portrait = [p for p in rows.decode_passes if p["clips"] == 1]
    Path(portrait[0]["samples_path"]).unlink()
    monkeypatch.setattr(contact_sheets, "SHEET_MAX_TILES", 48)
    gone = shot_clips_metadata(rows, Layout(home), shard, home / "gone.jpg")
    assert gone["contact_sheet_tiles"].value == 3
    assert gone["contact_sheet_missing_frames"].value == 1
    assert (
        _decode((home / "gone.jpg").read_bytes()).shape[:2]
        == SheetLayout.for_tiles(3, SHEET_COLUMNS, SHEET_TILE_WIDTH).size
    )
