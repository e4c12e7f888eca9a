"""Encoder settings that give the same bytes on every machine and every run.

libx264 is not reproducible with its defaults, measured here on the export's own clips:

- ``threads`` defaults to 1.5 x the cores this process may use, and frame threads (or, under
  ``tune=zerolatency``, slices) change the bitstream, so a 1-core CI box and a 16-core
  workstation write different files;
- with a fixed thread count the macroblock tree (``mbtree``) still gave 7 different outputs in
  40 encodes of identical frames in one process (the first I-frame's size varied), which made a
  resumed export differ from a clean one.

So the thread count is pinned and the macroblock tree is off (its gain is a few percent of
bitrate at a given CRF). Other encoders get the pinned thread count through FFmpeg's generic
``threads`` option.
"""

from __future__ import annotations

ENCODER_THREADS = 4  # fixed, never "auto": the output must not depend on the machine
_X264_FIXED = f"threads={ENCODER_THREADS}:mbtree=0"


def reproducible_options(codec: str, options: dict[str, str] | None = None) -> dict[str, str]:
    """``options`` (crf, preset, ...) plus what makes ``codec``'s output byte-identical."""
    merged = {"threads": str(ENCODER_THREADS), **(options or {})}
    if codec == "libx264":
        extra = merged.pop("x264-params", "")
        merged["x264-params"] = f"{extra}:{_X264_FIXED}" if extra else _X264_FIXED
    return merged
