"""How much does the single decode pass cost compared with bare decoding?

Usage: .venv/bin/python benchmarks/decode_once.py [--seconds 60] [--repeat 3]

Makes (once, cached in ``benchmarks/.cache/``, git-ignored) a 1280x720 H.264 video with hard cuts
and motion, re-encoded with x264's default ``medium`` preset so decoding costs what a real upload
costs (``synthetic.write_video`` uses ``ultrafast``, which decodes faster than real files).
Then, in one run, it times

  bare        threaded PyAV decode, frames dropped        (the physical floor)
  scenedetect ``scenedetect.detect(path, ContentDetector())``  (what a stock pipeline pays)
  single_pass this project's pass, default CurationConfig (its detectors + samples + the
              gradual-transition thumbnails and tests, ``media/transitions.py``)
  no transitions  the same pass with ``shots.transitions: false`` (what transitions cost)

and prints the median fps of ``--repeat`` runs and the cost ratio bare_fps / fps.
docs/architecture.md "Performance notes"; issue 19: single_pass <= 1.1x (median of paired rounds).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from curation_assets.config import CurationConfig  # noqa: E402
from curation_assets.media import synthetic  # noqa: E402
from curation_assets.media.decode import single_pass  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH, HEIGHT, FPS = 1280, 720, 30
MOTIONS = ("pan_right", "drift", "pan_left", "static", "drift", "pan_right", "pan_left")
SHOT_SECONDS = (5.0, 7.5, 4.0, 6.0, 9.0, 3.5, 8.0, 5.5, 6.5, 4.5)  # cycled; hard cut at each end


def bench_spec(seconds: float) -> synthetic.VideoSpec:
    shots, total, k = [], 0.0, 0
    while total < seconds - 1e-9:
        length = min(SHOT_SECONDS[k % len(SHOT_SECONDS)], seconds - total)
        shots.append(synthetic.Shot(length, MOTIONS[k % len(MOTIONS)]))
        total += length
        k += 1
    return synthetic.VideoSpec(f"bench_{int(seconds)}s.mp4", tuple(shots), WIDTH, HEIGHT, FPS)


def write_bench_video(spec: synthetic.VideoSpec, path: Path, preset: str = "medium") -> Path:
    """``synthetic.write_video`` (x264 ultrafast), re-encoded with a normal preset plus a little
    sensor grain, so the bitstream (and its decode cost) resembles a camera upload rather than a
    flat cartoon. Only the public ``write_video`` is used, so synthetic's internals may change."""
    draft = synthetic.write_video(spec, path.with_name(path.name + ".draft.mp4"))
    tmp = path.with_name(path.name + ".tmp.mp4")
    rng = np.random.default_rng(0)
    grain = [rng.normal(0, 2.5, (spec.height, spec.width, 1)).astype(np.int16) for _ in range(8)]
    with av.open(str(draft)) as source:
        images = (
            (decoded.to_ndarray(format="rgb24") + grain[index % len(grain)])
            .clip(0, 255)
            .astype(np.uint8)
            for index, decoded in enumerate(source.decode(video=0))
        )
        synthetic.encode_frames(tmp, images, spec.fps, {"preset": preset, "crf": "20"})
    draft.unlink()
    tmp.replace(path)
    return path


def cached_video(seconds: float) -> tuple[Path, synthetic.VideoSpec]:
    spec = bench_spec(seconds)
    path = CACHE / f"bench_{WIDTH}x{HEIGHT}_{FPS}fps_{seconds:g}s_medium_v2.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"writing {path} (once) ...", flush=True)
        started = time.perf_counter()
        write_bench_video(spec, path)
        print(f"  took {time.perf_counter() - started:.1f}s", flush=True)
    return path, spec


def bare_decode(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def scenedetect_detect(path: Path) -> int:
    """The stock call: ``scenedetect.detect(path, ContentDetector())``, PyAV backend if any."""
    import scenedetect
    from scenedetect import ContentDetector
    from scenedetect.backends import AVAILABLE_BACKENDS

    backend = "pyav" if "pyav" in AVAILABLE_BACKENDS else "opencv"
    scenes = scenedetect.detect(str(path), ContentDetector(), backend=backend)
    return int(scenes[-1][1].frame_num) if scenes else 0


def project_pass(path: Path) -> int:
    cfg = CurationConfig()
    result = single_pass(path, cfg.shots, cfg.samples)
    project_pass.last = result  # type: ignore[attr-defined]
    return result.frames


def project_pass_no_transitions(path: Path) -> int:
    cfg = CurationConfig.model_validate({"shots": {"transitions": False}})
    return single_pass(path, cfg.shots, cfg.samples).frames


def _cpu_s() -> float:
    """CPU seconds of this process, all threads (FFmpeg's decoder threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    path, spec = cached_video(args.seconds)

    cases = {
        "bare PyAV decode": bare_decode,
        "scenedetect.detect": scenedetect_detect,
        "single_pass (default cfg)": project_pass,
        "single_pass, no transitions": project_pass_no_transitions,
    }
    fps: dict[str, list[float]] = {name: [] for name in cases}
    cpu_ms: dict[str, list[float]] = {name: [] for name in cases}
    bare_decode(path)  # warm the page cache and the libraries
    for round_no in range(args.repeat):
        for name, fn in cases.items():  # interleaved, so load from other processes hits all
            cpu, started = _cpu_s(), time.perf_counter()
            frames = fn(path)
            elapsed, cpu = time.perf_counter() - started, _cpu_s() - cpu
            if frames != spec.frames:
                print(f"warning: {name} read {frames} of {spec.frames} frames", flush=True)
            fps[name].append(frames / elapsed)
            cpu_ms[name].append(1e3 * cpu / max(1, frames))
        print(
            f"round {round_no + 1}: " + ", ".join(f"{n} {v[-1]:.0f} fps" for n, v in fps.items()),
            flush=True,
        )

    result = project_pass.last  # type: ignore[attr-defined]
    print()
    print(
        f"video: {path.name}: {spec.frames} frames, {WIDTH}x{HEIGHT} @ {FPS} fps, x264 medium; "
        f"median of {args.repeat}; cost = bare fps / case fps"
    )
    bare_fps = statistics.median(fps["bare PyAV decode"])
    bare_cpu = statistics.median(cpu_ms["bare PyAV decode"])
    # Load from other processes drifts between rounds; a ratio taken within one round (same
    # load for bare and case, back to back) is steadier than a ratio of medians.
    print(
        f"{'case':<28}{'fps':>6}{'(min-max)':>11}{'cost':>7}{'per-round':>11}{'(min-max)':>13}"
        f"{'cpu ms/frame':>14}{'cpu cost':>10}"
    )
    for name in cases:
        med, cpu = statistics.median(fps[name]), statistics.median(cpu_ms[name])
        spread = f"{min(fps[name]):.0f}-{max(fps[name]):.0f}"
        rounds = zip(fps["bare PyAV decode"], fps[name], strict=True)
        ratios = [bare / case for bare, case in rounds]
        per_round = statistics.median(ratios)
        ratio_spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(
            f"{name:<28}{med:>6.0f}{spread:>11}{bare_fps / med:>6.2f}x{per_round:>10.2f}x"
            f"{ratio_spread:>13}{cpu:>14.2f}{cpu / bare_cpu:>9.2f}x"
        )
    print()
    print(
        f"single_pass: cuts {'exact' if result.cuts == spec.cut_frames else 'WRONG'} "
        f"({len(result.cuts)} found, {len(spec.cut_frames)} true); "
        f"{len(result.samples.rgb)} rgb and {len(result.samples.grey)} grey samples; "
        f"{len(result.transitions)} gradual transition(s) (the video has none)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
