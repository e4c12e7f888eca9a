"""Review app latency as reviews pile up (one Parquet part per review).

Prints the median time of the pages a reviewer hits per clip (/next redirect + clip page) and of
one review write, with 0 reviews as the baseline measured in the same run.

    .venv/bin/python benchmarks/review_queue.py [--clips 500] [--reviews 0 200 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from curation_assets.config import Layout, load_config
from curation_assets.resources import store_for
from curation_assets.review.app import create_app
from curation_assets.review.store import Review, ReviewStore
from curation_assets.selection.finetune import DIMENSIONS


def _seed(home: Path, clips: int) -> list[str]:
    ids = [f"v{0:016x}-{i * 4000:07d}-{i * 4000 + 4000:07d}" for i in range(clips)]
    store = store_for(Layout(home))
    store.replace(
        "bench",
        "all",
        {
            "videos": [{"video_id": f"v{0:016x}", "shard": "b", "uri": "file:///nonexistent.mp4"}],
            "clips": [
                {
                    "clip_id": c,
                    "video_id": f"v{0:016x}",
                    "shard": "b",
                    "start_s": i * 4.0,
                    "end_s": i * 4.0 + 4,
                }
                for i, c in enumerate(ids)
            ],  # fmt: skip
            "captions": [{"clip_id": c, "caption": f"caption {i}"} for i, c in enumerate(ids)],
            "finetune_candidates": [
                {"clip_id": c, "rank": i + 1, "promise": 1 - i / clips, "concept": "c"}
                for i, c in enumerate(ids)
            ],
        },
    )
    return ids


def _median_ms(fn, repeat: int = 7) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=500)
    parser.add_argument("--reviews", type=int, nargs="+", default=[0, 200, 2000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        ids = _seed(home, args.clips)
        layout = Layout(home)
        store = ReviewStore(layout, load_config(home))
        client = TestClient(create_app(layout), follow_redirects=False)
        written, base = 0, None
        print(f"{args.clips} candidate clips")
        print(f"{'reviews':>8} {'next+page ms':>13} {'x baseline':>10} {'write ms':>9}")
        for target in sorted(args.reviews):
            write_times = []
            while written < target:
                clip = ids[written % len(ids)]
                who = f"r{written // len(ids)}"
                review = Review(clip, who, "reject", None, None, None, dict.fromkeys(DIMENSIONS, 3))
                t = time.perf_counter()
                store.add(review, store.clip(clip) if written < 3 else {"caption": "x"})
                write_times.append(time.perf_counter() - t)
                written += 1

            def visit() -> None:
                location = client.get("/next", params={"reviewer": "bench"}).headers["location"]
                assert client.get(location).status_code == 200

            ms = _median_ms(visit)
            base = base or ms
            write = f"{1000 * statistics.median(write_times):.1f}" if write_times else "-"
            print(f"{target:>8} {ms:>13.1f} {ms / base:>10.2f} {write:>9}")


if __name__ == "__main__":
    main()
