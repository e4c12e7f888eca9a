"""What does a whole shard cost, end to end, against a bare decode of its files?

Usage: .venv/bin/python benchmarks/shard_cost.py [--files 56] [--executor in_process]

Makes (once, cached in ``benchmarks/.cache/``, git-ignored) a shard of realistic uploads: H.264
at 480p, 720p and 1080p, 4 s to 2 min long, several shots each with hard cuts, a little sensor
grain, x264 ``faster`` (B-frames, CABAC: decodes like a camera file, not like a flat cartoon),
plus a few junk files (text named .mp4, a truncated copy, a 2 s clip, a JPEG). Then, in one run:

  bare       a threaded PyAV decode of every video file, frames dropped (the physical floor),
             before and again after curate; the faster of the two is the floor
  curate     ``curate ingest`` + ``curate run`` on a fresh data root, as a user runs them
             (every per-shard asset and check, then the global assets), in child processes

and prints, per Dagster step (from the run's own step stats), its wall time, the CPU it used
(sampled from /proc for the whole process tree) and the share of both cores it kept busy,
then the totals and the ratio to the bare decode. Target (issue 19): curate <= 2x bare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from curation_assets.media import synthetic  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache" / "shard_cost_v1"
SIZES = ((854, 480), (1280, 720), (1280, 720), (1920, 1080), (854, 480))
FPS = (30, 24, 25, 30)
LENGTHS_S = (6.0, 11.0, 4.5, 16.0, 8.0, 12.0, 40.0, 9.5, 5.0, 13.0, 25.0, 7.0, 10.0, 14.0, 6.5)
LONG_S = {12: 120.0, 40: 95.0}  # two long uploads
MOTIONS = ("pan_right", "drift", "static", "pan_left", "drift", "tilt_down", "zoom_in", "shake")
SHOT_S = (5.0, 7.5, 3.0, 6.0, 9.0, 4.0, 8.0, 12.0)
_TICKS = os.sysconf("SC_CLK_TCK")


def _spec(index: int) -> synthetic.VideoSpec:
    width, height = SIZES[index % len(SIZES)]
    seconds = LONG_S.get(index, LENGTHS_S[index % len(LENGTHS_S)])
    shots, total, k = [], 0.0, index
    while total < seconds - 1e-9:
        length = min(SHOT_S[k % len(SHOT_S)], seconds - total)
        shots.append(synthetic.Shot(length, MOTIONS[k % len(MOTIONS)], seed=97 * index + k))
        total += length
        k += 1
    return synthetic.VideoSpec(
        f"upload_{index:03d}.mp4", tuple(shots), width, height, FPS[index % len(FPS)]
    )


def _write_realistic(spec: synthetic.VideoSpec, path: Path) -> None:
    """``write_video`` (ultrafast), re-encoded with grain at x264 ``faster``."""
    draft = synthetic.write_video(spec, path.with_name(path.name + ".draft.mp4"))
    rng = np.random.default_rng(len(spec.shots))
    grain = [rng.normal(0, 2.5, (spec.height, spec.width, 1)).astype(np.int16) for _ in range(4)]
    tmp = path.with_name(path.name + ".tmp.mp4")
    with av.open(str(draft)) as source:
        images = (
            (frame.to_ndarray(format="rgb24") + grain[i % len(grain)]).clip(0, 255).astype(np.uint8)
            for i, frame in enumerate(source.decode(video=0))
        )
        synthetic.encode_frames(tmp, images, spec.fps, {"preset": "faster", "crf": "21"})
    draft.unlink()
    tmp.replace(path)


def build_shard(files: int) -> tuple[Path, list[Path]]:
    """The cached shard folder and its real videos (junk files are in the folder, not the list)."""
    folder = CACHE / f"shard_{files}"
    videos = [folder / _spec(i).name for i in range(files - 4)]
    done = folder / ".complete"
    if done.exists():
        return folder, videos
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i, path in enumerate(videos):
        if not path.exists():
            print(f"writing {path.name} ({i + 1}/{len(videos)}) ...", flush=True)
            _write_realistic(_spec(i), path)
    (folder / "notes.mp4").write_text("this is not a video\n")
    (folder / "cut_short.mp4").write_bytes(videos[0].read_bytes()[:20_000])
    synthetic.write_video(
        synthetic.VideoSpec("two_seconds.mp4", (synthetic.Shot(2.0),)), folder / "two_seconds.mp4"
    )
    from PIL import Image

    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(folder / "poster.jpg")
    done.write_text("")
    print(f"shard written in {time.perf_counter() - started:.0f} s", flush=True)
    return folder, videos


def bare_decode(paths: list[Path]) -> tuple[float, float, int]:
    """(wall s, CPU s, frames) of a threaded decode of every file, frames dropped."""
    cpu0, started, frames = time.process_time(), time.perf_counter(), 0
    for path in paths:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            frames += sum(1 for _ in container.decode(stream))
    return time.perf_counter() - started, time.process_time() - cpu0, frames


class TreeCpu:
    """Samples the CPU seconds of a process and all its descendants from /proc, 20 times a
    second, so CPU can be attributed to the step that was running at the time."""

    def __init__(self, pid: int) -> None:
        self.pid, self.samples, self._stop = pid, [], threading.Event()
        self._dead: dict[int, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _tree(self) -> dict[int, float]:
        parents, cpu = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                text = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = text.rsplit(")", 1)[1].split()
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / _TICKS
        inside = {self.pid}
        changed = True
        while changed:
            changed = False
            for child, parent in parents.items():
                if parent in inside and child not in inside:
                    inside.add(child)
                    changed = True
        return {pid: cpu[pid] for pid in inside if pid in cpu}

    def _run(self) -> None:
        last: dict[int, float] = {}
        while not self._stop.is_set():
            now = self._tree()
            for pid, seconds in last.items():
                if pid not in now:  # exited: keep what it used
                    self._dead[pid] = seconds
            last = now
            self.samples.append((time.time(), sum(now.values()) + sum(self._dead.values())))
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def between(self, start: float, end: float) -> float:
        def at(t: float) -> float:
            before = [cpu for when, cpu in self.samples if when <= t]
            return before[-1] if before else 0.0

        return at(end) - at(start)


def run_curate(shard_dir: Path, home: Path, executor: str) -> tuple[float, list, list]:
    """``curate ingest`` then ``curate run`` as child processes; (wall s, samplers, commands)."""
    env = {**os.environ, "CURATION_HOME": str(home), "GX_ANALYTICS_ENABLED": "false"}
    env["CURATION_EXECUTOR"] = executor
    env.pop("DAGSTER_HOME", None)
    curate = str(Path(sys.executable).with_name("curate"))
    started = time.perf_counter()
    commands, samplers = [], []
    for args in (["ingest", str(shard_dir), "--shard", "bench"], ["run", "--shard", "bench"]):
        t0 = time.time()
        proc = subprocess.Popen(
            [curate, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        sampler = TreeCpu(proc.pid)
        _, err = proc.communicate()
        sampler.stop()
        samplers.append(sampler)
        if proc.returncode not in (0, 1):  # 1: a check failed (e.g. an empty subset), still timed
            raise SystemExit(f"curate {args[0]} failed ({proc.returncode}):\n{err[-3000:]}")
        commands.append((f"curate {args[0]}", t0, time.time()))
    return time.perf_counter() - started, samplers, commands


def step_stats(home: Path) -> list[tuple[str, float, float]]:
    """(step key, start, end) of every step of every run in the data root's Dagster instance."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    import dagster as dg

    rows = []
    with dg.DagsterInstance.get() as instance:
        for run in reversed(instance.get_runs()):
            for stat in instance.get_run_step_stats(run.run_id):
                if stat.start_time and stat.end_time:
                    rows.append((stat.step_key, stat.start_time, stat.end_time))
    return sorted(rows, key=lambda r: r[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=56, help="files in the shard (>= 8)")
    parser.add_argument("--executor", default="in_process", help="$CURATION_EXECUTOR")
    parser.add_argument("--keep", action="store_true", help="keep the data root")
    args = parser.parse_args(argv)
    shard_dir, videos = build_shard(max(8, args.files))
    seconds = sum(_spec(i).duration_s for i in range(len(videos)))
    cores = len(os.sched_getaffinity(0))
    print(f"shard: {len(videos)} videos + 4 junk files, {seconds:.0f} s of video; {cores} cores")

    bare_decode(videos[:3])  # warm the page cache and the libraries
    bare_wall, bare_cpu, frames = bare_decode(videos)
    print(f"bare decode: {bare_wall:.1f} s wall, {bare_cpu:.1f} s CPU, {frames} frames")

    home = Path(tempfile.mkdtemp(prefix="shard-cost-"))
    try:
        wall, samplers, commands = run_curate(shard_dir, home, args.executor)
        after_wall, after_cpu, _ = bare_decode(videos)
        print(f"bare decode again: {after_wall:.1f} s wall, {after_cpu:.1f} s CPU")
        # the floor: the faster of the decodes before and after (a shared machine drifts; the
        # faster one gives the stricter ratio)
        bare_wall, bare_cpu = min((bare_wall, bare_cpu), (after_wall, after_cpu))
        print(f"floor: {bare_wall:.1f} s wall")
        stats = step_stats(home)
        run_sampler = samplers[1]
        print()
        print(f"{'step':<34}{'wall s':>8}{'cpu s':>8}{'busy':>7}{'x bare':>8}")
        for (name, t0, t1), sampler in zip(commands, samplers, strict=True):
            if name == "curate run":
                for key, s0, s1 in stats:
                    cpu = run_sampler.between(s0, s1)
                    print(
                        f"  {key:<32}{s1 - s0:>8.1f}{cpu:>8.1f}"
                        f"{cpu / max(1e-9, (s1 - s0) * cores):>7.0%}{(s1 - s0) / bare_wall:>7.2f}x"
                    )
                covered = sum(s1 - s0 for _, s0, s1 in stats)
                print(f"  {'(outside steps: start-up, ...)':<32}{(t1 - t0) - covered:>8.1f}")
            cpu = sampler.between(t0, t1 + 1)
            print(
                f"{name:<34}{t1 - t0:>8.1f}{cpu:>8.1f}"
                f"{cpu / max(1e-9, (t1 - t0) * cores):>7.0%}{(t1 - t0) / bare_wall:>7.2f}x"
            )
        total_cpu = sum(
            s.between(t0, t1 + 1) for (_, t0, t1), s in zip(commands, samplers, strict=True)
        )
        print(
            f"{'total (ingest + run)':<34}{wall:>8.1f}{total_cpu:>8.1f}"
            f"{total_cpu / (wall * cores):>7.0%}{wall / bare_wall:>7.2f}x"
        )
        print(
            f"\nwhole shard = {wall / bare_wall:.2f}x its bare decode (target <= 2x); "
            f"CPU {total_cpu:.1f} s = {total_cpu / bare_cpu:.2f}x the decode's"
        )
    finally:
        if args.keep:
            print(f"data root kept: {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
