"""Model weights as a first-class path: which models curation.yaml needs, pulling them pinned,
verifying them, loading them offline, and a doctor for the machine.

- ``catalog``: the models of a configuration per stage (hub id, revision, files), settings only;
- ``store``: the local cache and ``lock.json`` (commit, sizes, SHA-256), status, resolve, verify;
- ``pull``: fetching with ``huggingface_hub`` at a pinned commit, checked against the hub;
- ``runtime``: what the loaders call (hub id -> local files, offline, or ``ModelNotAvailable``);
- ``report``: the inventory (CLI, resource, UI metadata) and the check model stages run first;
- ``doctor``: signals real vs offline, device, decode acceleration, installed extras.

No Dagster here; ``huggingface_hub``, torch, PyAV and open_clip are imported only where needed.
"""

from curation_assets.models.catalog import ModelNeed, ModelSource, catalog
from curation_assets.models.errors import ModelNotAvailable, PullError
from curation_assets.models.report import inventory, require, store_for
from curation_assets.models.store import ModelStore

__all__ = [
    "ModelNeed",
    "ModelNotAvailable",
    "ModelSource",
    "ModelStore",
    "PullError",
    "catalog",
    "inventory",
    "require",
    "store_for",
]
