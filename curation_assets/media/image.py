"""Still images: probe with Pillow, decode once at the sizes the analyzers need.

An image becomes one "video" row (``media = image``) and one clip with no time span, so the
filters, lineage and exports treat it like any clip; this module is where it is read.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from curation_assets.media.decode import FrameSamples, PassResult
from curation_assets.media.probe import Probe, probe_file, sha256_of

# Formats a camera, a phone or a web crawl gives. Pillow also "identifies" MPEG video, TGA and
# other headerless formats from a few bytes, so anything else goes to the video probe.
# (a camera's MPO, a JPEG with preview pictures, opens through the JPEG plugin)
STILL_FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "TIFF", "BMP")
_ANIMATED_FORMATS = {"GIF", "PNG", "WEBP", "AVIF"}
# EXIF orientation -> counter-clockwise degrees for display (mirrored ones: their rotation part)
_EXIF_ROTATION = {1: 0, 2: 0, 3: 180, 4: 180, 5: 270, 6: 270, 7: 90, 8: 90}
_SWAPS_SIDES = {5, 6, 7, 8}
_BACKGROUND = (255, 255, 255)  # transparent pixels are shown over white, as a browser would


def probe_media(path: Path | str, max_image_pixels: int) -> Probe:
    """A still image is probed by Pillow, anything else (animated images too) by PyAV."""
    path = Path(path)
    kind = sniff(path)
    if kind is None:
        return probe_file(path)
    if kind.startswith("animated "):
        probe = probe_file(path)  # GIF / APNG play as video; ffmpeg decides what it can read
        note = f"{kind}: " + (probe.error or "")
        return probe if probe.readable else _with(probe, error=note.rstrip(": ")[:500])
    return probe_image(path, max_image_pixels)


def sniff(path: Path) -> str | None:
    """Pillow's format name for a still image, ``"animated <FMT>"``, or None (not an image)."""
    try:
        with _no_bomb_check(), Image.open(path, formats=STILL_FORMATS) as img:
            frames = getattr(img, "n_frames", 1)
            # moving pictures; a multi-page TIFF or a camera's MPO (a JPEG plus previews) is
            # a still: its first picture
            if frames > 1 and img.format in _ANIMATED_FORMATS:
                return f"animated {img.format} ({frames} frames)"
            return img.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None


def probe_image(path: Path, max_pixels: int) -> Probe:
    """Never raises for a bad image: a broken one is a ``Probe`` with ``readable=False``."""
    try:
        size = path.stat().st_size
        digest = sha256_of(path)
    except OSError as exc:
        return Probe(str(path), 0, None, False, error=f"os: {exc.strerror or exc}", media="image")
    base = dict(path=str(path), bytes=size, content_sha256=digest, media="image", frame_count=1)
    facts: dict = {}
    try:
        with _no_bomb_check(), Image.open(path, formats=STILL_FORMATS) as img:
            coded_w, coded_h = img.size
            facts = dict(
                container_format=img.format,
                codec=img.format.lower(),
                pix_fmt=img.mode,
                coded_width=coded_w,
                coded_height=coded_h,
                width=coded_w,
                height=coded_h,
                has_video=True,
            )
            if coded_w * coded_h > max_pixels:  # from the header: never decoded
                return Probe(readable=True, **base, **facts)
            _draft(img, 64)
            img.load()  # the whole stream is read: a truncated or corrupt file fails here
            # after load: PNG's getexif() loads the image itself, and would hide its errors
            orientation = _orientation(img)
            if orientation in _SWAPS_SIDES:
                facts.update(width=coded_h, height=coded_w)
            facts["rotation"] = _EXIF_ROTATION.get(orientation, 0)
            return Probe(readable=True, **base, **facts)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        return Probe(readable=False, error=error, **base, **facts)


def _with(probe: Probe, **changes) -> Probe:
    return Probe(**{**probe.as_row(), **changes})


class _no_bomb_check:
    """Pillow refuses huge images at open; admission does that itself, with a reason."""

    def __enter__(self):
        self.before = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None

    def __exit__(self, *exc):
        Image.MAX_IMAGE_PIXELS = self.before


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1) or 1)
    except (OSError, ValueError, TypeError, SyntaxError):
        return 1


def _draft(img: Image.Image, short_side: int) -> None:
    """JPEG: decode at 1/2, 1/4 or 1/8 scale in the DCT, never below ``short_side``."""
    if img.format not in ("JPEG", "MPO"):
        return
    w, h = img.size
    scale = short_side / max(1, min(w, h))
    if scale < 1:
        img.draft(img.mode, (max(1, int(w * scale + 0.999)), max(1, int(h * scale + 0.999))))


def load_rgb(path: Path | str, short_side: int | None = None) -> np.ndarray:
    """The image upright (EXIF), as 8-bit RGB, shrunk to ``short_side`` when larger.

    CMYK, 16-bit, greyscale, palette and alpha images are converted here, in one place."""
    with _no_bomb_check(), Image.open(path, formats=STILL_FORMATS) as img:
        if short_side:
            _draft(img, short_side)
        img.load()
        img = ImageOps.exif_transpose(img)
        rgb = to_rgb8(img)
    if short_side and min(rgb.shape[:2]) > short_side:
        h, w = rgb.shape[:2]
        scale = short_side / min(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb


def to_rgb8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if mode == "F":
            top = 1.0 if values.max(initial=0) <= 1.0 else top
        grey = np.clip(values * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info or mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*_BACKGROUND, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def image_pass(path: Path | str, rgb_short_side: int, grey_short_side: int) -> PassResult:
    """The image as a pass of one frame at t = 0: one colour and one grey sample."""
    started = time.perf_counter()
    rgb = load_rgb(path, rgb_short_side)
    h, w = rgb.shape[:2]
    scale = min(1.0, grey_short_side / min(h, w))
    grey_size = (max(2, round(w * scale)), max(2, round(h * scale)))
    grey = cv2.resize(
        cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), grey_size, interpolation=cv2.INTER_AREA
    )
    samples = FrameSamples(rgb=[rgb], rgb_times=[0.0], grey=[grey], grey_times=[0.0])
    return PassResult(
        frames=1,
        fps=0.0,
        frame_times=np.zeros(1, np.float64),
        end_s=0.0,
        cuts=[],
        cuts_by_detector={},
        luma_delta=np.zeros(1, np.float32),
        samples=samples,
        elapsed_s=time.perf_counter() - started,
    )
