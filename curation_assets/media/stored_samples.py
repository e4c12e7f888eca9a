"""The samples of a decode pass on disk: one ``.npz`` per video, written once by the pass and
read by every later step, so no step re-opens the video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from curation_assets.storage.files import atomic_output

if TYPE_CHECKING:
    from curation_assets.media.decode import PassResult


def save_samples(target: Path, result: PassResult, jpeg_quality: int) -> None:
    """One file per video; written aside and renamed so a reader never sees half of it."""
    samples = result.samples
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
    encoded = [
        cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), params)[1] for img in samples.rgb
    ]
    offsets = np.cumsum([0] + [len(e) for e in encoded]).astype(np.int64)
    grey = np.stack(samples.grey) if samples.grey else np.zeros((0, 0, 0), np.uint8)
    # Uncompressed: these samples barely compress (grain, JPEG) and zlib cost ~0.2x a decode.
    with atomic_output(target) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            rgb_jpeg=np.concatenate(encoded) if encoded else np.zeros(0, np.uint8),
            rgb_offsets=offsets,
            rgb_times=np.asarray(samples.rgb_times, np.float64),
            grey=grey,
            grey_times=np.asarray(samples.grey_times, np.float64),
            frame_times=result.frame_times,
            luma_delta=result.luma_delta,
            cuts=np.asarray(result.cuts, np.int64),
        )


@dataclass
class StoredSamples:
    rgb_times: np.ndarray
    grey: np.ndarray
    grey_times: np.ndarray
    frame_times: np.ndarray
    luma_delta: np.ndarray
    cuts: np.ndarray
    _jpeg: np.ndarray
    _offsets: np.ndarray

    def rgb(self, index: int) -> np.ndarray:
        chunk = self._jpeg[self._offsets[index] : self._offsets[index + 1]]
        return cv2.cvtColor(cv2.imdecode(chunk, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def rgb_between(self, start_s: float, end_s: float) -> list[tuple[float, np.ndarray]]:
        picks = np.flatnonzero((self.rgb_times >= start_s) & (self.rgb_times < end_s))
        return [(float(self.rgb_times[i]), self.rgb(int(i))) for i in picks]


def load_samples(path: Path) -> StoredSamples:
    with np.load(path) as data:
        return StoredSamples(
            rgb_times=data["rgb_times"],
            grey=data["grey"],
            grey_times=data["grey_times"],
            frame_times=data["frame_times"],
            luma_delta=data["luma_delta"],
            cuts=data["cuts"],
            _jpeg=data["rgb_jpeg"],
            _offsets=data["rgb_offsets"],
        )
