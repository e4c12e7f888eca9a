"""What does the offline has_human detector cost a clip, and how often is it right?

Usage: .venv/bin/python benchmarks/human_detector.py [--frames 3]

Clips: scikit-image photos (2 with people, the cameraman also mirrored; 19 without) panned with
noise by ``curation_assets.media.photo_kit`` (as the tests use them), plus 10 synthetic-kit clips.
Needs scikit-image (a dev dependency, installed by scripts/bootstrap).
In one run it times, CPU ms per clip (process time, fair on a shared machine):

  before   the previous rule: HOG people weight >= 0.5 or Haar frontalface_default with 6
           neighbours, on the same samples
  after    ``HumanDetectorAnalyzer`` (frontal alt2, two-sided profile, HOG >= 2.0; first yes
           decides a frame)

and prints found people / false humans for both, and the after/before cost ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from curation_assets.media.photo_kit import (  # noqa: E402
    NO_PEOPLE,
    PEOPLE,
    SYNTHETIC,
    photo,
    photo_clip,
)
from curation_assets.media.synthetic import Shot, VideoSpec, write_video  # noqa: E402
from curation_assets.signals.content import HAS_HUMAN_AT, HumanDetectorAnalyzer  # noqa: E402
from curation_assets.signals.samples import clip_samples_for_file  # noqa: E402
from curation_assets.signals.visual import spread  # noqa: E402


class PreviousRule:
    """The rule before issue 4's fix, kept here only as the benchmark's baseline."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.haar = cv2.CascadeClassifier(
            cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        )

    def share(self, rgb: list[np.ndarray]) -> float:
        hits = 0
        for image in (rgb[i] for i in spread(len(rgb), self.frames)):
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            _, weights = self.hog.detectMultiScale(
                grey, winStride=(8, 8), padding=(8, 8), scale=1.05
            )
            faces = self.haar.detectMultiScale(
                grey, scaleFactor=1.1, minNeighbors=6, minSize=(24, 24)
            )
            hits += bool((np.ravel(weights) >= 0.5).any() or len(faces))
        return hits / self.frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = {
            n: clip_samples_for_file(photo_clip(photo(n), folder / f"{n}.mp4"))
            for n in PEOPLE + NO_PEOPLE
        }
        for seed, motion, effects in SYNTHETIC:
            spec = VideoSpec(f"s{seed}", (Shot(4.5, motion, seed=seed, effects=effects),), 640, 360)
            clips[f"synthetic-{seed}-{motion}"] = clip_samples_for_file(
                write_video(spec, folder / f"s{seed}.mp4")
            )
    before, after = PreviousRule(args.frames), HumanDetectorAnalyzer(frames=args.frames)
    rules = {
        "before": lambda clip: before.share(clip.rgb),
        "after": lambda clip: after.analyze(clip).scores["human_offline"],
    }
    cost = {}
    for rule, run in rules.items():
        ms, yes = [], set()
        for name, clip in clips.items():
            start = time.process_time()
            if run(clip) >= HAS_HUMAN_AT:
                yes.add(name)
            ms.append((time.process_time() - start) * 1000)
        cost[rule] = statistics.mean(ms)
        found = len(yes & set(PEOPLE))
        false = sorted(yes - set(PEOPLE))
        print(
            f"{rule:6s} {cost[rule]:6.0f} ms/clip (median {statistics.median(ms):.0f}); "
            f"people {found}/{len(PEOPLE)}; false humans {len(false)}/{len(clips) - len(PEOPLE)}"
            f" {false}"
        )
    print(f"after / before cost: {cost['after'] / cost['before']:.2f}x")


if __name__ == "__main__":
    main()
