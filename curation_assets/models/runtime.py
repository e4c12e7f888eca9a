"""What the model loaders call: hub ids to local files in the cache, offline, or a clear error.

Runs never fetch weights. A model named by hub id loads from the files ``curate models pull``
put in the cache at the commit the lock pins; a local path is passed through unchanged. When a
hub model is not there, ``ModelNotAvailable`` says so and names ``curate models pull``, before
any library is asked to load it (no stack trace deep in transformers, no silently random
open_clip weights).

Which cache: the one ``activate`` was given (the analyzer registry and the model stages pass
the settings they run with: ``load_config`` makes their folders absolute, so worker processes
find the same cache), else the one ``$CURATION_HOME``'s curation.yaml names.
"""

from __future__ import annotations

import threading
from pathlib import Path

from curation_assets.config import curation_home, load_config
from curation_assets.config.sections import ModelsConfig
from curation_assets.models.catalog import (
    HUB_FILE_PREFIX,
    hub_file_source,
    looks_local,
    open_clip_source,
    transformers_source,
)
from curation_assets.models.store import ModelStore

_lock = threading.Lock()
_active: ModelStore | None = None
_settings: ModelsConfig | None = None


def activate(settings: ModelsConfig) -> ModelStore:
    """Use these (resolved) settings' cache from now on in this process."""
    global _active, _settings
    with _lock:
        if settings.dir is None or settings.hub_cache is None:
            settings = settings.resolved(curation_home())
        if _active is None or settings != _settings:
            _active, _settings = ModelStore(settings), settings
        return _active


def active() -> tuple[ModelStore, ModelsConfig]:
    with _lock:
        if _active is not None and _settings is not None:
            return _active, _settings
    activate(load_config().models)
    assert _active is not None and _settings is not None
    return _active, _settings


def open_clip_args(model_name: str, pretrained: str | None) -> dict:
    """Keyword arguments for ``open_clip.create_model_and_transforms`` that load hub weights
    from the cache: ``hf-hub:org/name`` becomes ``local-dir:<snapshot>``; a built-in
    architecture's pretrained tag becomes its pulled weights file, with the tag's preprocessing
    (mean, std, interpolation, resize mode) passed on as open_clip applies it for the tag.
    Paths and anything that is not a hub model come back unchanged."""
    if open_clip_source(model_name, pretrained).kind != "hub":
        return {"model_name": model_name, "pretrained": pretrained}
    store, settings = active()
    source = open_clip_source(model_name, pretrained, dict(settings.revisions))
    folder, files = store.resolve(source, f"open_clip {model_name} / {pretrained}")
    if source.loader == "open_clip_hub":
        return {"model_name": f"local-dir:{folder}", "require_pretrained": True}
    import open_clip

    tag = open_clip.get_pretrained_cfg(model_name.replace("/", "-"), str(pretrained))
    preprocess = {
        f"image_{key}": tag[key]
        for key in ("mean", "std", "interpolation", "resize_mode")
        if tag.get(key) is not None
    }
    return {
        "model_name": model_name,
        "pretrained": str(files[0]),
        "require_pretrained": True,
        **preprocess,
    }


def open_clip_tokenizer_name(model_name: str) -> str:
    """``hf-hub:org/name`` -> ``local-dir:<snapshot>`` (its config names the tokenizer)."""
    if not model_name.startswith("hf-hub:"):
        return model_name
    store, settings = active()
    source = open_clip_source(model_name, None, dict(settings.revisions))
    folder, _ = store.resolve(source, f"open_clip tokenizer {model_name}")
    return f"local-dir:{folder}"


def pulled_folder(model: str) -> Path | None:
    """The snapshot folder of a transformers model named by hub id; None for a local path."""
    if looks_local(model):
        return None
    store, settings = active()
    folder, _ = store.resolve(
        transformers_source(model, dict(settings.revisions)), f"transformers {model}"
    )
    return folder


def head_file(path: str) -> str:
    """A local file for ``hf://org/name/file`` (pulled), else ``path`` unchanged."""
    if not path.startswith(HUB_FILE_PREFIX):
        return path
    store, settings = active()
    _, files = store.resolve(hub_file_source(path, dict(settings.revisions)), path)
    return str(files[0])
