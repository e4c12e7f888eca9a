"""The test media are the same on any machine. OpenCV picks SIMD kernels per CPU (SSE4, AVX2,
AVX-512, IPP) and they round differently from each other and from its plain code (cubic
resize, HSV->RGB, blends: 1 level), so the demo's files came out with other bytes on another
machine. Rendering therefore uses OpenCV's plain code whatever the caller has switched on: the
same spec gives the same pixels and file bytes with OpenCV's optimisations on or off."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2

from curation_assets.media.synthetic import Shot, VideoSpec, write_video
from curation_assets.media.synthetic_frames import render_shot

SHOTS = (
    (Shot(2, "pan_right"), 7),
    (Shot(2, "slideshow"), 8),
    (Shot(2, "zoom_in", effects=("blur:2", "dark:0.4")), 9),
)


@contextmanager
def opencv_optimised(on: bool) -> Iterator[None]:
    before = cv2.useOptimized(), cv2.ipp.useIPP()
    cv2.setUseOptimized(on)
    cv2.ipp.setUseIPP(on)
    try:
        yield
    finally:
        cv2.setUseOptimized(before[0])
        cv2.ipp.setUseIPP(before[1])


def _render(path: Path) -> tuple[str, str]:
    frames = hashlib.sha256()
    for shot, seed in SHOTS:
        for image in render_shot(shot, seed, 24, 180, 320, 12):
            frames.update(image.tobytes())
    spec = VideoSpec("p.mp4", (Shot(2), Shot(2, "pan_right")), 180, 320)
    return frames.hexdigest(), hashlib.sha256(write_video(spec, path).read_bytes()).hexdigest()


def test_renders_the_same_bytes_whatever_opencv_kernels_the_cpu_has(tmp_path: Path) -> None:
    with opencv_optimised(True):
        fast = _render(tmp_path / "fast.mp4")
        assert cv2.useOptimized()  # the caller's setting is left as it was
    with opencv_optimised(False):
        plain = _render(tmp_path / "plain.mp4")
    assert fast == plain
