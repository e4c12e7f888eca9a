"""What does cutting one clip out of an S3 upload cost, read through ranged GETs?

Usage: .venv/bin/python benchmarks/s3_ranged_cut.py [--seconds 120] [--clip 4] [--repeat 3]

Starts moto's S3 server on a free loopback port and uploads a synthetic 1280x720 H.264 video of
``--seconds`` (cached in ``benchmarks/.cache/``). Then, for a clip at the start, the middle and
the end, in one run:

  ranged      ``transcode_clip`` on ``storage.ranged.open_s3`` (what exports and review previews
              do): bytes and GETs fetched, seconds
  download    the baseline it replaces: download the whole object, then cut from the local file

and prints the bytes fetched as a share of the object and the time against the baseline.
Moto on loopback moves bytes almost for free, so both take about the same time here; the last
columns add what the bytes would take at ``--mb-per-s`` (default 100 MB/s, one S3 stream).
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
for _name, _value in (
    ("AWS_ACCESS_KEY_ID", "bench"),
    ("AWS_SECRET_ACCESS_KEY", "bench"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
):
    os.environ.setdefault(_name, _value)

import boto3  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from curation_assets.media import synthetic  # noqa: E402
from curation_assets.media.transcode import transcode_clip  # noqa: E402
from curation_assets.storage.ranged import open_s3  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
BUCKET, KEY = "bench-ranged", "raw/long.mp4"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _video(seconds: float) -> Path:
    path = CACHE / f"ranged_1280x720_24fps_{seconds:g}s.mp4"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        motions = ("pan_right", "drift", "zoom_in", "pan_left")
        shots, k = [], 0
        while sum(s.seconds for s in shots) < seconds - 1e-9:
            length = min(10.0, seconds - sum(s.seconds for s in shots))
            shots.append(synthetic.Shot(length, motions[k % len(motions)], seed=k))
            k += 1
        spec = synthetic.VideoSpec(path.name, tuple(shots), 1280, 720, 24)
        synthetic.write_video(spec, path.with_suffix(".tmp.mp4")).replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clip", type=float, default=4.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mb-per-s", type=float, default=100.0)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    video = _video(args.seconds)
    size = video.stat().st_size
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
        client.create_bucket(Bucket=BUCKET)
        client.upload_file(str(video), BUCKET, KEY)
        print(f"object: {size / 1e6:.1f} MB, {args.seconds:g} s of 1280x720 H.264 at 24 fps")
        print(
            f"{'clip':>14}{'fetched MB':>12}{'share':>8}{'GETs':>6}"
            f"{'ranged s':>10}{'download s':>12}{'@MB/s: ranged':>15}{'download':>10}"
        )
        rate = args.mb_per_s * 1e6
        for start in (1.0, args.seconds / 2, args.seconds - args.clip - 1.0):
            end = start + args.clip
            ranged_s, download_s, fetched, gets = [], [], 0, 0
            for _ in range(args.repeat):
                began = time.perf_counter()
                with open_s3(client, f"s3://{BUCKET}/{KEY}") as fh:
                    ranged = transcode_clip(fh, start, end, short_side=360, crf=26)
                    fetched, gets = fh.raw.bytes_fetched, fh.raw.requests
                ranged_s.append(time.perf_counter() - began)
                began = time.perf_counter()
                with tempfile.TemporaryDirectory() as tmp:
                    local = Path(tmp) / "long.mp4"
                    client.download_file(BUCKET, KEY, str(local))
                    whole = transcode_clip(local, start, end, short_side=360, crf=26)
                download_s.append(time.perf_counter() - began)
                assert ranged.frames == whole.frames, (ranged.frames, whole.frames)
            r, d = statistics.median(ranged_s), statistics.median(download_s)
            print(
                f"{start:6.1f}-{end:6.1f} s{fetched / 1e6:12.2f}{fetched / size:8.1%}{gets:6d}"
                f"{r:10.2f}{d:12.2f}{r + fetched / rate:15.2f}{d + size / rate:10.2f}"
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
