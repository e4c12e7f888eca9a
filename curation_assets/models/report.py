"""The model inventory of a configuration (for ``curate models``, the resource and the UI), and
the check a model stage runs before it starts."""

from __future__ import annotations

import importlib.util

from curation_assets.config import CurationConfig
from curation_assets.models.catalog import catalog
from curation_assets.models.errors import (
    PULL_HINT,
    VLLM_INSTALL,
    BackendNotInstalled,
    ModelNotAvailable,
)
from curation_assets.models.runtime import activate
from curation_assets.models.store import UNKNOWN, ModelStore

OFFLINE_PROFILE = (
    "no models needed: the offline profile runs with what ships in packages "
    "(technical_quality, thumbnail_embedding, blazepose_people, the signals captioner; "
    "unsafe not scored)"
)


def store_for(cfg: CurationConfig, home=None) -> ModelStore:
    """The cache of ``cfg`` (its ``models`` folders resolved against ``home`` if not yet)."""
    from curation_assets.config import curation_home

    settings = cfg.models
    if settings.dir is None or settings.hub_cache is None:
        settings = settings.resolved(home or curation_home())
    return ModelStore(settings)


def inventory(cfg: CurationConfig, store: ModelStore | None = None) -> dict:
    """Every model the settings need, per stage, with where it is and whether it is present."""
    store = store or store_for(cfg)
    cat = catalog(cfg)
    rows = []
    for need in cat.needs:
        status = store.status(need.source)
        row = need.to_dict()
        row.update(status.to_dict())
        if status.state in ("not pulled", "stale revision"):
            row["licence"] = UNKNOWN
        rows.append(row)
    return {
        "models_dir": str(store.dir),
        "hub_cache": str(store.hub_cache),
        "lock": str(store.lock_path),
        "offline_profile": not cat.needs,
        "summary": OFFLINE_PROFILE if not cat.needs else _summary(rows),
        "notes": cat.notes,
        "models": rows,
    }


def _summary(rows: list[dict]) -> str:
    present = sum(1 for r in rows if r["present"])
    text = f"{present} of {len(rows)} model(s) present"
    if present < len(rows):
        text += f"; missing ones stop their stage: {PULL_HINT}"
    return text


def require(cfg: CurationConfig, stage: str, store: ModelStore | None = None) -> list[dict]:
    """The inventory rows of ``stage``; raises ``ModelNotAvailable`` when one is not usable.

    Model stages call this first: a missing model stops the stage with this message, before
    any clip is touched (inside the per-clip loop it would only become one error per clip).
    Also makes the stage's processes load from this cache.
    """
    _require_backend(cfg, stage)
    store = store or store_for(cfg)
    activate(store.settings)
    rows = [r for r in inventory(cfg, store)["models"] if r["stage"] == stage]
    missing = [r for r in rows if not r["present"]]
    if missing:
        lines = [
            f"- {r['setting']} = {r['configured']}: {r['state']}"
            + (f" ({r['detail']})" if r["detail"] else "")
            for r in missing
        ]
        fixes = []
        if any(r["kind"] == "hub" for r in missing):
            fixes.append(f"{PULL_HINT} (runs never download weights)")
        if any(r["kind"] == "local" for r in missing):
            fixes.append("correct the local path in curation.yaml")
        if any(r["kind"] == "url" for r in missing):
            fixes.append("name the weights by hf-hub: id or local file (a URL is not pinned)")
        raise ModelNotAvailable(
            f"{stage} needs {len(missing)} model(s) that are not in the local cache "
            f"({store.hub_cache}, lock {store.lock_path}):\n"
            + "\n".join(lines)
            + f"\nTo fix: {'; '.join(fixes)}. To use the offline scorers instead, remove these "
            "settings from curation.yaml."
        )
    return rows


def _require_backend(cfg: CurationConfig, stage: str) -> None:
    c = cfg.captioning
    if stage != "captions" or c.captioner != "vlm" or c.backend != "vllm":
        return
    if importlib.util.find_spec("vllm") is None:
        raise BackendNotInstalled(
            f"captions: captioning.backend is vllm but vLLM is not installed. To fix: "
            f"{VLLM_INSTALL}, or set captioning.backend: transformers."
        )


def size_text(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def render(inv: dict, config_path: str | None = None) -> str:
    """The inventory as a terminal table with the files and cache paths under each model."""
    out = []
    if config_path:
        out.append(f"config: {config_path}")
    out.append(f"cache: {inv['hub_cache']}   lock: {inv['lock']}")
    for note in inv["notes"]:
        out.append(f"note: {note}")
    if not inv["models"]:
        out.append(inv["summary"])
        return "\n".join(out)
    header = f"{'stage':<15}{'model':<44}{'revision':<22}{'size':>10}  {'licence':<22}{'status'}"
    out += ["", header, "-" * len(header)]
    for r in inv["models"]:
        label = r["repo_id"] or r["path"] or ""
        revision = r["revision"] or "-"
        if r["commit"]:
            revision = f"{revision}@{r['commit'][:10]}"
        status = "present" if r["present"] else r["state"].upper()
        out.append(
            f"{r['stage']:<15}{_cut(label, 43):<44}{_cut(revision, 21):<22}"
            f"{size_text(r['size_bytes']):>10}  {_cut(str(r['licence']), 21):<22}{status}"
        )
        out.append(f"{'':<15}for {r['role']} ({r['setting']}); offline: {r['offline_fallback']}")
        files = ", ".join(f["name"] for f in r["files"]) or r["files_needed"]
        out.append(f"{'':<15}files: {files}")
        if r["path"]:
            out.append(f"{'':<15}at: {r['path']}")
        if r["detail"]:
            out.append(f"{'':<15}{r['detail']}")
    out += ["", inv["summary"]]
    return "\n".join(out)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def markdown(rows: list[dict]) -> str:
    """A stage's models as a markdown table (asset metadata in the UI)."""
    if not rows:
        return "No configured model: this stage computes its model signals with offline scorers."
    lines = [
        "| model | for | revision | commit | size | licence | present |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['repo_id'] or r['path']} | {r['role']} | {r['revision'] or '-'} | "
            f"{(r['commit'] or '-')[:12]} | {size_text(r['size_bytes'])} | {r['licence']} | "
            f"{'yes' if r['present'] else r['state']} |"
        )
    return "\n".join(lines)
