"""Score every clip of a shard with one family of analyzers, from the stored samples only.

Videos are scored in child processes (``run_isolated``): a clip that breaks an analyzer is a
recorded ``analysis_error`` for that clip, a video that hangs or crashes one for its clips, and
the shard goes on. Thresholds are applied afterwards, to the raw scores (``selection``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from curation_assets.config import CurationConfig
from curation_assets.config.sections import ANY_OF_FILTERS
from curation_assets.media.isolation import Failed, preload, run_isolated
from curation_assets.media.stored_samples import load_samples
from curation_assets.selection.thresholds import rules_from_config
from curation_assets.signals.base import ClipAnalyzer, Measurement
from curation_assets.signals.catalogue import builtin_analyzer_modules
from curation_assets.signals.registry import build_analyzers
from curation_assets.signals.samples import clip_samples
from curation_assets.storage.files import atomic_output
from curation_assets.vocabulary import ANALYSIS_ERROR, NOT_APPLICABLE_TO_IMAGES, Media, Stage

preload(*builtin_analyzer_modules())  # workers start with every analyzer module imported
_ANALYZERS: dict[tuple[str, str], list[ClipAnalyzer]] = {}  # per worker process


def _analyzers(family: str, cfg: CurationConfig) -> list[ClipAnalyzer]:
    key = (family, cfg.model_dump_json())
    if key not in _ANALYZERS:
        _ANALYZERS[key] = build_analyzers(family, cfg)
    return _ANALYZERS[key]


@dataclass(frozen=True)
class VideoJob:
    family: str
    shard: str
    video: dict  # video_id, width, height, fps
    samples_path: str
    clips: list[dict]  # clip_id, video_id, start_s, end_s
    cfg: CurationConfig
    keyframe_dir: str | None = None


MOTION_FAMILY = Stage.MOTION_FILTER.value
VECTORS = "vectors"  # Measurement.artifacts key: {name: 1-D array} stored per shard, not in scores


def score_video(job: VideoJob) -> dict:
    """Runs in a worker: raw scores and labels for each clip of one video."""
    stored = load_samples(Path(job.samples_path))
    analyzers = _analyzers(job.family, job.cfg)
    scores, labels, errors = [], [], []
    vectors: dict[str, list[tuple[str, np.ndarray]]] = {}
    with_rgb = any(a.uses_rgb for a in analyzers)
    samples = [clip_samples(stored, clip, job.video, with_rgb) for clip in job.clips]
    measured: dict[tuple[int, int], Measurement] = {}
    for a, analyzer in enumerate(analyzers):
        todo = [
            k
            for k, clip in enumerate(job.clips)
            if analyzer.still_images or clip.get("media") != Media.IMAGE
        ]
        for k, outcome in zip(todo, _measure(analyzer, [samples[k] for k in todo]), strict=True):
            if isinstance(outcome, Exception):
                clip_id = job.clips[k]["clip_id"]
                errors.append((clip_id, f"{analyzer.name}: {type(outcome).__name__}: {outcome}"))
            else:
                measured[(k, a)] = outcome
    for (k, a), result in sorted(measured.items()):
        clip, analyzer = job.clips[k], analyzers[a]
        for signal, value in sorted(result.scores.items()):
            scores.append(
                {
                    "clip_id": clip["clip_id"],
                    "signal": signal,
                    "value": float(value),
                    "scorer": analyzer.name,
                    "scorer_version": analyzer.version,
                }
            )
        for label in result.labels:
            labels.append(
                {
                    "clip_id": clip["clip_id"],
                    "kind": label.kind,
                    "label": label.label,
                    "confidence": label.confidence,
                    "scorer": analyzer.name,
                }
            )
        for name, vector in (result.artifacts.get(VECTORS) or {}).items():
            vectors.setdefault(name, []).append((clip["clip_id"], np.asarray(vector)))
        keyframe = result.artifacts.get("keyframe")
        if keyframe is not None and job.keyframe_dir:
            _save_keyframe(Path(job.keyframe_dir) / f"{clip['clip_id']}.jpg", keyframe[1])
    return {"scores": scores, "labels": labels, "errors": errors, "vectors": vectors}


def _measure(analyzer: ClipAnalyzer, clips: list) -> list[Measurement | Exception]:
    """The analyzer's batched call; when it raises, each clip alone, so an error is recorded for
    the clip that caused it and the others are still measured."""
    if not clips:
        return []
    try:
        out = analyzer.analyze_many(clips)
        if len(out) != len(clips):
            raise RuntimeError(f"{analyzer.name} returned {len(out)} results for {len(clips)}")
        return list(out)
    except Exception:  # noqa: BLE001 - retried clip by clip below
        results: list[Measurement | Exception] = []
        for clip in clips:
            try:
                results.append(analyzer.analyze(clip))
            except Exception as exc:  # noqa: BLE001 - recorded for this clip, the shard goes on
                results.append(exc)
        return results


def _save_keyframe(target: Path, rgb) -> None:
    with atomic_output(target, suffix=".jpg") as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


@dataclass
class ScoreRows:
    scores: list[dict] = field(default_factory=list)
    clip_labels: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    margins: list[dict] = field(default_factory=list)  # clip_id, filter, margin: for metadata
    clips: int = 0
    vectors: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)


def score_shard(
    family: str,
    shard: str,
    videos: list[dict],
    clips: list[dict],
    samples_paths: dict[str, str],
    cfg: CurationConfig,
    keyframe_dir: Path | None = None,
    progress: Callable[[int, int, str], None] = lambda *_: None,
) -> ScoreRows:
    by_video: dict[str, list[dict]] = {}
    for clip in clips:
        if family == MOTION_FAMILY and clip.get("media") == Media.IMAGE:
            continue  # nothing to measure: recorded as not applicable in _decide
        by_video.setdefault(clip["video_id"], []).append(clip)
    facts = {v["video_id"]: v for v in videos}
    jobs = [
        VideoJob(
            family,
            shard,
            {k: facts[vid][k] for k in ("video_id", "width", "height", "fps")},
            samples_paths[vid],
            sorted(cl, key=lambda c: c["start_s"]),
            cfg,
            str(keyframe_dir) if keyframe_dir else None,
        )
        for vid, cl in sorted(by_video.items())
    ]
    rows = ScoreRows(clips=len(clips))
    errors: dict[str, str] = {}

    def budget(job: VideoJob) -> float:
        seconds = sum(c["end_s"] - c["start_s"] for c in job.clips)
        return max(60.0, cfg.run.decode_timeout_factor * seconds)

    outcomes = run_isolated(score_video, jobs, budget, cfg.run.decode_workers, cost=budget)
    for done, (k, outcome) in enumerate(outcomes, start=1):
        job = jobs[k]
        if isinstance(outcome, Failed):
            for clip in job.clips:
                errors[clip["clip_id"]] = f"{outcome.kind}: {outcome.detail}"
        else:
            for row in outcome["scores"]:
                rows.scores.append({**row, "shard": shard})
            for row in outcome["labels"]:
                rows.clip_labels.append({**row, "shard": shard})
            for clip_id, message in outcome["errors"]:
                errors.setdefault(clip_id, message)
            for name, pairs in outcome["vectors"].items():
                rows.vectors.setdefault(name, []).extend(pairs)
        progress(done, len(jobs), job.video["video_id"])
    _decide(family, shard, clips, rows, errors, cfg)
    rows.scores.sort(key=lambda r: (r["clip_id"], r["signal"]))
    rows.clip_labels.sort(key=lambda r: (r["clip_id"], r["kind"]))
    rows.decisions.sort(key=lambda r: (r["clip_id"], r["filter"]))
    return rows


def _decide(family, shard, clips, rows: ScoreRows, errors: dict[str, str], cfg) -> None:
    rules_for = {
        media: rules_from_config(cfg.stage_filters(family, media), ANY_OF_FILTERS)
        for media in (Media.VIDEO, Media.IMAGE)
    }
    by_clip: dict[str, dict[str, float]] = {}
    for row in rows.scores:
        by_clip.setdefault(row["clip_id"], {})[row["signal"]] = row["value"]
    for clip in clips:
        cid = clip["clip_id"]
        base = {"clip_id": cid, "shard": shard, "stage": family}
        media = Media(clip.get("media") or Media.VIDEO)
        rules = rules_for[media]
        if family == MOTION_FAMILY and media == Media.IMAGE:
            rows.decisions.extend(
                {**base, "filter": rule.name, "passed": None, "value": None,
                 "threshold": None, "reason": NOT_APPLICABLE_TO_IMAGES}
                for rule in rules
            )  # fmt: skip
            continue
        if cid in errors:
            rows.decisions.append(
                {
                    **base,
                    "filter": ANALYSIS_ERROR,
                    "passed": False,
                    "value": None,
                    "threshold": None,
                    "reason": f"{ANALYSIS_ERROR}: {errors[cid]}"[:500],
                }
            )
        scores = by_clip.get(cid, {})
        for rule in rules:
            verdict = rule.decide(scores)
            rows.decisions.append(
                {
                    **base,
                    "filter": rule.name,
                    "passed": verdict.passed,
                    "value": verdict.value,
                    "threshold": verdict.threshold,
                    "reason": verdict.reason,
                }
            )
            rows.margins.append(
                {
                    "clip_id": cid,
                    "video_id": clip["video_id"],
                    "start_s": clip["start_s"],
                    "end_s": clip["end_s"],
                    "filter": rule.name,
                    "margin": verdict.margin,
                    "passed": verdict.passed,
                    "value": verdict.value,
                }
            )
