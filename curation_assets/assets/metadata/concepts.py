"""Dagster metadata of ``concepts``: cluster sizes."""

from __future__ import annotations

import dagster as dg

from curation_assets.assets.metadata.values import _histogram


def concepts_metadata(result) -> dict:
    metadata = {
        "clips": dg.MetadataValue.int(result.clips),
        "k": dg.MetadataValue.int(result.k),
        "embedding": dg.MetadataValue.text(result.embedding),
        "non_empty_clusters": dg.MetadataValue.int(sum(1 for s in result.sizes if s)),
        "largest_cluster": dg.MetadataValue.int(max(result.sizes, default=0)),
    }
    metadata |= _histogram(
        "cluster_size_histogram", [float(s) for s in result.sizes if s], "cluster sizes", "clips"
    )
    return metadata
