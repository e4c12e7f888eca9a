"""UI metadata of subset stages: funnel per media kind (table + chart), rejections by reason,
targets, buckets, score distributions."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

import dagster as dg
import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curation_assets.assets.metadata import render
from curation_assets.selection.stages import StageSelection
from curation_assets.signals import catalogue
from curation_assets.vocabulary import Media

MEDIA_KINDS = tuple(m.value for m in Media)  # the funnel's columns: video, image


def _table(headers: list[str], rows: list[list]) -> str:
    return render.markdown_table([dict(zip(headers, row, strict=True)) for row in rows], headers)


def _media_funnel_md(selection: StageSelection, parent: str | None) -> str:
    """The stage's funnel with a column per media kind: first the whole pool (both kinds), then
    each step over the stage's own kind (the other kind is left out by the media step)."""
    media = selection.media
    start = "all clips" if parent is None else f"all members of {parent}"
    rows = [
        [
            f"{start} (both media)",
            *[f"{selection.pool_by_media.get(k, 0):,}" for k in MEDIA_KINDS],
            "",
            "",
            "",
        ]
    ]
    for r in selection.funnel.iter_rows(named=True):
        counts = [f"{r['clips']:,}" if k == media else "0" for k in MEDIA_KINDS]
        rows.append(
            [
                r["step"] if rows[1:] else f"{r['step']} ({media} only)",
                *counts,
                f"{r['hours']:.2f}" if media != Media.IMAGE else "-",
                f"{100 * r['share_of_pool']:.1f}%",
                f"{100 * r['share_of_previous']:.1f}%",
            ]
        )
    return _table(["step", *MEDIA_KINDS, "hours", "% of pool", "% of previous step"], rows)


def rejections_by_reason(selection: StageSelection) -> pl.DataFrame:
    """Clips of the stage's media not selected, by the reason of the first step that dropped
    each (in step order, as the funnel counts them; e.g. ``cap`` for ``max_clips``):
    ``reason``, ``clips``."""
    d = selection.decisions
    if not d.height:
        return pl.DataFrame(schema={"reason": pl.String, "clips": pl.Int64})
    first = (
        d.filter(pl.col("passed").eq(False))
        .group_by("clip_id", maintain_order=True)
        .agg(pl.col("reason").first().cast(pl.String).alias("reason"))
    )
    return (
        first.group_by("reason")
        .agg(pl.len().cast(pl.Int64).alias("clips"))
        .sort(["clips", "reason"], descending=[True, False])
    )


def _rejections_md(selection: StageSelection, reasons: pl.DataFrame) -> str:
    if not reasons.height:
        return f"no {selection.media} clip rejected"
    rows = [
        [r["reason"], *[f"{r['clips']:,}" if k == selection.media else "0" for k in MEDIA_KINDS]]
        for r in reasons.iter_rows(named=True)
    ]
    return _table(["reason", *MEDIA_KINDS], rows)


def media_counts(selection: StageSelection, reasons: pl.DataFrame) -> dict:
    """Numeric per media kind (plotted across materializations): ``pool_clips_<media>`` (the
    pool before the media step), ``members_<media>``, ``rejected_<media>``."""
    meta = {}
    rejected = int(reasons["clips"].sum() or 0) if reasons.height else 0
    for kind in MEDIA_KINDS:
        mine = kind == selection.media
        meta[f"pool_clips_{kind}"] = dg.MetadataValue.int(selection.pool_by_media.get(kind, 0))
        meta[f"members_{kind}"] = dg.MetadataValue.int(selection.members.height if mine else 0)
        meta[f"rejected_{kind}"] = dg.MetadataValue.int(rejected if mine else 0)
    return meta


def funnel_png(funnel: pl.DataFrame, title: str) -> bytes:
    height_in = 0.28 * funnel.height + 0.9
    fig = Figure(figsize=(6.0, height_in), dpi=80)
    FigureCanvasAgg(fig)
    steps = funnel["step"].to_list()[::-1]
    # margins from the longest step name (7 pt text, ~0.55 em a character) instead of
    # tight_layout, which draws the whole figure once more to measure it
    label_in = 0.2 + max((len(str(s)) for s in steps), default=0) * 7 * 0.55 / 72
    fig.subplots_adjust(
        left=min(0.6, label_in / 6.0), right=0.97, bottom=0.5 / height_in, top=1 - 0.3 / height_in
    )
    ax = fig.add_subplot()
    shares = (funnel["share_of_pool"] * 100).to_list()[::-1]
    ax.barh(steps, shares, color="#4c78a8")
    for y, share in enumerate(shares):
        ax.text(min(share + 1, 92), y, f"{share:.1f}%", va="center", fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the stage's pool remaining", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def distributions_png(
    pool: pl.DataFrame, members: pl.DataFrame, signal_modules: Sequence[str] = ()
) -> bytes | None:
    """Selected vs not selected, per signal declared ``plot_in_subsets`` present in the pool."""
    plotted = catalogue.plotted_in_subsets(signal_modules)
    signals = [s for s in plotted if s in pool.columns and pool[s].drop_nulls().len()]
    if not signals:
        return None
    chosen = pool["clip_id"].is_in(members["clip_id"].implode())
    width_in = 3.0 * len(signals)
    fig = Figure(figsize=(width_in, 2.4), dpi=80)
    FigureCanvasAgg(fig)
    # fixed margins instead of tight_layout (which draws the figure once more to measure it):
    # ~0.45 in for the count labels, 0.3 in between panels
    fig.subplots_adjust(
        left=0.45 / width_in, right=1 - 0.1 / width_in, bottom=0.13, top=0.9,
        wspace=0.3 / (3.0 - 0.55),
    )  # fmt: skip
    for i, signal in enumerate(signals, start=1):
        ax = fig.add_subplot(1, len(signals), i)
        values = pool[signal].cast(pl.Float64)
        finite = values.drop_nulls().filter(values.drop_nulls().is_finite())
        lo, hi = (float(finite.min()), float(finite.max())) if finite.len() else (0.0, 1.0)
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 21)
        for mask, label, colour in ((chosen, "selected", "#4c78a8"), (~chosen, "not", "#e45756")):
            data = values.filter(mask).drop_nulls().to_numpy()
            data = data[np.isfinite(data)]
            if data.size:  # one filled outline per histogram, not a patch per bin
                ax.hist(
                    data, bins=bins, alpha=0.6, label=f"{label} ({data.size})", color=colour,
                    histtype="stepfilled",
                )  # fmt: skip
        ax.set_title(signal, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def subset_metadata(
    selection: StageSelection,
    pool: pl.DataFrame | None,
    parent: str | None = None,
    signal_modules: Sequence[str] = (),
) -> dict:
    members = selection.members
    reasons = rejections_by_reason(selection)
    if pool is not None and "media" in pool.columns:  # the stage's own kind only
        pool = pool.filter(pl.col("media").fill_null(Media.VIDEO.value) == selection.media)
    meta = {
        "dagster/row_count": dg.MetadataValue.int(members.height),
        "pool_clips": dg.MetadataValue.int(selection.pool_clips),
        "members": dg.MetadataValue.int(members.height),
        "hours": dg.MetadataValue.float(round(float(members["duration_s"].sum() or 0) / 3600, 4)),
        "share_of_pool": dg.MetadataValue.float(
            round(members.height / selection.pool_clips, 4) if selection.pool_clips else 0.0
        ),
        "media": dg.MetadataValue.text(selection.media),
        "funnel": dg.MetadataValue.md(_media_funnel_md(selection, parent)),
        "rejected_by_reason": dg.MetadataValue.md(_rejections_md(selection, reasons)),
        **media_counts(selection, reasons),
        "notes": dg.MetadataValue.md(
            "\n".join(f"- {n}" for n in selection.notes) if selection.notes else "none"
        ),
        "thresholds": dg.MetadataValue.json(selection.thresholds),
    }
    try:
        meta["funnel_chart"] = dg.MetadataValue.md(
            render.png_markdown(funnel_png(selection.funnel, selection.name), "funnel")
        )
    except Exception as exc:  # a picture never fails the asset
        meta["funnel_chart"] = dg.MetadataValue.text(f"not drawn: {exc}")
    if selection.allocation is not None:
        rows = [
            [
                o.kind,
                o.label,
                o.target,
                f"{100 * o.achieved:.1f}%",
                f"{o.selected:,} / {o.available:,}",
                "yes" if o.met else "NO",
                o.note,
            ]
            for o in selection.allocation.outcomes
        ]
        meta["composition"] = dg.MetadataValue.md(
            _table(
                ["kind", "label", "target", "achieved", "selected / available", "met", "note"],
                rows,
            )
            if rows
            else "no targets (caps only)"
        )
    buckets = (
        members.group_by("duration_bucket", "aspect_bucket")
        .len()
        .sort("duration_bucket", "aspect_bucket")
        if members.height
        else None
    )
    if buckets is not None and selection.media == Media.IMAGE:  # an image: no duration bucket
        meta["buckets"] = dg.MetadataValue.md(
            _table(
                ["aspect", "images"],
                [[r["aspect_bucket"], str(r["len"])] for r in buckets.iter_rows(named=True)],
            )
        )
    elif buckets is not None:
        aspects = sorted(buckets["aspect_bucket"].unique().to_list())
        table = buckets.pivot("aspect_bucket", index="duration_bucket", values="len").fill_null(0)
        meta["buckets"] = dg.MetadataValue.md(
            _table(
                ["duration", *aspects],
                [
                    [r["duration_bucket"], *[str(r.get(a, 0)) for a in aspects]]
                    for r in table.iter_rows(named=True)
                ],
            )
        )
    if pool is not None:
        try:
            png = distributions_png(pool, members, signal_modules)
            if png:
                meta["score_distributions"] = dg.MetadataValue.md(
                    render.png_markdown(png, "selected vs not selected")
                )
        except Exception as exc:
            meta["score_distributions"] = dg.MetadataValue.text(f"not drawn: {exc}")
    return meta
