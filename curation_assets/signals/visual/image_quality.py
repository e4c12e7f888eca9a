"""Classical sharpness, exposure and colour of a clip, and the offline ``technical_quality``
score made from them (a stand-in for a learned aesthetic score).

Measured inside the bars (``borders.py``), so a letterboxed clip is not called dark, and at a
fixed analysis scale, so resolution does not pass for sharpness. Raw scores only; curation.yaml
decides what passes (docs/architecture.md "Score once, select many").

Measured on the synthetic clips of ``curation_assets_tests/signals/test_visual.py`` (4.5 s,
320x180 unless noted; samples of 2 fps, short side <= 256):

==================  ===============  =========  ===================================================
signal              scorer           range      meaning; measured
==================  ===============  =========  ===================================================
sharpness           classical_       >= 0       median over samples of var(3x3 Laplacian) of 0-255
                    quality                     luma, content box resized to short side 256;
                                                clean 60 (360p: 167), blur:3 4.5, dark:0.15 2.9.
                                                Low for dark or flat scenes, high for noise/text
brightness          classical_       0-1        mean luma / 255; clean 0.32, dark:0.15 0.05,
                    quality                     dark:0.3 0.10, bright:3 0.68, letterbox 0.32
dark_fraction       classical_       0-1        share of luma < 16; clean 0, dark:0.15 0.86
                    quality
clipped_fraction    classical_       0-1        share of pixels with >= 2 channels > 250 (blown
                    quality                     highlights); clean 0.002, bright:3 0.83, title 0.10
highlights          classical_       0-1        99th percentile of luma / 255: how bright the
                    quality                     brightest parts are. An underexposed picture has
                                                none; a night scene or a deep-sky photo keeps its
                                                lights. Real photos (cases of benchmarks/
                                                image_judgments.py): 3-6 stops under 0.06-0.38,
                                                1 stop under and clean 0.45-1.0 (Hubble deep
                                                field 0.59 with a mean of 0.08). The image
                                                exposure gate uses it
sharpness_balance   classical_       0-1        RMS second derivative (3x3 Sobel) along the
                    quality                     blurriest of 36 directions / along the sharpest,
                                                same 256 px scale: 1 alike in every direction. A
                                                motion streak leaves edges across it sharp (the
                                                Laplacian stays high) and none along it. Real
                                                photos (cases of benchmarks/image_judgments.py):
                                                clean and their copies 0.34-0.99 (brick walls
                                                0.38), a 4 % motion streak 0.16-0.34, Gaussian
                                                blur and defocus 0.6-0.94. The image sharpness
                                                gate uses it
contrast            classical_       0-~0.5     std of luma / 255; clean 0.13, dark:0.15 0.02
                    quality
colorfulness        classical_       0-1        Hasler-Suesstrunk M / 100, clipped; clean 0.83,
                    quality                     dark:0.15 0.13 (M: 33 moderate, 59 quite colourful)
keyframe_t          classical_       s          sharpest sample, seconds from clip start
                    quality                     (artifact "keyframe": (video time s, rgb))
technical_quality   technical_       0-1        offline stand-in for ``aesthetic`` (see
                    quality                     ``technical_quality()``); clean 0.50, 360p 0.73,
                                                blur:3 0.07, dark:0.3 0.02, dark:0.15 0, bright:3 0
==================  ===============  =========  ===================================================

A clip with no rgb samples gets no scores (stored as "not scored", never as a pass).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.visual.borders import BAR_INSET, Borders, measure_borders

# --- sharpness, exposure, colour ----------------------------------------------------------------


def _middle_channel(rgb: np.ndarray) -> np.ndarray:
    """Per pixel, the median of the three channels (> x means at least two channels > x)."""
    r, g, b = cv2.split(rgb)
    return cv2.max(cv2.min(r, g), cv2.min(cv2.max(r, g), b))


@dataclass(frozen=True)
class QualityStats:
    """Per-frame measures of the content box at the analysis scale (bars cut away)."""

    times: np.ndarray
    sharpness: np.ndarray  # variance of the 3x3 Laplacian of 0-255 luma
    brightness: np.ndarray  # mean luma / 255
    dark_fraction: np.ndarray  # share of luma < 16
    clipped_fraction: np.ndarray  # share of pixels with >= 2 of 3 channels > 250 (blown out)
    highlights: np.ndarray  # 99th percentile of luma / 255
    sharpness_balance: np.ndarray  # second derivative along the blurriest / sharpest direction
    contrast: np.ndarray  # std of luma / 255
    colorfulness: np.ndarray  # Hasler-Suesstrunk M / 100, clipped to 1
    borders: Borders

    @property
    def sharpest(self) -> int:
        return int(np.argmax(self.sharpness))

    def summary(self) -> dict[str, float]:
        """Median sharpness (robust to a motion-blurred frame), mean of the rest."""
        return {
            "sharpness": float(np.median(self.sharpness)),
            "brightness": float(np.mean(self.brightness)),
            "dark_fraction": float(np.mean(self.dark_fraction)),
            "clipped_fraction": float(np.mean(self.clipped_fraction)),
            "highlights": float(np.mean(self.highlights)),
            "sharpness_balance": float(np.median(self.sharpness_balance)),
            "contrast": float(np.mean(self.contrast)),
            "colorfulness": float(np.mean(self.colorfulness)),
        }


def _resize_short_side(image: np.ndarray, short_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = short_side / min(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    if size == (w, h):
        return image
    mode = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, size, interpolation=mode)


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) M: ~0 grey, 33 moderately, 59 quite, 109 extremely colourful."""
    r, g, b = (c.astype(np.float32) for c in cv2.split(rgb))
    rg = cv2.subtract(r, g)
    yb = cv2.subtract(cv2.addWeighted(r, 0.5, g, 0.5, 0.0), b)
    (rg_mean,), (rg_std,) = (v.ravel() for v in cv2.meanStdDev(rg))
    (yb_mean,), (yb_std,) = (v.ravel() for v in cv2.meanStdDev(yb))
    return float(np.hypot(rg_std, yb_std) + 0.3 * np.hypot(rg_mean, yb_mean))


def luma_percentile(luma: np.ndarray, share: float) -> int:
    """The lowest grey level with at least ``share`` of the pixels at or below it (from a
    256-bin histogram: exact, and the same on every machine)."""
    counts = cv2.calcHist([luma], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    return int(np.searchsorted(np.cumsum(counts), share * luma.size))


# Directions 0, 5, ..., 175 degrees as the weights of (Lxx, Lxy, Lyy) in the second derivative
# along them: cos^2, 2 cos sin, sin^2 (rounded, so every machine uses the same numbers).
_ANGLES = [math.radians(a) for a in range(0, 180, 5)]
_DIRECTIONS = [
    [round(w, 12) for w in (math.cos(t) ** 2, 2 * math.cos(t) * math.sin(t), math.sin(t) ** 2)]
    for t in _ANGLES
]


def sharpness_balance(luma: np.ndarray) -> float:
    """RMS second derivative along the direction where it is smallest / where it is largest.

    The moments of (Lxx, Lxy, Lyy) are exact on any machine: each product of two derivatives
    (integers up to 2040) is exact in float32, their sums (integers under 2**53) in float64 in
    any order. The energy along a direction is then a quadratic form in them.
    """
    parts = [cv2.Sobel(luma, cv2.CV_32F, dx, dy, ksize=3) for dx, dy in ((2, 0), (1, 1), (0, 2))]
    moments = [[0.0] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(i, 3):
            total = cv2.multiply(parts[i], parts[j]).sum(dtype=np.float64)
            moments[i][j] = moments[j][i] = float(total) / luma.size
    energy = [
        sum(w[i] * moments[i][j] * w[j] for i in range(3) for j in range(3)) for w in _DIRECTIONS
    ]
    strongest = max(energy)
    return math.sqrt(max(0.0, min(energy)) / strongest) if strongest > 0 else 1.0


_last = threading.local()  # one-entry memo: QualityAnalyzer and TechnicalQualityAnalyzer share


def quality_stats(rgb: Sequence[np.ndarray], times: np.ndarray, short_side: int) -> QualityStats:
    """Per-frame measures; the last result is reused when asked again for the same frames.

    The memo keeps the frames themselves alive, so their ids cannot be reused by other arrays
    while it holds them.
    """
    key = (tuple(id(im) for im in rgb), short_side)
    memo = getattr(_last, "entry", None)
    if memo is not None and memo[0] == key and np.array_equal(memo[2].times, times):
        return memo[2]
    stats = _quality_stats(rgb, times, short_side)
    _last.entry = (key, list(rgb), stats)
    return stats


def _quality_stats(rgb: Sequence[np.ndarray], times: np.ndarray, short_side: int) -> QualityStats:
    borders = measure_borders(rgb)
    names = ("sh", "br", "dk", "cl", "hi", "sb", "co", "cf")
    columns: dict[str, list[float]] = {k: [] for k in names}
    for image in rgb:
        small = _resize_short_side(borders.crop(image, inset=BAR_INSET), short_side)
        luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        pixels = float(luma.size)
        # OpenCV's meanStdDev on a 16-bit Laplacian: same values as NumPy's var, ~5x faster
        _, lap_std = cv2.meanStdDev(cv2.Laplacian(luma, cv2.CV_16S, ksize=1))
        columns["sh"].append(float(lap_std.ravel()[0]) ** 2)
        mean, std = (float(v.ravel()[0]) for v in cv2.meanStdDev(luma))
        columns["br"].append(mean / 255.0)
        columns["dk"].append(cv2.countNonZero(cv2.compare(luma, 16, cv2.CMP_LT)) / pixels)
        clipped = cv2.compare(_middle_channel(small), 250, cv2.CMP_GT)
        columns["cl"].append(cv2.countNonZero(clipped) / pixels)
        columns["hi"].append(luma_percentile(luma, 0.99) / 255.0)
        columns["sb"].append(sharpness_balance(luma))
        columns["co"].append(std / 255.0)
        columns["cf"].append(min(1.0, colorfulness(small) / 100.0))
    arrays = {k: np.asarray(v, np.float64) for k, v in columns.items()}
    return QualityStats(
        times=np.asarray(times, np.float64),
        sharpness=arrays["sh"],
        brightness=arrays["br"],
        dark_fraction=arrays["dk"],
        clipped_fraction=arrays["cl"],
        highlights=arrays["hi"],
        sharpness_balance=arrays["sb"],
        contrast=arrays["co"],
        colorfulness=arrays["cf"],
        borders=borders,
    )


class QualityAnalyzer(ClipAnalyzer):
    """Classical sharpness, exposure and colour, measured inside the bars at a fixed scale.

    Every sample is resized so its short side is ``analysis_short_side`` px before measuring, so
    a 4K and a 480p copy of the same footage get about the same sharpness: resolution has its own
    filter. The sharpest sample is kept as the clip's keyframe (HunyuanVideo starts from a clear
    frame chosen by Laplacian variance).
    """

    name = "classical_quality"
    version = "2:highlights,sharpness_balance"
    order = 40
    declares = (
        Signal(
            "sharpness",
            "variance of the Laplacian of the sharpest sample at a fixed 256 px scale",
            better="higher",
            range=(0.0, None),
            gate=(10.0, None),
            plot_in_subsets=True,
            export=4,
        ),
        Signal(
            "brightness",
            "mean luma inside the bars",
            unit="0-1",
            range=(0.0, 1.0),
            gate=(0.08, 0.92),
        ),
        Signal(
            "dark_fraction",
            "share of pixels under 16 grey levels",
            unit="share of pixels",
            range=(0.0, 1.0),
        ),
        Signal(
            "clipped_fraction",
            "share of pixels blown out at the top of the range",
            unit="share of pixels",
            better="lower",
            range=(0.0, 1.0),
            gate=(None, 0.3),
        ),
        Signal(
            "highlights",
            "99th percentile of luma: an underexposed picture has no bright parts",
            unit="0-1",
            better="higher",
            range=(0.0, 1.0),
        ),
        Signal(
            "sharpness_balance",
            "sharpness along the blurriest direction / along the sharpest (a motion streak: low)",
            unit="0-1",
            better="higher",
            range=(0.0, 1.0),
        ),
        Signal("contrast", "standard deviation of luma", unit="0-1", range=(0.0, 1.0)),
        Signal(
            "colorfulness",
            "Hasler-Suesstrunk colourfulness M / 100 (0.15 slightly, 0.59 quite colourful)",
            better="higher",
            range=(0.0, None),
        ),
        Signal(
            "keyframe_t",
            "time of the sharpest sample, kept as the clip's keyframe",
            unit="s",
            range=(0.0, None),
        ),
    )

    def __init__(self, analysis_short_side: int = 256) -> None:
        if analysis_short_side < 32:
            raise ValueError(f"analysis_short_side must be >= 32, got {analysis_short_side}")
        self.analysis_short_side = analysis_short_side

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        stats = quality_stats(clip.rgb, clip.rgb_times, self.analysis_short_side)
        k = stats.sharpest
        t = float(stats.times[k])
        return Measurement(
            scores={**stats.summary(), "keyframe_t": t - clip.start_s},
            artifacts={"keyframe": (t, clip.rgb[k])},
        )


# --- offline stand-in for an aesthetic score ----------------------------------------------------

# Laplacian variance at which the sharpness term reaches one half (saturating: s / (s + k)).
SHARPNESS_HALF = 50.0


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi``, linear between (``lo > hi`` gives a falling ramp)."""
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def technical_quality(summary: dict[str, float]) -> float:
    """0-1 from classical measures; every term is monotone and documented.

    - sharp = s / (s + SHARPNESS_HALF): 0 for a flat frame, 0.5 at SHARPNESS_HALF, -> 1
    - exposure = brightness ramp (0 at 0.05, 1 from 0.25 to 0.75, 0 at 0.95)
      x (1 - clipped_fraction / 0.25) x (1 - dark_fraction / 0.6), each clipped to [0, 1]
    - look = 0.6 + 0.2 * min(1, contrast / 0.2) + 0.2 * min(1, colorfulness / 0.4)

    technical_quality = sharp x exposure x look: a blurred or badly exposed clip scores low
    whatever its colour; contrast and colour only shade the rest (a sharp, well-exposed
    black-and-white clip still gets 0.6-0.8).
    """
    sharp = summary["sharpness"] / (summary["sharpness"] + SHARPNESS_HALF)
    b = summary["brightness"]
    exposure = min(_ramp(b, 0.05, 0.25), _ramp(b, 0.95, 0.75))
    exposure *= _ramp(summary["clipped_fraction"], 0.25, 0.0)
    exposure *= _ramp(summary["dark_fraction"], 0.6, 0.0)
    look = (
        0.6
        + 0.2 * min(1.0, summary["contrast"] / 0.2)
        + 0.2 * min(1.0, summary["colorfulness"] / 0.4)
    )
    return float(sharp * exposure * look)


class TechnicalQualityAnalyzer(ClipAnalyzer):
    """Offline stand-in for the aesthetic score: classical measures only, no learned model.

    Stored under its own signal name (``technical_quality``), never as ``aesthetic``, so it is
    never mistaken for a model score.
    """

    name = "technical_quality"
    version = "1"
    order = 60
    declares = (
        Signal(
            "technical_quality",
            "offline stand-in for the aesthetic score from classical measures (no model)",
            unit="0-1",
            better="higher",
            range=(0.0, 1.0),
            gate=(0.15, None),
            plot_in_subsets=True,
            export=2,
        ),
    )

    @classmethod
    def from_config(cls, cfg):
        """Runs only where no aesthetic model is configured."""
        v = cfg.visual
        configured = v.aesthetic_clip_model and v.aesthetic_clip_pretrained
        return None if configured and v.aesthetic_head_path else cls()

    def __init__(self, analysis_short_side: int = 256) -> None:
        self.analysis_short_side = analysis_short_side

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        stats = quality_stats(clip.rgb, clip.rgb_times, self.analysis_short_side)
        return Measurement(scores={"technical_quality": technical_quality(stats.summary())})
