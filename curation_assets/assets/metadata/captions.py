"""Dagster metadata of the ``captions`` asset, per shard: throughput, QC failures, caption
lengths and sample captions beside their keyframes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg

from curation_assets.assets.metadata import render
from curation_assets.assets.metadata.values import _float, _histogram, _safe


def captions_metadata(rows, keyframes: Path) -> dict:
    failed = [d for d in rows.decisions if not d["passed"]]
    words = [float(c["words"]) for c in rows.captions]
    tokens_per_s = rows.generated_tokens / rows.elapsed_s if rows.elapsed_s else 0.0
    metadata = {
        "eligible_clips": dg.MetadataValue.int(rows.eligible),
        "captioned_now": dg.MetadataValue.int(rows.captioned_now),
        "reused_from_journal": dg.MetadataValue.int(rows.reused),
        "retried": dg.MetadataValue.int(rows.retried),
        "qc_failed": dg.MetadataValue.int(len(failed)),
        "generated_tokens": dg.MetadataValue.int(rows.generated_tokens),
        "clips_per_s": _float(rows.captioned_now / rows.elapsed_s if rows.elapsed_s else 0.0),
        "tokens_per_s": _float(tokens_per_s),
        "qc_reasons": dg.MetadataValue.md(
            render.reasons_table(
                Counter(d["reason"] for d in failed), {}, what="clips", empty="all passed"
            )
        ),
    }
    metadata |= _histogram("caption_words_histogram", words, "caption length", "words")

    def samples() -> dict:
        lines = ["| frame | caption |", "| --- | --- |"]
        for row in rows.samples:
            frame = render.read_rgb(keyframes / f"{row['clip_id']}.jpg")
            thumb = ""
            if frame is not None:
                small = render.letterbox(frame, 160, 90)
                thumb = render.jpeg_markdown(small, row["clip_id"], max_bytes=12_000)
            lines.append(f"| {thumb} | {render.md_escape(row['caption'])} |")
        return {"sample_captions": dg.MetadataValue.md("\n".join(lines))}

    metadata |= _safe("sample_captions", samples)
    return metadata
