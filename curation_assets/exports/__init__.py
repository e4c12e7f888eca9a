"""Training exports of a selected subset: manifest (Parquet/JSONL) and WebDataset shards.

    report = export_subset(members, layout.exports / "pretrain_720p",
                           ExportSpec("pretrain_720p", short_side=720, fps=24))
    report.summary()            # counts, failures by reason, shards, bytes, per bucket
    verify_export(out_dir)      # shards still match the manifest (add decode=True to decode)

Members may mix video clips (``<key>.mp4``) and still images (``media = image``, ``<key>.jpg``:
the source JPEG's own bytes when nothing changes, else re-encoded; ``images``). Re-running with
the same members and spec touches nothing; see ``webdataset`` for the layout, the manifest
columns and how resuming works.
"""

from curation_assets.exports.manifest import (
    FAILED_JSONL,
    MANIFEST_JSONL,
    MANIFEST_PARQUET,
    read_manifest,
)
from curation_assets.exports.plan import sample_key
from curation_assets.exports.spec import (
    DEFAULT_ASPECT_RATIOS,
    ClipFailure,
    ExportReport,
    ExportSpec,
)
from curation_assets.exports.verify import ExportCheck, verify_export
from curation_assets.exports.webdataset import export_subset

__all__ = [
    "DEFAULT_ASPECT_RATIOS",
    "FAILED_JSONL",
    "MANIFEST_JSONL",
    "MANIFEST_PARQUET",
    "ClipFailure",
    "ExportCheck",
    "ExportReport",
    "ExportSpec",
    "export_subset",
    "read_manifest",
    "sample_key",
    "verify_export",
]
