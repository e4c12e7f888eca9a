"""The ``shot_clips`` step as a plain function, minus Dagster: one decode pass per admitted
video (or image) -> shots, clip windows, samples and decisions. It returns lineage rows; the
asset writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from curation_assets.config import CurationConfig, Layout
from curation_assets.media import hw_decode
from curation_assets.media.clips import clip_id, plan_clips
from curation_assets.media.decode import single_pass
from curation_assets.media.image import image_pass
from curation_assets.media.isolation import Failed, run_isolated
from curation_assets.media.stored_samples import save_samples
from curation_assets.steps.ingest import Progress, no_progress
from curation_assets.storage.sources import LocalShardSource, ShardSource, SourceFile
from curation_assets.vocabulary import SHOT_CLIPS_FILTER, Clipping, Media, Stage, VideoStatus


@dataclass
class ClipRows:
    decode_passes: list[dict] = field(default_factory=list)
    shots: list[dict] = field(default_factory=list)
    clips: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    transitions: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class _PassJob:
    video_id: str
    shard: str
    path: str
    file_name: str
    rotation: int
    duration_s: float
    samples_path: str
    cfg: CurationConfig
    media: str = Media.VIDEO.value


def _analyse(job: _PassJob) -> dict:
    """Runs in a child process: the single pass, samples to disk, clip plan. Returns rows."""
    if job.media == Media.IMAGE:
        samples = job.cfg.samples
        result = image_pass(job.path, samples.rgb_short_side, samples.grey_short_side)
        save_samples(Path(job.samples_path), result, samples.rgb_jpeg_quality)
        return {"result": result, "plans": []}
    result = single_pass(job.path, job.cfg.shots, job.cfg.samples, job.rotation)
    if result.frames:
        save_samples(Path(job.samples_path), result, job.cfg.samples.rgb_jpeg_quality)
    plans = plan_clips(
        result.frame_times,
        result.end_s,
        result.cuts,
        job.cfg.clips,
        result.gaps,
        result.transitions,
    )
    return {"result": result, "plans": plans}


def clip_shard(
    layout: Layout,
    shard: str,
    videos: list[dict],
    cfg: CurationConfig,
    progress: Progress = no_progress,
    source: ShardSource | None = None,
) -> ClipRows:
    """One decode pass per admitted video -> shots, clip windows and samples.

    Videos are read through ``source`` (default: local files where they are; S3: downloaded in
    batches into the bounded scratch area, each batch deleted once decoded).
    """
    source = source or LocalShardSource(layout.uploads)
    hw_decode.device_for(cfg.shots.hw_decode)  # a named decoder missing here stops the step
    samples_dir = layout.samples_dir(shard)
    admitted = [v for v in videos if v["status"] == VideoStatus.ADMITTED]
    files = [SourceFile(v["file_name"], v["uri"], v.get("bytes")) for v in admitted]

    def budget(job: _PassJob) -> float:
        return max(60.0, cfg.run.decode_timeout_factor * job.duration_s)

    def cost(job: _PassJob) -> float:
        return job.duration_s or 0.1  # an image decodes in about a tenth of a video second

    rows = ClipRows()
    done = 0
    by_uri = {v["uri"]: v for v in admitted}
    with source.staged(files) as batches:
        for batch in batches:
            jobs = [
                _PassJob(
                    by_uri[s.file.uri]["video_id"],
                    shard,
                    str(s.path),
                    s.file.rel,
                    int(by_uri[s.file.uri].get("rotation") or 0),
                    float(by_uri[s.file.uri]["duration_s"] or 0.0),
                    str(samples_dir / f"{by_uri[s.file.uri]['video_id']}.npz"),
                    cfg,
                    by_uri[s.file.uri].get("media") or Media.VIDEO.value,
                )
                for s in batch
            ]
            readable = []
            for job, s in zip(jobs, batch, strict=True):
                if s.path is not None:
                    readable.append(job)
                    continue
                _add_video_rows(rows, job, Failed("error", s.problem or "not staged"), cfg)
                done += 1
                progress(done, len(files), job.file_name)
            outcomes = run_isolated(_analyse, readable, budget, cfg.run.decode_workers, cost=cost)
            for k, outcome in outcomes:
                _add_video_rows(rows, readable[k], outcome, cfg)
                done += 1
                progress(done, len(files), readable[k].file_name)
    # completion order varies between runs; lineage parts must not
    rows.decode_passes.sort(key=lambda r: r["video_id"])
    rows.shots.sort(key=lambda r: (r["video_id"], r["shot_index"]))
    rows.clips.sort(key=lambda r: r["clip_id"])
    rows.decisions.sort(key=lambda r: r["clip_id"])
    rows.transitions.sort(key=lambda r: (r["video_id"], r["transition_index"]))
    return rows


def _add_video_rows(rows: ClipRows, job: _PassJob, outcome, cfg: CurationConfig) -> None:
    base = {"video_id": job.video_id, "shard": job.shard}
    if isinstance(outcome, Failed):
        rows.decode_passes.append(
            {
                **base,
                "status": "failed",
                "reason": Clipping.DECODE_FAILED.value,
                "detail": f"{outcome.kind}: {outcome.detail}",
                "frames": 0,
                "cuts": 0,
                "shots": 0,
                "clips": 0,
                "clip_s": 0.0,
            }
        )
        return
    result, plans = outcome["result"], outcome["plans"]
    if job.media == Media.IMAGE:
        _add_image_rows(rows, job, result)
        return
    clip_count, clip_seconds = 0, 0.0
    times = list(result.frame_times) + [result.end_s]
    spans = {}
    for k, t in enumerate(result.transitions):
        start_s, end_s = round(float(times[t.start]), 6), round(float(times[t.end]), 6)
        spans[k] = f"{t.kind} {start_s:.2f}-{end_s:.2f} s"
        rows.transitions.append(
            {
                **base,
                "transition_index": k,
                "start_frame": t.start,
                "end_frame": t.end,
                "start_s": start_s,
                "end_s": end_s,
                "kind": t.kind,
                "confidence": t.confidence,
            }
        )
    for plan in plans:
        rows.shots.append(
            {
                **base,
                "shot_index": plan.index,
                "start_s": plan.start_s,
                "end_s": plan.end_s,
                "start_frame": plan.start_frame,
                "end_frame": plan.end_frame,
                "clips": len(plan.clips),
                "reason": plan.reason.value if plan.reason else None,
                "detail": plan.detail,
                "after_transition": plan.after_transition,
                "before_transition": plan.before_transition,
            }
        )
        # the transitions that bound this shot, named in each clip's shot_clips decision
        bounded = "".join(
            f", {side} {spans[k]}"
            for side, k in (("after", plan.after_transition), ("before", plan.before_transition))
            if k is not None
        )
        for window in plan.clips:
            cid = clip_id(job.video_id, window.start_s, window.end_s)
            duration = round(window.duration_s, 6)
            rows.clips.append(
                {
                    **base,
                    "clip_id": cid,
                    "start_s": window.start_s,
                    "end_s": window.end_s,
                    "duration_s": duration,
                    "shot_index": plan.index,
                    "start_frame": window.start_frame,
                    "end_frame": window.end_frame,
                    "media": Media.VIDEO.value,
                }
            )
            rows.decisions.append(
                {
                    "clip_id": cid,
                    "shard": job.shard,
                    "stage": Stage.SHOT_CLIPS.value,
                    "filter": SHOT_CLIPS_FILTER,
                    "passed": True,
                    "value": duration,
                    "threshold": f"{cfg.clips.min_s:g}-{cfg.clips.max_s:g} s",
                    "reason": f"single shot {plan.index}{bounded}, {plan.detail}",
                }
            )
            clip_count += 1
            clip_seconds += duration
    failed = result.error is not None and result.frames == 0
    rows.decode_passes.append(
        {
            **base,
            "status": "failed" if failed else "ok",
            "reason": Clipping.DECODE_FAILED.value if result.error else None,
            "detail": result.error or result.damage,
            "frames": result.frames,
            "decoded_s": round(result.end_s, 6),
            "cuts": len(result.cuts),
            "shots": len(plans),
            "clips": clip_count,
            "clip_s": round(clip_seconds, 6),
            "decode_fps": round(result.frames / result.elapsed_s, 1) if result.elapsed_s else None,
            "samples_path": job.samples_path if result.frames else None,
            "transitions": len(result.transitions),
        }
    )


def _add_image_rows(rows: ClipRows, job: _PassJob, result) -> None:
    """An image is one shot and one clip with no time span (start = end = 0)."""
    base = {"video_id": job.video_id, "shard": job.shard}
    cid = clip_id(job.video_id, 0.0, 0.0)
    rows.shots.append(
        {**base, "shot_index": 0, "start_s": 0.0, "end_s": 0.0, "start_frame": 0,
         "end_frame": 1, "clips": 1, "reason": None, "detail": "still image"}
    )  # fmt: skip
    rows.clips.append(
        {**base, "clip_id": cid, "start_s": 0.0, "end_s": 0.0, "duration_s": 0.0,
         "shot_index": 0, "start_frame": 0, "end_frame": 1, "media": Media.IMAGE.value}
    )  # fmt: skip
    rows.decisions.append(
        {
            "clip_id": cid,
            "shard": job.shard,
            "stage": Stage.SHOT_CLIPS.value,
            "filter": SHOT_CLIPS_FILTER,
            "passed": True,
            "value": 0.0,
            "threshold": "still image: the whole picture",
            "reason": "still image, one item",
        }
    )
    rows.decode_passes.append(
        {
            **base,
            "status": "ok",
            "reason": None,
            "detail": None,
            "frames": 1,
            "decoded_s": 0.0,
            "cuts": 0,
            "shots": 1,
            "clips": 1,
            "clip_s": 0.0,
            "samples_path": job.samples_path,
            "transitions": 0,
        }
    )
