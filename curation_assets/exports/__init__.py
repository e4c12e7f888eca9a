"""Training exports of a selected subset: manifest (Parquet/JSONL) and WebDataset shards."""

from curation_assets.exports.spec import (
    DEFAULT_ASPECT_RATIOS,
    ClipFailure,
    ExportReport,
    ExportSpec,
)
from curation_assets.exports.verify import ExportCheck, verify_export
from curation_assets.exports.webdataset import (
    FAILED_JSONL,
    MANIFEST_JSONL,
    MANIFEST_PARQUET,
    export_subset,
    read_manifest,
    sample_key,
)

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
