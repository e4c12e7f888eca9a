"""What does the offline has_human detector cost a clip, and how often is it right?

Usage: .venv/bin/python benchmarks/human_detector.py [--frames 5] [--baseline-frames 3]

Clips: scikit-image photos (2 with people, the cameraman also mirrored; 19 without) panned with
noise by ``curation_assets.media.photo_kit`` (as the tests use them), plus 10 synthetic-kit clips.
Needs scikit-image (a dev dependency, installed by scripts/bootstrap) and the MediaPipe detector
files (``scripts/bootstrap`` or ``curate models pull``). In one run it times, CPU ms per clip
(process time, fair on a shared machine):

  baseline  ``HumanDetectorAnalyzer`` (OpenCV: frontal alt2, two-sided profile, HOG >= 2.0;
            first yes decides a frame), the offline detector before MediaPipe's, 3 frames
  current   ``PeopleDetectorAnalyzer`` (BlazePose persons + BlazeFace faces, LiteRT), 5 frames

and prints found people / false humans / unknown for both, and the current/baseline cost ratio.
Right and wrong on real footage: ``benchmarks/judgment_quality.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

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
from curation_assets.signals.content.human_detector import HumanDetectorAnalyzer  # noqa: E402
from curation_assets.signals.content.people import PeopleDetectorAnalyzer  # noqa: E402
from curation_assets.signals.samples import clip_samples_for_file  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--baseline-frames", type=int, default=3)
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
    detectors = {
        "baseline": HumanDetectorAnalyzer(frames=args.baseline_frames, backend="opencv"),
        "current": PeopleDetectorAnalyzer(frames=args.frames),
    }
    cost = {}
    for rule, detector in detectors.items():
        ms, said = [], {}
        for name, clip in clips.items():
            start = time.process_time()
            (label,) = [x for x in detector.analyze(clip).labels if x.kind == "has_human"]
            ms.append((time.process_time() - start) * 1000)
            said[name] = label.label
        cost[rule] = statistics.mean(ms)
        yes = {n for n, label in said.items() if label == "yes"}
        unknown = sorted(n for n, label in said.items() if label == "unknown")
        false = sorted(yes - set(PEOPLE))
        print(
            f"{rule:8s} {detector.name:16s} {cost[rule]:6.0f} ms/clip "
            f"(median {statistics.median(ms):.0f}); people {len(yes & set(PEOPLE))}/{len(PEOPLE)}; "
            f"false humans {len(false)}/{len(clips) - len(PEOPLE)} {false}; unknown {unknown}"
        )
    print(f"current / baseline cost: {cost['current'] / cost['baseline']:.2f}x")


if __name__ == "__main__":
    main()
