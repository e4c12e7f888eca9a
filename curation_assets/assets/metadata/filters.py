"""Dagster metadata of the filter assets, per shard (``visual_filter``, ``motion_filter``,
``content_filter``): pass/fail per gate and per media kind, score histograms, labels, and contact
sheets of the clearest rejections and the borderline clips."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import dagster as dg

from curation_assets.assets.metadata import render
from curation_assets.assets.metadata.contact_sheets import _frames_sheet
from curation_assets.assets.metadata.values import (
    _histogram,
    _media,
    _media_ints,
    _media_table,
    _safe,
)
from curation_assets.config import Layout
from curation_assets.signals import catalogue
from curation_assets.signals.base import Signal
from curation_assets.vocabulary import NOT_APPLICABLE_TO_IMAGES, Media

FILTER_SHEET_TILES = 12


def _filter_table(margins: list[dict]) -> str:
    by_filter: dict[str, Counter] = {}
    for row in margins:
        outcome = {True: "passed", False: "failed", None: "not scored"}[row["passed"]]
        by_filter.setdefault(row["filter"], Counter())[outcome] += 1
    rows = [
        {
            "filter": name,
            "passed": c["passed"],
            "failed": c["failed"],
            "not scored": c["not scored"],
        }
        for name, c in by_filter.items()
    ]
    return render.markdown_table(rows, ["filter", "passed", "failed", "not scored"])


def _filter_media(rows, inputs) -> dict:
    """Clips in, passing and failing per media kind, and every gate's outcomes per media kind
    (an image's motion gates: not applicable, never passed)."""
    kind_of = {c["clip_id"]: _media(c) for c in inputs.clips}
    failed = {r["clip_id"] for r in rows.decisions if r["passed"] is False}
    clips = Counter(kind_of.values())
    failing = Counter(kind_of.get(c, Media.VIDEO.value) for c in failed)
    passing = clips - failing
    outcomes: dict[tuple[str, str], Counter] = {}
    for r in rows.decisions:
        if r["passed"] is not None:
            outcome = "passed" if r["passed"] else "failed"
        elif r.get("reason") == NOT_APPLICABLE_TO_IMAGES:
            outcome = "not applicable"
        else:
            outcome = "not scored"
        key = (r["filter"], kind_of.get(r["clip_id"], Media.VIDEO.value))
        outcomes.setdefault(key, Counter())[outcome] += 1
    columns = ["passed", "failed", "not scored", "not applicable"]
    table = [
        {"filter": f, "media": m, **{c: n.get(c, 0) for c in columns}}
        for (f, m), n in sorted(outcomes.items(), key=lambda kv: (kv[0][1] != "video", kv[0]))
    ]
    return {
        **_media_ints("clips", clips),
        **_media_ints("clips_passing", passing),
        **_media_ints("clips_failing", failing),
        "funnel": dg.MetadataValue.md(
            _media_table("step", {"clips": clips, "passing": passing, "failing": failing})
        ),
        "filters_by_media": dg.MetadataValue.md(
            render.markdown_table(table, ["filter", "media", *columns]) if table else "no gates"
        ),
    }


def _signals_table(by_signal: dict[str, list[float]], declared: dict[str, Signal]) -> str:
    """What each measured signal means (its declaration) beside what this shard measured."""
    rows = []
    for name, values in sorted(by_signal.items()):
        signal = declared.get(name)
        finite = sorted(v for v in values if v is not None and math.isfinite(v))
        rows.append(
            {
                "signal": name,
                "meaning": signal.description if signal else "(not declared)",
                "unit": signal.unit if signal else "",
                "better": (signal.better or "") if signal else "",
                "clips": len(values),
                "median": f"{finite[len(finite) // 2]:.4g}" if finite else "",
            }
        )
    columns = ["signal", "meaning", "unit", "better", "clips", "median"]
    return render.markdown_table(rows, columns)


def filter_metadata(
    family: str, rows, inputs, layout: Layout, shard: str, signal_modules: Sequence[str] = ()
) -> dict:
    """Counts, a pass/fail table per filter, a table and a histogram per signal (as declared
    beside its analyzer), and two contact sheets: the clips each filter rejects most clearly,
    and the borderline ones (closest to a limit). Counts and outcomes also per media kind
    (``_filter_media``)."""
    failed = {r["clip_id"] for r in rows.decisions if r["passed"] is False}
    metadata = {
        "clips": dg.MetadataValue.int(rows.clips),
        "clips_passing": dg.MetadataValue.int(rows.clips - len(failed)),
        "clips_failing": dg.MetadataValue.int(len(failed)),
        "score_rows": dg.MetadataValue.int(len(rows.scores)),
        "filters": dg.MetadataValue.md(_filter_table(rows.margins)),
        **_filter_media(rows, inputs),
    }
    by_signal: dict[str, list[float]] = {}
    for row in rows.scores:
        by_signal.setdefault(row["signal"], []).append(row["value"])
    declared = catalogue.signals(signal_modules)
    if by_signal:
        metadata["signals"] = dg.MetadataValue.md(_signals_table(by_signal, declared))
    for signal, values in sorted(by_signal.items()):
        label = declared[signal].label if signal in declared else signal
        metadata |= _histogram(f"histogram_{signal}", values, signal, label)
    labels = Counter((r["kind"], r["label"]) for r in rows.clip_labels)
    if labels:
        label_rows = [
            {"kind": k, "label": lab, "clips": n} for (k, lab), n in sorted(labels.items())
        ]
        metadata["labels"] = dg.MetadataValue.md(
            render.markdown_table(label_rows, ["kind", "label", "clips"])
        )
    scored = [m for m in rows.margins if m["margin"] is not None]
    clearest, seen = [], set()
    for row in sorted((m for m in scored if m["passed"] is False), key=lambda m: m["margin"]):
        if row["clip_id"] not in seen:  # one tile per clip, its most decisive failure
            clearest.append(row)
            seen.add(row["clip_id"])
    borderline = sorted(scored, key=lambda m: abs(m["margin"]))[:FILTER_SHEET_TILES]
    keyframes = layout.shard_warehouse(shard) / "keyframes" if family == "visual_filter" else None
    folder = layout.shard_warehouse(shard) / "contact_sheets"
    for title, picks in (("rejected", clearest[:FILTER_SHEET_TILES]), ("borderline", borderline)):
        metadata |= _safe(
            f"{title}_note",
            lambda picks=picks, title=title: _frames_sheet(
                picks, inputs.samples_paths, keyframes, folder / f"{family}_{title}.jpg", title
            ),
        )
    return metadata
