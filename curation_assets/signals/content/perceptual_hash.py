"""The content family's perceptual hash: the key of the global near-duplicate search.

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").
Vectors go to ``Measurement.artifacts["vectors"]`` as ``{name: 1-D array}``; the runner stores
them per shard for the global near-duplicate and concept assets.

=================  ====================  ======  ==============================================
signal / vector    scorer                range   meaning
=================  ====================  ======  ==============================================
phash (vector)     phash                 uint8   3 x 64-bit DCT pHash (middle, first, last rgb
                                                 sample), bits packed: 24 bytes, middle first
phash_spread       phash                 0-1     max Hamming distance among the three / 64
phash_crops (vec)  phash                 uint8   still images only: 4 x 64-bit pHash of centred
                                                 crops keeping 95, 90, 85, 80% of each side, then
                                                 33 *window keys*: one side cut by 5-25% (20),
                                                 two adjacent sides by 5-15% (12), the mirror (1)
phash_frames (vec) phash                 uint8   video clips only: 16 x 64-bit pHash of up to 16
                                                 rgb samples spread over the clip (the last one
                                                 repeated when the clip has fewer)
=================  ====================  ======  ==============================================

Measured (``curation_assets_tests/signals/test_content.py``; samples short side 256, 2 cores):
- pHash, middle hash vs the original 640x360 clip: crf 35 re-encode 0 bits, 320x180 rescale 2,
  brightness x1.1 2; different real photos 30-40; different synthetic scenes 16-26 (one texture
  generator). Near duplicate: Hamming <= 8 of 64. ~0.9 ms a hash of a 455x256 sample (1 CPU).
- Still images (skimage's 20 photos with a short side >= 256, through the stored JPEG sample;
  ``curation_assets_tests/selection/test_image_duplicates.py``): a half-size JPEG q70 re-encode
  0-4 bits; a centred crop of 5% off each side 6-22 bits from the original's hash (mostly missed
  at radius 8) but 0-2 bits from one of its crop hashes; different photos >= 18 bits apart with
  crops compared (cell / hubble_deep_field), except the Middlebury stereo pair motorcycle_left/right
  (4 bits: one scene from two camera positions). Measured on the decoded photos: 3% / 7% / 10%
  crops 0-6 bits from the nearest crop hash; a crop from one or two sides only is not covered
  (2-18 bits).
- Window keys (``window_hashes``) cover what the centred crops do not: a copy cropped on one
  or two sides only, or mirrored (on the real photos of ``benchmarks/image_judgments.py`` such
  copies were 10-32 bits from every centred key). Each is the pHash of the window's 32x32 box
  means, summed exactly from an integral image (the same bits on any machine, ~1.5 ms for all 33):
  0-4 bits from the copy's own hash where imagehash's Lanczos resize gives 0-2.
- ``phash_frames`` let ``near_duplicates`` tell that an image is a frame of a video clip
  (``selection/frames.py``): up to 13 hashes more than the three of ``phash`` (16 hashes of a
  19-sample clip: ~14 ms).

A clip with no rgb samples gets no scores and no vectors (stored as "not scored").
"""

from __future__ import annotations

import cv2
import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.frame_spread import spread

PHASH_BITS = 64
CROP_SCALES = (0.95, 0.90, 0.85, 0.80)  # side kept by the centred crops of a still image
SIDE_CUTS = (0.05, 0.10, 0.15, 0.20, 0.25)  # share of one side cut off (window keys)
CORNER_CUTS = (0.05, 0.10, 0.15)  # share cut off two adjacent sides (window keys)
FRAME_HASHES = 16  # hashes of a video clip's samples kept for frame_of (selection/frames.py)


def phash_bits(image: np.ndarray) -> np.ndarray:
    """The 64-bit DCT perceptual hash of an RGB uint8 image (imagehash.phash), as 64 bools."""
    return grey_phash_bits(grey_of(image))


def grey_of(image: np.ndarray):
    """Pillow's 8-bit grey of an RGB uint8 image: what imagehash.phash hashes. Per pixel, so a
    crop of it is the grey of the crop: one conversion serves all of an image's crop hashes."""
    from PIL import Image

    return Image.fromarray(image).convert("L")


def grey_phash_bits(grey) -> np.ndarray:
    """imagehash.phash of a grey Pillow image, step for step (same resize, DCT and median), so
    the bits are identical; without its RGB conversion and ``ImageHash`` wrapper."""
    from PIL import Image

    return dct_bits(np.asarray(grey.resize((32, 32), Image.Resampling.LANCZOS)))


def dct_bits(pixels: np.ndarray) -> np.ndarray:
    """imagehash.phash's last steps on (..., 32, 32) pixels: the 8x8 lowest frequencies of the
    2-D DCT, each above their median or not -> (..., 64) bools."""
    import scipy.fftpack

    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=-2), axis=-1)[..., :8, :8]
    flat = dct.reshape(*dct.shape[:-2], 64)
    return flat > np.median(flat, axis=-1, keepdims=True)


def centred_box(width: int, height: int, keep: float) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the centre keeping ``keep`` of the width and the height."""
    dy, dx = round(height * (1 - keep) / 2), round(width * (1 - keep) / 2)
    return dx, dy, width - dx, height - dy


def centred_crop(image: np.ndarray, keep: float) -> np.ndarray:
    """The centre of ``image`` keeping ``keep`` of its width and of its height."""
    h, w = image.shape[:2]
    left, top, right, bottom = centred_box(w, h, keep)
    return image[top:bottom, left:right]


def crop_hashes(image: np.ndarray, grey=None) -> np.ndarray:
    """Packed pHashes of the centred crops (``CROP_SCALES``) of an RGB image, 8 bytes each:
    the same bits as ``packed_hashes`` of the cropped arrays, from one grey conversion
    (``grey``: ``grey_of(image)`` when the caller has it)."""
    grey = grey_of(image) if grey is None else grey
    boxes = [centred_box(grey.width, grey.height, keep) for keep in CROP_SCALES]
    return np.concatenate([np.packbits(grey_phash_bits(grey.crop(box))) for box in boxes])


def window_boxes() -> list[tuple[float, float, float, float]]:
    """(left, top, right, bottom) shares cut off, one per window key (the mirror excluded)."""
    boxes = []
    for cut in SIDE_CUTS:
        boxes += [(cut, 0.0, 0.0, 0.0), (0.0, cut, 0.0, 0.0), (0.0, 0.0, cut, 0.0)]
        boxes += [(0.0, 0.0, 0.0, cut)]
    for cut in CORNER_CUTS:
        boxes += [(cut, cut, 0.0, 0.0), (0.0, cut, cut, 0.0), (0.0, 0.0, cut, cut)]
        boxes += [(cut, 0.0, 0.0, cut)]
    return boxes


# (k, 4) shares cut off (left, top, right, bottom); the last row, nothing cut, becomes the mirror
_WINDOW_CUTS = np.array(window_boxes() + [(0.0, 0.0, 0.0, 0.0)])


def window_hashes(grey) -> np.ndarray:
    """Packed pHashes of the side and corner windows (``window_boxes``) and of the mirrored
    image, 8 bytes each, from one integral image of ``grey`` (``grey_of`` the image): each
    window's 32x32 grid of box means (exact integer sums), then imagehash's DCT and median."""
    grey = np.asarray(grey)
    h, w = grey.shape
    integral = cv2.integral(grey, sdepth=cv2.CV_64F)  # integer sums < 2**53: exact
    cuts = _WINDOW_CUTS
    steps = np.linspace(0.0, 1.0, 33)
    xs = np.round(w * (cuts[:, :1] + (1 - cuts[:, 2:3] - cuts[:, :1]) * steps)).astype(np.int64)
    ys = np.round(h * (cuts[:, 1:2] + (1 - cuts[:, 3:4] - cuts[:, 1:2]) * steps)).astype(np.int64)
    sums = integral[ys[:, :, None], xs[:, None, :]]  # (k, 33, 33) corner sums
    cells = sums[:, 1:, 1:] - sums[:, :-1, 1:] - sums[:, 1:, :-1] + sums[:, :-1, :-1]
    area = np.diff(ys, axis=1)[:, :, None] * np.diff(xs, axis=1)[:, None, :]
    grids = cells / np.maximum(area, 1).astype(np.float64)
    # the mirror: the whole image's grid, columns reversed (the whole image itself is phash's)
    grids[-1] = grids[-1][:, ::-1]
    return np.packbits(dct_bits(grids), axis=1).ravel()


def packed_hashes(images) -> np.ndarray:
    """pHashes of the images, 8 bytes each, concatenated (uint8)."""
    return np.concatenate([np.packbits(phash_bits(img)) for img in images]).astype(np.uint8)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    """Differing bits between two packed hashes (uint8 arrays of equal length)."""
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())


class PerceptualHashAnalyzer(ClipAnalyzer):
    """pHash of the middle, first and last rgb samples: the key for near-duplicate search.

    pHash keeps the signs of the low-frequency DCT of a 32x32 grey image, so it survives
    re-encoding, rescaling and mild brightness changes; the global near-duplicate step compares
    the middle hashes (bytes 0-7 of the ``phash`` vector) across shards.

    A still image (a clip with no time span) also gets ``phash_crops``, the hashes of centred
    crops, side and corner windows and the mirror of its sample, so that a lightly cropped or
    mirrored copy is found (``selection/dedup.py``); a video clip gets ``phash_frames``, the
    hashes of up to 16 of its samples, so that an image taken from one of its frames is found
    (``selection/frames.py``).
    """

    name = "phash"
    version = "3:imagehash-phash64+crops+windows+frames"
    order = 10
    declares = (
        Signal(
            "phash_spread",
            "how far the first and last samples' hashes are from the middle one",
            unit="share of bits",
            range=(0.0, 1.0),
        ),
    )

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        order = (len(clip.rgb) // 2, 0, len(clip.rgb) - 1)  # middle first
        known = {i: phash_bits(clip.rgb[i]) for i in dict.fromkeys(order)}  # one sample: once
        bits = [known[i] for i in order]
        packed = np.concatenate([np.packbits(b) for b in bits]).astype(np.uint8)
        spread_bits = max(int((a != b).sum()) for i, a in enumerate(bits) for b in bits[i + 1 :])
        vectors = {"phash": packed}
        if clip.end_s <= clip.start_s:  # a still image: one sample, no time span
            still = clip.rgb[order[0]]
            grey = grey_of(still)
            keys = [crop_hashes(still, grey), window_hashes(grey)]
            vectors["phash_crops"] = np.concatenate(keys)
        else:
            frames = [
                known[i] if i in known else phash_bits(clip.rgb[i])
                for i in spread(len(clip.rgb), FRAME_HASHES)
            ]
            frames += [frames[-1]] * (FRAME_HASHES - len(frames))  # fixed length: repeat the last
            vectors["phash_frames"] = np.concatenate([np.packbits(b) for b in frames])
        return Measurement(
            scores={"phash_spread": spread_bits / PHASH_BITS},
            artifacts={"vectors": vectors},
        )
