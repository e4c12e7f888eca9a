"""Near-duplicate groups from duplicate edges: connected components, one representative each.

The edges come from ``DuplicateIndex`` (``dedup.py``); the attributes that rank the copies of a
group (visual failures, resolution, quality, duration) from the lineage
(``steps/near_duplicates.py``).
The rule is the same for video clips and still images (an image's resolution is its short side,
its duration 0); the two media are indexed apart, so a group never mixes them.
"""

from __future__ import annotations

import numpy as np
import polars as pl

VISUAL_FAULTS = ("watermark", "text_overlay", "borders", "sharpness", "exposure")
"""Visual filters whose failures rank a copy below its near-duplicates (``duplicate_groups``)."""


def duplicate_groups(edges: pl.DataFrame, clips: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the duplicate graph, one representative kept per group.

    ``clips`` has ``clip_id, duration_s, short_side_px, quality`` (quality nullable) and
    optionally ``failed_visual`` (list of the ``VISUAL_FAULTS`` filters the clip failed). Only
    clips that appear in at least one edge are returned; a clip absent from the output has no
    duplicate. Representative: the copy with the fewest failing visual filters (a watermarked,
    subtitled, letterboxed, blurred or badly exposed copy loses to a clean one), then the
    highest resolution (short side), then the best quality score, then the longest, then the
    smallest clip_id, so the choice is deterministic; missing values rank last. ``kept_because``
    says, for every other copy, the first of these on which the representative won (null for
    the representative). ``group_id`` is ``"dup-" + the smallest clip_id of the group``:
    readable, and unchanged by new shards unless they bring a smaller id into the group or
    merge groups. Attributes missing for a clip (absent from ``clips``) rank last.
    """
    out_schema = {
        "clip_id": pl.String,
        "group_id": pl.String,
        "is_representative": pl.Boolean,
        "group_size": pl.UInt32,
        "kept_because": pl.String,
    }
    if edges.height == 0:
        return pl.DataFrame(schema=out_schema)
    a = edges.get_column("clip_a").cast(pl.String)
    b = edges.get_column("clip_b").cast(pl.String)
    nodes = pl.concat([a, b]).unique().sort()
    position = pl.DataFrame({"clip_id": nodes, "i": np.arange(len(nodes), dtype=np.int64)})
    ia = pl.DataFrame({"clip_id": a}).join(position, on="clip_id", how="left")["i"].to_numpy()
    ib = pl.DataFrame({"clip_id": b}).join(position, on="clip_id", how="left")["i"].to_numpy()
    root = _components(len(nodes), ia, ib)
    groups = pl.DataFrame({"clip_id": nodes, "root": root}).with_columns(
        group_id=pl.lit("dup-") + pl.col("clip_id").gather(pl.col("root")),
    )
    failed = (
        pl.col("failed_visual").cast(pl.List(pl.String))
        if "failed_visual" in clips.columns
        else pl.lit([], dtype=pl.List(pl.String))
    )
    attrs = clips.select(
        pl.col("clip_id").cast(pl.String),
        failed.alias("failed_visual"),
        pl.col("short_side_px").cast(pl.Float64).fill_nan(None),
        pl.col("quality").cast(pl.Float64).fill_nan(None),
        pl.col("duration_s").cast(pl.Float64).fill_nan(None),
    ).unique("clip_id", keep="first")
    ranked = (
        groups.join(attrs, on="clip_id", how="left")
        .with_columns(faults=pl.col("failed_visual").list.len())
        .sort(
            ["group_id", "faults", "short_side_px", "quality", "duration_s", "clip_id"],
            descending=[False, False, True, True, True, False],
            nulls_last=True,
        )
        .with_columns(
            is_representative=pl.col("group_id").is_first_distinct(),
            group_size=pl.len().over("group_id").cast(pl.UInt32),
        )
    )
    rep = ranked.filter("is_representative").select(
        "group_id", *[pl.col(c).alias(f"rep_{c}") for c in _RANKED]
    )
    reasons = [_why(row) for row in ranked.join(rep, on="group_id").iter_rows(named=True)]
    return (
        ranked.join(rep, on="group_id")
        .with_columns(kept_because=pl.Series(reasons, dtype=pl.String))
        .select(list(out_schema))
        .sort(["group_id", "clip_id"])
    )


_RANKED = ("clip_id", "failed_visual", "faults", "short_side_px", "quality", "duration_s")


def _why(row: dict) -> str | None:
    """Why the representative was kept instead of this copy: the first criterion that differs."""
    if row["is_representative"]:
        return None

    def named(filters) -> str:
        return ", ".join(filters) if filters else "none"

    ours, theirs = row["faults"], row["rep_faults"]
    if ours != theirs and (ours is None or (theirs is not None and theirs < ours)):
        return (
            f"fewer failing visual filters ({theirs}: {named(row['rep_failed_visual'])}; "
            f"this copy {ours if ours is not None else 'unknown'}: "
            f"{named(row['failed_visual'])})"
        )
    for column, text, unit in (
        ("short_side_px", "higher resolution", " px"),
        ("quality", "better quality", ""),
        ("duration_s", "longer", " s"),
    ):
        mine, kept = row[column], row[f"rep_{column}"]
        if mine != kept:
            shown = "missing" if mine is None else f"{mine:g}{unit}"
            return f"{text} ({kept:g}{unit} vs {shown})"
    return "the same on every criterion: smallest clip id"


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Union-find, vectorised: hook larger roots under smaller ones, compress, repeat.

    Returns for every node the smallest node index of its component.
    """
    parent = np.arange(n, dtype=np.int64)
    while True:
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            return parent
        lo = np.minimum(ra[differ], rb[differ])
        hi = np.maximum(ra[differ], rb[differ])
        np.minimum.at(parent, hi, lo)
        while True:  # pointer jumping until every node points at its root
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
