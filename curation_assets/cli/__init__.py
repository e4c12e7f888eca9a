"""``curate``: the terminal front door (ingest, run, explain, funnel, demo, ui, models, doctor)."""

from __future__ import annotations

import argparse
import atexit
import os
import sys

from curation_assets.cli.lineage_commands import cmd_explain, cmd_funnel
from curation_assets.cli.model_commands import (
    cmd_doctor,
    cmd_models_list,
    cmd_models_pull,
    cmd_models_verify,
)
from curation_assets.cli.run_commands import cmd_demo, cmd_export, cmd_ingest, cmd_run
from curation_assets.cli.server_commands import cmd_review, cmd_ui
from curation_assets.models.errors import ModelNotAvailable, PullError
from curation_assets.storage.shards import ShardError


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
    p = sub.add_parser("funnel", help="videos/clips/seconds and images surviving each step")
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


def run() -> None:
    """The ``curate`` command: ``main``, then an exit that skips the interpreter's teardown.

    Tearing down the modules and objects a run loaded (Dagster, GX, pandas, matplotlib, ...)
    took ~1.8 s after every command's work was done. The exit is an atexit handler registered
    before any other, so it runs after every other one (multiprocessing's, logging's, Dagster's)
    has, once the output is flushed. Only this entry point does it: ``main`` stays an ordinary
    function for callers in process (tests)."""
    code = 1

    def leave() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    atexit.register(leave)
    try:
        code = main()
    except SystemExit as exc:  # argparse's usage errors, --help
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raise
    except KeyboardInterrupt:
        code = 130
        raise
    sys.exit(code)
