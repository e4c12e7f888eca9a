"""A selected still image -> the bytes of its ``<key>.jpg``: the source file itself when nothing
has to change, else decoded, cropped, shrunk and encoded as JPEG.

- **Copied** (byte-identical, ``out_jpeg = copied``): the source is a JPEG (not a camera MPO)
  in RGB or greyscale, its EXIF orientation is upright, and the geometry keeps every pixel: no
  border or watermark crop, no centre crop to the bucket's aspect ratio (the same crop a video
  clip gets), no shrink to the export's ``short_side``. The file is still decoded once (at a
  reduced DCT scale) so a truncated or corrupt JPEG fails instead of reaching a loader.
- **Re-encoded** (``out_jpeg = reencoded``): anything else (PNG, WebP, AVIF, TIFF, BMP, GIF, CMYK
  or rotated JPEGs, crops, shrinks). ``media.image.load_rgb`` decodes it upright as 8-bit RGB at
  full size (alpha composited over white, 16-bit and palette images converted); the geometry is
  ``media.transcode.plan_geometry(even=False)`` (no even alignment: JPEG needs none); shrinking
  uses OpenCV's area filter, as video exports do; the JPEG is baseline, 4:2:0, with optimised
  Huffman tables, no EXIF (pixels are upright) and the source's ICC profile when it describes
  RGB. libjpeg is deterministic: the same input and settings give the same bytes.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from curation_assets.media.image import (
    STILL_FORMATS,
    _no_bomb_check,  # admission already refused images over its pixel limit
    _orientation,
    load_rgb,
)
from curation_assets.media.transcode import Geometry, TranscodeError, plan_geometry
from curation_assets.storage.access import SourceAccess

COPYABLE_MODES = ("RGB", "L")  # a copied JPEG must read as RGB or grey in any loader
_SWAPS_SIDES = {5, 6, 7, 8}  # EXIF orientations that turn the image a quarter
_SUBSAMPLING_420 = 2
_BAD_IMAGE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


class ImageExportError(TranscodeError):
    """A still image that cannot be exported; ``kind``: source_missing, unreadable,
    decode_failed or encode_failed (``vocabulary.ExportFailure`` values)."""


@dataclass(frozen=True)
class ExportedImage:
    data: bytes
    width: int
    height: int
    copied: bool  # the source's own bytes


def read_source(sources: SourceAccess, uri: str) -> bytes:
    """The whole file (a still image is small): in place, or by ranged GETs for s3://."""
    try:
        with sources.open(uri) as source:
            if isinstance(source, (str, os.PathLike)):
                return Path(source).read_bytes()
            return source.read()
    except FileNotFoundError as exc:
        raise ImageExportError("source_missing", f"{uri}: {exc}"[:300]) from exc
    except Exception as exc:  # noqa: BLE001 - no access, a broken connection: unreadable
        raise ImageExportError("unreadable", f"{type(exc).__name__}: {exc}"[:300]) from exc


def image_geometry(
    width: int,
    height: int,
    crop: tuple[int, int, int, int] | None,
    aspect: float | None,
    short_side: int | None,
) -> Geometry:
    """Where the output pixels come from in the upright image, and the output size."""
    return plan_geometry(width, height, crop, aspect, short_side, even=False)


def keeps_every_pixel(g: Geometry, width: int, height: int) -> bool:
    return (g.crop_x, g.crop_y, g.crop_w, g.crop_h, g.width, g.height) == (
        0, 0, width, height, width, height,
    )  # fmt: skip


def export_image(
    data: bytes,
    crop: tuple[int, int, int, int] | None = None,
    aspect: float | None = None,
    short_side: int | None = None,
    quality: int = 95,
) -> ExportedImage:
    """The ``.jpg`` bytes for one image file's ``data``; raises ``ImageExportError``.

    ``crop`` (x, y, w, h) is in upright pixels (after EXIF orientation), as the analyzers saw
    the image and as ``videos.width``/``height`` are; ``aspect`` is the bucket's w/h."""
    try:
        with _no_bomb_check(), Image.open(io.BytesIO(data), formats=STILL_FORMATS) as img:
            fmt, mode, (coded_w, coded_h) = img.format, img.mode, img.size
            orientation = _orientation(img)
            icc = img.info.get("icc_profile")
            width, height = (coded_h, coded_w) if orientation in _SWAPS_SIDES else img.size
            geometry = image_geometry(width, height, crop, aspect, short_side)
            copy = (
                fmt == "JPEG"
                and mode in COPYABLE_MODES
                and orientation == 1
                and keeps_every_pixel(geometry, width, height)
            )
            if copy:
                # every scan is read (a truncated file fails here), the IDCT at 1/8 scale
                img.draft(mode, (max(1, coded_w // 8), max(1, coded_h // 8)))
                img.load()
                return ExportedImage(data, width, height, copied=True)
    except _BAD_IMAGE as exc:
        raise ImageExportError("unreadable", f"{type(exc).__name__}: {exc}"[:300]) from exc
    try:
        rgb = load_rgb(io.BytesIO(data))
    except _BAD_IMAGE as exc:
        raise ImageExportError("unreadable", f"{type(exc).__name__}: {exc}"[:300]) from exc
    except MemoryError as exc:
        raise ImageExportError("decode_failed", f"MemoryError: {exc}"[:300]) from exc
    if rgb.shape[:2] != (height, width):  # trust the decoded pixels over the header
        height, width = rgb.shape[:2]
        geometry = image_geometry(width, height, crop, aspect, short_side)
    try:
        out = _encode(_crop_and_shrink(rgb, geometry), quality, _rgb_profile(icc))
    except (OSError, ValueError, MemoryError, cv2.error) as exc:
        raise ImageExportError("encode_failed", f"{type(exc).__name__}: {exc}"[:300]) from exc
    return ExportedImage(out, geometry.width, geometry.height, copied=False)


def _crop_and_shrink(rgb: np.ndarray, g: Geometry) -> np.ndarray:
    part = rgb[g.crop_y : g.crop_y + g.crop_h, g.crop_x : g.crop_x + g.crop_w]
    if part.shape[:2] == (g.height, g.width):
        return np.ascontiguousarray(part)
    interp = cv2.INTER_AREA if g.width <= part.shape[1] else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(part), (g.width, g.height), interpolation=interp)


def _rgb_profile(icc: bytes | None) -> bytes | None:
    """The ICC profile, when its colour space (header bytes 16-19) is RGB: a CMYK source's
    profile does not describe the RGB pixels ``load_rgb`` gives."""
    if isinstance(icc, bytes) and len(icc) >= 128 and icc[16:20] == b"RGB ":
        return icc
    return None


def _encode(rgb: np.ndarray, quality: int, icc: bytes | None) -> bytes:
    buf = io.BytesIO()
    options = {"quality": quality, "subsampling": _SUBSAMPLING_420, "optimize": True}
    if icc:
        options["icc_profile"] = icc
    Image.fromarray(rgb).save(buf, "JPEG", **options)
    return buf.getvalue()
