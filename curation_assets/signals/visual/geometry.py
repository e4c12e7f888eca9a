"""The visual family's size facts: display size after rotation, so no pixels are needed.

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").

==================  ===============  =========  ===================================================
signal              scorer           range      meaning
==================  ===============  =========  ===================================================
short_side_px       geometry         px         min(display w, h); labels ``resolution_tier``
                                                (2160p ... 256p, below_256p) and ``orientation``
aspect_ratio        geometry         > 0        display w / h; landscape > 1.05, portrait < 0.95
==================  ===============  =========  ===================================================
"""

from __future__ import annotations

from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Label, Measurement, Signal

RESOLUTION_TIERS: tuple[tuple[int, str], ...] = (
    (2160, "2160p"),
    (1440, "1440p"),
    (1080, "1080p"),
    (720, "720p"),
    (540, "540p"),
    (480, "480p"),
    (360, "360p"),
    (256, "256p"),
)
BELOW_TIERS = "below_256p"


def resolution_tier(short_side: int) -> str:
    for minimum, tier in RESOLUTION_TIERS:
        if short_side >= minimum:
            return tier
    return BELOW_TIERS


def orientation(aspect_ratio: float) -> str:
    if aspect_ratio > 1.05:
        return "landscape"
    if aspect_ratio < 0.95:
        return "portrait"
    return "square"


class GeometryAnalyzer(ClipAnalyzer):
    """Display size facts (after rotation); needs no pixels."""

    name = "geometry"
    version = "1"
    order = 10
    declares = (
        Signal(
            "short_side_px",
            "the short side of the picture as displayed (after rotation)",
            unit="px",
            better="higher",
            range=(1, 100_000),
            gate=(144, None),
        ),
        Signal(
            "aspect_ratio",
            "width over height as displayed: > 1 landscape, < 1 portrait",
            range=(0.01, 100),
            gate=(0.4, 2.5),
        ),
    )

    def analyze(self, clip: ClipSamples) -> Measurement:
        short = min(clip.width, clip.height)
        aspect = clip.width / clip.height
        return Measurement(
            scores={"short_side_px": float(short), "aspect_ratio": aspect},
            labels=[
                Label("resolution_tier", resolution_tier(short)),
                Label("orientation", orientation(aspect)),
            ],
        )
