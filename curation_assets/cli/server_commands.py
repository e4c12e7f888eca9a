"""``curate ui`` and ``curate review``: the Dagster UI and the review web app on this data root."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from curation_assets.cli.data_root import current_layout, dagster_home


def cmd_ui(args: argparse.Namespace) -> int:
    layout = current_layout()
    home = dagster_home(layout)
    workspace = Path(__file__).resolve().parents[2] / "workspace.yaml"
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

    layout = current_layout()
    mode = "read-only" if args.read_only else "read-write"
    print(f"review ({mode}): http://{args.host}:{args.port}/  data: {layout.home}", flush=True)
    serve(args.host, args.port, read_only=args.read_only, layout=layout)
    return 0
