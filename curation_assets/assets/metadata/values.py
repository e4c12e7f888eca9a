"""Building blocks of the assets' Dagster metadata (what the UI shows for each materialization).

Counts are numeric metadata (the UI plots them across materializations); tables and pictures are
markdown with embedded ``data:`` images. Building a picture must never fail the asset: a problem
becomes a note in the metadata instead (``_safe``).

A shard may mix videos and still images: each asset also counts per media kind, as numeric
``<count>_video`` / ``<count>_image`` and a ``funnel`` table with a column per kind.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

import dagster as dg

from curation_assets.assets.metadata import render
from curation_assets.vocabulary import Media

log = logging.getLogger(__name__)

DETAIL_CHARS = 120


def _float(value: float, digits: int = 3) -> dg.FloatMetadataValue:
    """Dagster insists on a real float (``sum([])`` is the int 0)."""
    return dg.MetadataValue.float(round(float(value), digits))


def _safe(key: str, build: Callable[[], dict]) -> dict:
    """Metadata that must not take the asset down with it: on error, a note under ``key``."""
    try:
        return build()
    except Exception as exc:  # a picture is never worth a failed materialization
        log.warning("metadata %s failed", key, exc_info=True)
        return {key: dg.MetadataValue.text(f"could not build: {type(exc).__name__}: {exc}")}


def _short(text: object, limit: int = DETAIL_CHARS) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reasons(rows: list[dict], example: Callable[[dict], str], empty: str) -> str:
    """Reason counts with the first row's example (and its detail) per reason."""
    counts = Counter(r["reason"] for r in rows if r.get("reason"))
    examples: dict[str, str] = {}
    for r in rows:
        reason = r.get("reason")
        if reason and reason not in examples:
            detail = _short(r.get("detail"))
            examples[reason] = example(r) + (f" ({detail})" if detail else "")
    return render.reasons_table(counts, examples, empty=empty)


# -- per media kind ----------------------------------------------------------------------------

MEDIA_KINDS = tuple(m.value for m in Media)  # video, image: always a column each
UNOPENED = "not opened"  # a file refused before it was opened: no media kind known


def _media(row: dict, default: str | None = Media.VIDEO.value) -> str | None:
    return row.get("media") or default


def _media_columns(counts: dict[str, Counter]) -> list[str]:
    """video, image, then any other kind present (e.g. files never opened)."""
    extra = sorted({k for c in counts.values() for k in c if k not in MEDIA_KINDS})
    return [*MEDIA_KINDS, *extra]


def _media_table(first: str, counts: dict[str, Counter], empty: str = "nothing") -> str:
    """One row per key of ``counts`` (in order), one column per media kind."""
    if not counts:
        return empty
    columns = _media_columns(counts)
    rows = [{first: key, **{m: c.get(m, 0) for m in columns}} for key, c in counts.items()]
    return render.markdown_table(rows, [first, *columns])


def _media_ints(prefix: str, counts: Counter) -> dict:
    """``<prefix>_video`` and ``<prefix>_image`` (0 when none), numeric for the UI's plots."""
    return {f"{prefix}_{m}": dg.MetadataValue.int(int(counts.get(m, 0))) for m in MEDIA_KINDS}


def _histogram(key: str, values: list[float], title: str, xlabel: str) -> dict:
    def build() -> dict:
        bins = max(5, min(24, len(values)))
        png = render.histogram_png(values, bins=bins, title=title, xlabel=xlabel)
        return {key: dg.MetadataValue.md(render.png_markdown(png, title))}

    return _safe(key, build)
