"""Real photos turned into clips with known truth, for the offline human detector's tests and
``benchmarks/human_detector.py``.

scikit-image's wheel ships photos of people (the astronaut, frontal; the cameraman, face turned
to profile) and many without. ``photo(name)`` loads one as RGB uint8; ``photo_clip`` pans it
across a 640x360 frame with sensor noise and encodes it like ``synthetic.encode_frames`` does.
``SYNTHETIC`` lists synthetic-kit shots (textures, balls, captions, titles, noise under every
camera motion) that must never read as people.

scikit-image is a development dependency (``pip install -e '.[dev]'``), not a runtime one: it is
imported only when a photo is loaded.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from curation_assets.media.synthetic import encode_frames

# scikit-image photos with people; the flipped cameraman is seen in only about half of its
# frames by the offline cascades (a known miss, see test_human_detector.py).
PEOPLE = ("astronaut", "camera", "camera_mirrored")
NO_PEOPLE = (
    "chelsea",
    "coffee",
    "rocket",
    "immunohistochemistry",
    "horse",
    "hubble_deep_field",
    "page",
    "text",
    "checkerboard",
    "brick",
    "grass",
    "gravel",
    "colorwheel",
    "coins",
    "moon",
    "clock",
    "logo",
    "retina",
    "motorcycle",
)
# Synthetic-kit shots without people: (seed, camera motion, effects) for ``synthetic.Shot``.
SYNTHETIC = (
    (11, "static", ("noise:8",)),
    (12, "drift", ()),
    (13, "pan_right", ("text",)),
    (14, "pan_left", ("title",)),
    (16, "tilt_down", ()),
    (17, "zoom_in", ("text",)),
    (19, "roll", ("noise:8",)),
    (20, "shake", ()),
    (21, "slideshow", ("text",)),
    (22, "static", ("title",)),
)


def _skimage_data():
    try:
        from skimage import data
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "curation_assets.media.photo_kit needs scikit-image for its photos, a development "
            "dependency: pip install -e '.[dev]' (or pip install scikit-image)"
        ) from exc
    return data


def photo(name: str) -> np.ndarray:
    """An RGB uint8 image of scikit-image's data set (``camera_mirrored``: left-right flipped)."""
    data = _skimage_data()
    if name == "camera_mirrored":
        image = data.camera()[:, ::-1]
    elif name == "motorcycle":
        image = data.stereo_motorcycle()[0]
    else:
        image = getattr(data, name)()
    if image.dtype != np.uint8:
        image = image.astype(np.float64)
        image = (255 * (image - image.min()) / max(image.max() - image.min(), 1e-9)).round()
    image = image.astype(np.uint8)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def photo_clip(image: np.ndarray, path: Path, seconds: float = 5.0, seed: int = 0) -> Path:
    """A 640x360 clip of ``image`` (letter/pillarboxed) panning 24 px right, with sensor noise."""
    width, height, fps, pan = 640, 360, 12, 24
    scale = min(width / image.shape[1], height / image.shape[0])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    fitted = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[y : y + size[1], x : x + size[0]] = fitted
    rng = np.random.default_rng(seed)
    frames = int(fps * seconds)

    def panned(i: int) -> np.ndarray:
        shift = np.float32([[1, 0, pan * i / (frames - 1) - pan / 2], [0, 1, 0]])
        moved = cv2.warpAffine(canvas, shift, (width, height)).astype(np.int16)
        return (moved + rng.normal(0, 3, moved.shape)).clip(0, 255).astype(np.uint8)

    return encode_frames(
        path, map(panned, range(frames)), fps, {"preset": "ultrafast", "crf": "20"}
    )
