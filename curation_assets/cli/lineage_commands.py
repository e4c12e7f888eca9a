"""``curate funnel`` and ``curate explain``: what the lineage store says survived each step,
and why one video, clip or file was kept or dropped, printed for a terminal or as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from curation_assets.cli.data_root import current_layout, lineage_store
from curation_assets.config import Layout


def funnel_steps(layout: Layout, shard: str | None, subset: str | None):
    from curation_assets.lineage.queries import funnel

    return funnel(lineage_store(layout), shard=shard, subset=subset)


def print_funnel(steps) -> None:
    """Per media kind: videos (files, clips, seconds, share of seconds), then still images (one
    clip each, and their share of the images at the first step)."""
    first = steps[0].seconds if steps and steps[0].seconds else 0
    first_images = steps[0].images if steps else 0
    print(
        f"{'':<22}{'--------------- video ---------------':>34}{'---- image ----':>16}\n"
        f"{'step':<22}{'videos':>8}{'clips':>8}{'seconds':>11}{'% s':>7}{'images':>9}{'%':>7}"
    )
    for s in steps:
        share = f"{100 * s.seconds / first:.0f}%" if first else "-"
        img_share = f"{100 * s.images / first_images:.0f}%" if first_images else "-"
        clips = "-" if s.clips is None else str(s.clips)
        print(
            f"{s.step:<22}{s.videos:>8}{clips:>8}{s.seconds:>11.1f}{share:>7}"
            f"{s.images:>9}{img_share:>7}"
        )


def print_subsets(layout: Layout) -> None:
    rows = lineage_store(layout).query("SELECT * FROM subset_runs ORDER BY subset").to_dicts()
    if rows:
        print(f"\n{'subset':<22}{'media':<7}{'from':<18}{'pool':>8}{'members':>9}{'hours':>9}")
        for r in rows:
            print(
                f"{r['subset']:<22}{(r.get('media') or 'video'):<7}"
                f"{(r['parent'] or 'all clips'):<18}{r['pool_clips']:>8}"
                f"{r['members']:>9}{r['hours']:>9.3f}"
            )


def _print_stage_funnel(run: dict) -> None:
    media = run.get("media") or "video"
    what = "images" if media == "image" else "clips"
    print(
        f"subset {run['subset']} ({'from ' + run['parent'] if run['parent'] else 'all clips'}), "
        f"media {media}: {run['members']} of {run['pool_clips']} {what}"
        + (f", {run['hours']:.3f} h" if media != "image" else "")
    )
    print(f"{'step':<26}{what:>10}{'hours':>10}{'% pool':>9}{'% prev':>9}")
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

        run = stage_funnel(lineage_store(current_layout()), args.subset)
        if run is None:
            print(f"curate: subset {args.subset!r} has not been materialized", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(run, indent=2))
        else:
            _print_stage_funnel(run)
        return 0
    steps = funnel_steps(current_layout(), args.shard, args.subset)
    if args.json:
        print(json.dumps([asdict(s) for s in steps], indent=2))
    else:
        print_funnel(steps)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from curation_assets.lineage.queries import explain

    trail = explain(lineage_store(current_layout()), args.id)
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
        image = v.get("media") == "image"
        out.append(
            f"{'image' if image else 'video'} {v['video_id']} {v['file_name']!r} "
            f"[{v['shard']}]: {v['status'].upper()}"
            + (f" - {v['reason']}" if v["reason"] else "")
            + f" ({v['detail']})"
        )
        p = item["decode_pass"]
        if p and image:
            out.append("  decoded once: one clip, the whole picture (no time span)")
        elif p:
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
        for s in [] if image else item["shots"]:
            why = f" - {s['reason']}: {s['detail']}" if s["reason"] else ""
            out.append(
                f"  shot {s['shot_index']}: {s['start_s']:.3f}-{s['end_s']:.3f} s -> "
                f"{s['clips']} clip(s){why}"
            )
        for c in item["clips"]:
            fails = "; ".join(f"{f['stage']}/{f['filter']}" for f in c["failed"])
            shown = ("camera_motion", "has_human", "resolution_tier", "duplicate_group", "frame_of")
            labels = ", ".join(f"{k}={c['labels'][k]}" for k in shown if k in c.get("labels", {}))
            span = "" if image else f" {c['start_s']:.3f}-{c['end_s']:.3f} s"
            out.append(
                f"    clip {c['clip_id']}{span}"
                + (f" [{labels}]" if labels else "")
                + (f" dropped by {fails}" if fails else "")
            )
    return "\n".join(out)
