"""Dagster metadata of ``near_duplicates``: groups, and a contact sheet of them."""

from __future__ import annotations

import dagster as dg

from curation_assets.assets.metadata import render
from curation_assets.assets.metadata.contact_sheets import SHEET_TILE_WIDTH
from curation_assets.assets.metadata.values import _safe
from curation_assets.config import Layout


def near_duplicates_metadata(result, layout: Layout) -> dict:
    groups = result.groups
    dup_groups = groups["group_id"].n_unique() if groups is not None and len(groups) else 0
    dropped = sum(1 for d in result.decisions if not d["passed"])
    metadata = {
        "clips_indexed": dg.MetadataValue.int(result.clips_indexed),
        "duplicate_groups": dg.MetadataValue.int(dup_groups),
        "clips_dropped_as_duplicates": dg.MetadataValue.int(dropped),
        "images_frame_of_videos": dg.MetadataValue.int(getattr(result, "frames_of_videos", 0)),
        "embedding_search": dg.MetadataValue.text(result.embedding_search),
        "shards": dg.MetadataValue.md(
            render.markdown_table(
                result.reports,
                ["shard", "media", "status", "new_clips", "new_vs_old", "new_vs_new", "new_edges"],
            )
        ),
        **{
            f"counter_{k}": dg.MetadataValue.int(int(v)) for k, v in sorted(result.counters.items())
        },
    }

    def sheet() -> dict:
        tiles = []
        if groups is None or not len(groups):
            return {}
        shard_of = {d["clip_id"]: d["shard"] for d in result.decisions}
        for row in (
            groups.sort(["group_id", "is_representative"], descending=[False, True])
            .head(24)
            .iter_rows(named=True)
        ):
            shard = shard_of.get(row["clip_id"], "")
            path = layout.shard_warehouse(shard) / "keyframes" / f"{row['clip_id']}.jpg"
            frame = render.read_rgb(path)
            if frame is not None:
                mark = "KEEP" if row["is_representative"] else "drop"
                tiles.append((frame, f"{row['group_id'][:22]}\n{mark} {row['clip_id'][:18]}"))
        image = render.contact_sheet(tiles, columns=4, tile_width=SHEET_TILE_WIDTH)
        return {
            "duplicate_groups_preview": dg.MetadataValue.md(
                render.jpeg_markdown(image, "duplicate groups")
            )
        }

    metadata |= _safe("duplicate_groups_preview", sheet)
    return metadata
