"""What do shot_clips + visual_filter + motion_filter cost, against a bare decode?

Usage: .venv/bin/python benchmarks/analysis_cost.py [--seconds 60] [--repeat 2]

On the cached 720p corpus of ``decode_once.py`` it times, in one run and one process:

  bare         threaded PyAV decode, frames dropped (the physical floor)
  project      the single pass (cuts + samples, saved as the asset does), clip planning, then
               every visual and motion analyzer on every clip from the stored samples only
  naive        what a pipeline without shared samples pays: PySceneDetect's detect() for shots,
               a second decode for the visual analyzers (2 fps RGB frames converted by swscale),
               a third for the motion analyzer (8 fps grey frames); the same analyzers

Cost = time / bare time. Target (issue 3): project <= 1.5x bare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from decode_once import bare_decode, cached_video  # noqa: E402

from curation_assets.config import CurationConfig  # noqa: E402
from curation_assets.media.clips import clip_id, plan_clips  # noqa: E402
from curation_assets.media.decode import single_pass  # noqa: E402
from curation_assets.media.probe import probe_file  # noqa: E402
from curation_assets.media.stored_samples import load_samples, save_samples  # noqa: E402
from curation_assets.signals.base import ClipSamples  # noqa: E402
from curation_assets.signals.registry import build_analyzers  # noqa: E402
from curation_assets.signals.samples import clip_samples  # noqa: E402


def _analyzers(cfg: CurationConfig):
    return build_analyzers("visual_filter", cfg) + build_analyzers("motion_filter", cfg)


def project(path: Path, cfg: CurationConfig, analyzers) -> int:
    """shot_clips + visual_filter + motion_filter for one video, as the assets do it."""
    probe = probe_file(path)
    result = single_pass(path, cfg.shots, cfg.samples, probe.rotation)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "samples.npz"
        save_samples(target, result, cfg.samples.rgb_jpeg_quality)
        plans = plan_clips(result.frame_times, result.end_s, result.cuts, cfg.clips)
        stored = load_samples(target)
    video = {"width": probe.width, "height": probe.height, "fps": probe.fps}
    clips = 0
    for plan in plans:
        for w in plan.clips:
            clip = {
                "clip_id": clip_id("v", w.start_s, w.end_s),
                "video_id": "v",
                "start_s": w.start_s,
                "end_s": w.end_s,
            }
            samples = clip_samples(stored, clip, video)
            for analyzer in analyzers:
                analyzer.analyze(samples)
            clips += 1
    return clips


def _decode_every(path: Path, fps_wanted: float, grey: bool, short_side: int):
    """A separate decode keeping frames at ``fps_wanted``, converted by swscale."""
    times, frames, next_t = [], [], 0.0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if t + 1e-6 < next_t:
                continue
            next_t += 1.0 / fps_wanted
            scale = short_side / min(frame.width, frame.height)
            w, h = int(frame.width * scale) // 2 * 2, int(frame.height * scale) // 2 * 2
            fmt = "gray" if grey else "rgb24"
            frames.append(frame.reformat(width=w, height=h, format=fmt).to_ndarray())
            times.append(t)
    return np.asarray(times), frames


def _scenedetect_cuts(path: Path) -> tuple[list[int], int, float]:
    """Decode 1 of the naive pipeline: PySceneDetect's own detect()."""
    import scenedetect
    from scenedetect import ContentDetector

    scenes = scenedetect.detect(str(path), ContentDetector(), backend="pyav")
    cuts = [int(start.frame_num) for start, _ in scenes[1:]]
    frames = int(scenes[-1][1].frame_num) if scenes else 0
    fps = float(scenes[0][0].frame_rate) if scenes else 30.0
    return cuts, frames, fps


def naive(path: Path, cfg: CurationConfig, analyzers) -> int:
    """One decode per analyzer family, no shared samples; the same clips and analyzers."""
    cuts, frames, fps = _scenedetect_cuts(path)
    probe = probe_file(path)
    rgb_t, rgb = _decode_every(path, cfg.samples.rgb_fps, False, cfg.samples.rgb_short_side)
    grey_t, grey = _decode_every(path, cfg.samples.grey_fps, True, cfg.samples.analysis_short_side)
    frame_times = np.arange(frames) / fps
    plans = plan_clips(frame_times, frames / fps, cuts, cfg.clips)
    clips = 0
    for window in (w for plan in plans for w in plan.clips):
        ri = np.flatnonzero((rgb_t >= window.start_s) & (rgb_t < window.end_s))
        gi = np.flatnonzero((grey_t >= window.start_s) & (grey_t < window.end_s))
        samples = ClipSamples(
            clip_id="c",
            video_id="v",
            start_s=window.start_s,
            end_s=window.end_s,
            width=probe.width,
            height=probe.height,
            fps=probe.fps,
            rgb_times=rgb_t[ri],
            rgb=[rgb[i] for i in ri],
            grey_times=grey_t[gi],
            grey=np.stack([grey[i] for i in gi]),
            frame_times=frame_times,
            luma_delta=np.zeros(frames, np.float32),
            source_shots_per_s=(len(cuts) + 1) / (frames / fps),
        )
        for analyzer in analyzers:
            analyzer.analyze(samples)
        clips += 1
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    path, spec = cached_video(args.seconds)
    cfg = CurationConfig()
    analyzers = _analyzers(cfg)
    project(path, cfg, analyzers)  # warm: models loaded, page cache filled
    cases = {
        "bare PyAV decode": lambda: bare_decode(path),
        "project (decode once)": lambda: project(path, cfg, analyzers),
        "naive (decode per family)": lambda: naive(path, cfg, analyzers),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_no in range(args.repeat):
        for name, fn in cases.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
        print(
            f"round {round_no + 1}: " + ", ".join(f"{n} {v[-1]:.2f} s" for n, v in times.items()),
            flush=True,
        )
    bare = statistics.median(times["bare PyAV decode"])
    print(
        f"\ncorpus: {path.name} ({spec.frames} frames, {spec.duration_s:.0f} s of 720p H.264); "
        f"median of {args.repeat}; cost = time / bare decode time"
    )
    print(f"{'case':<30}{'seconds':>9}{'cost':>8}{'per-round':>11}")
    for name, values in times.items():
        per_round = statistics.median(
            v / b for v, b in zip(values, times["bare PyAV decode"], strict=True)
        )
        print(
            f"{name:<30}{statistics.median(values):>9.2f}{statistics.median(values) / bare:>7.2f}x"
            f"{per_round:>10.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
