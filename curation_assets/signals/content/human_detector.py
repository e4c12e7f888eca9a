"""OFFLINE human presence from detectors that ship inside installed packages: OpenCV's Haar
faces and HOG pedestrians, or scikit-image's LBP frontal faces (the fallback ``has_human`` when
MediaPipe's detector, ``people.py``, is not used).

Raw scores only; curation.yaml decides what passes (docs/architecture.md "Score once, select many").

=================  ====================  ======  ==============================================
signal / vector    scorer                range   meaning
=================  ====================  ======  ==============================================
human_offline      opencv_people /       0-1     share of sampled frames where a detector
                   skimage_faces                 said yes (has_human: >= 0.5)
face_area          (same)                0-1     largest deciding face box / frame area
face_hits,         opencv_people         >= 0    raw hits of the strongest frontal / profile
profile_hits                                     face group (the detector's confidence)
person_weight      opencv_people         any     highest HOG pedestrian SVM weight
decided_by_face /  opencv_people         0-1     share of frames each detector decided: which
_profile/_person                                 one said yes
person_area        opencv_people         0-1     largest deciding person box / frame area
face_score         skimage_faces         >= 0    raw detections in the best face cluster
=================  ====================  ======  ==============================================

Measured (``curation_assets_tests/signals/test_human_detector.py``; samples short side 256,
2 cores):
- opencv_people, 3 frames: astronaut and Grace Hopper frontal hits 27-37, cameraman (profile,
  either side) profile hits 9-27 -> yes; 19 skimage photos without people and 30 synthetic-kit
  clips: frontal <= 6, profile <= 7, nothing said yes. ~0.3 s CPU a clip with people, ~1 s
  without (every detector runs). The previous rule (HOG >= 0.5 or Haar default face with 6
  neighbours) said yes to coins, Shepp-Logan and 2 synthetic clips and missed the cameraman.
- skimage_faces (fallback), 3 frames: astronaut face_score 15 -> 1.0; cameraman 4 -> 0.0, a
  known miss; cat 5, coffee 2, rocket 3 -> 0.0. ~1.4 s a clip (the cascade is slow).

A clip with no rgb samples gets no scores (stored as "not scored").
"""

from __future__ import annotations

import threading
from typing import Literal

import cv2
import numpy as np

from curation_assets.models.shipped import (
    FRONTAL_CASCADE,
    PROFILE_CASCADE,
    haar_file,
    opencv_people_available,
    people_detector_wanted,
)
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Measurement, Signal
from curation_assets.signals.frame_spread import spread
from curation_assets.signals.has_human import (
    FACE_AREA,
    FACE_SCORE,
    HUMAN_OFFLINE,
    PERSON_AREA,
    has_human_label,
)

HumanBackend = Literal["auto", "opencv", "skimage"]

# OpenCV cascades of the ``opencv`` backend, tried in this order on each sampled frame; the first
# that passes its threshold decides the frame (the later ones are skipped for it).


def cluster_boxes(boxes: np.ndarray, overlap: float = 0.5) -> list[tuple[int, np.ndarray]]:
    """Group raw (x, y, w, h) detections whose intersection covers > ``overlap`` of the smaller
    box; returns (members, mean box) per group, largest group first. The member count is the
    detector's confidence: a real face fires at many neighbouring positions and scales."""
    if len(boxes) == 0:
        return []
    x, y, w, h = (boxes[:, i].astype(np.float64) for i in range(4))
    iw = np.minimum(x[:, None] + w[:, None], x + w) - np.maximum(x[:, None], x)
    ih = np.minimum(y[:, None] + h[:, None], y + h) - np.maximum(y[:, None], y)
    inter = iw.clip(0) * ih.clip(0)
    area = w * h
    linked = inter / np.minimum(area[:, None], area) > overlap
    labels = -np.ones(len(boxes), int)
    groups: list[tuple[int, np.ndarray]] = []
    for seed in range(len(boxes)):
        if labels[seed] >= 0:
            continue
        labels[seed] = len(groups)
        stack = [seed]
        while stack:
            i = stack.pop()
            new = np.flatnonzero(linked[i] & (labels < 0))
            labels[new] = len(groups)
            stack.extend(new.tolist())
        members = labels == len(groups)
        groups.append((int(members.sum()), boxes[members].astype(np.float64).mean(axis=0)))
    return sorted(groups, key=lambda g: -g[0])


def _best_cascade_cluster(
    cascade, grey: np.ndarray, scale_factor: float, min_px: int
) -> tuple[int, float]:
    """(raw hits in the strongest detection group, its box area / frame area) for one cascade.

    ``minNeighbors=1`` groups the raw window hits and ``detectMultiScale2`` returns each group's
    hit count: a real face fires at many neighbouring positions and scales, texture at a few."""
    boxes, hits = cascade.detectMultiScale2(
        grey, scaleFactor=scale_factor, minNeighbors=1, minSize=(min_px, min_px)
    )
    if len(boxes) == 0:
        return 0, 0.0
    best = int(np.argmax(hits))
    x, y, w, h = boxes[best]
    return int(np.ravel(hits)[best]), float(w * h) / float(grey.shape[0] * grey.shape[1])


OPENCV_DETECTORS = ("face", "profile", "person")  # the order they are tried on a frame


class HumanDetectorAnalyzer(ClipAnalyzer):
    """OFFLINE human presence from detectors that ship inside installed packages.

    Backends (``backend="auto"`` picks the first available):
    - ``opencv`` (scorer ``opencv_people``), three OpenCV detectors on each sampled grey frame at
      sample resolution, tried in order, the first that passes decides the frame:
      ``face``: Haar frontal face (alt2) group of >= ``face_min_hits`` raw hits;
      ``profile``: Haar profile face on the frame and its mirror (the cascade knows one side),
      group of >= ``profile_min_hits`` hits (the skimage cameraman, face turned away);
      ``person``: HOG pedestrian SVM weight >= ``hog_min_weight``.
      ``human_offline`` = share of sampled frames some detector decided; ``decided_by_<d>`` =
      share each one decided (which detector said yes); ``face_hits`` / ``profile_hits`` /
      ``person_weight`` = strongest raw evidence over the frames each ran on.
    - ``skimage`` (scorer ``skimage_faces``): scikit-image's LBP frontal-face cascade (shipped
      in its wheel). Faces only: frontal faces of >= ~20 px at sample resolution; people seen
      from behind, in profile or far away are missed, so ``human_offline`` is a lower bound.
      A frame counts when a face cluster has >= ``min_face_neighbors`` raw detections.

    Thresholds, measured on samples (short side 256) of 5 s photo clips and 20 synthetic-kit
    clips (``curation_assets_tests/signals/test_human_detector.py``): frontal hits people
    27-37 vs <= 6 for everything else; profile hits cameraman 9-27 (mirrored 15-18) vs <= 7;
    HOG weight on non-people up to 1.7 (the Shepp-Logan phantom), so 2.0. No equalisation or
    upscaling: both raised the hits on texture more than on faces.
    """

    name = "offline_people"
    version = "1"
    order = 30
    declares = (
        HUMAN_OFFLINE,
        FACE_AREA,
        FACE_SCORE,
        PERSON_AREA,
        Signal("face_hits", "raw frontal-face cascade hits in the best group", range=(0.0, None)),
        Signal("profile_hits", "raw profile-face cascade hits in the best group",
               range=(0.0, None)),
        Signal("person_weight", "strongest HOG pedestrian SVM weight"),
        *(Signal(f"decided_by_{d}", f"share of the sampled frames the {d} detector decided",
                 unit="share of samples", range=(0.0, 1.0)) for d in OPENCV_DETECTORS),
    )  # fmt: skip

    @classmethod
    def from_config(cls, cfg):
        """The fallback where BlazePose's files are absent (``content.human_backend: auto``)."""
        c = cfg.content
        if people_detector_wanted(c.human_backend):
            return None
        return cls(frames=c.human_frames, backend=c.human_backend)

    def __init__(
        self,
        frames: int = 3,
        backend: HumanBackend = "auto",
        upscale: float = 1.0,
        min_face_neighbors: int = 8,
        min_face_px: int = 24,
        scale_factor: float = 1.2,
        hog_min_weight: float = 2.0,
        face_min_hits: int = 15,
        profile_min_hits: int = 12,
        cascade_scale_factor: float = 1.1,
    ) -> None:
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        if backend not in ("auto", "opencv", "skimage"):
            raise ValueError(f"unknown backend {backend!r}; choose 'auto', 'opencv' or 'skimage'")
        if backend == "opencv" and not opencv_people_available():
            raise ValueError(
                f"backend 'opencv' needs cv2.HOGDescriptor and cv2.CascadeClassifier with the Haar "
                f"face cascades; OpenCV {cv2.__version__} here has none (use 'skimage' or 'auto')"
            )
        if scale_factor <= 1.0 or cascade_scale_factor <= 1.0:
            raise ValueError(
                f"scale factors must be > 1, got {scale_factor} and {cascade_scale_factor}"
            )
        if upscale < 1.0:
            raise ValueError(f"upscale must be >= 1, got {upscale}")
        if face_min_hits < 1 or profile_min_hits < 1:
            raise ValueError("face_min_hits and profile_min_hits must be >= 1")
        self.backend = (
            backend if backend != "auto" else "opencv" if opencv_people_available() else "skimage"
        )
        self.frames, self.upscale = frames, upscale
        self.min_face_neighbors, self.min_face_px = min_face_neighbors, min_face_px
        self.scale_factor, self.cascade_scale_factor = scale_factor, cascade_scale_factor
        self.hog_min_weight = hog_min_weight
        self.face_min_hits, self.profile_min_hits = face_min_hits, profile_min_hits
        if self.backend == "opencv":
            self.name = "opencv_people"
            self.version = (
                f"2:alt2>={face_min_hits}+profile>={profile_min_hits}+hog>={hog_min_weight}"
                f":s{cascade_scale_factor}:px{min_face_px}:x{upscale}"
            )
            self.signals = (
                "human_offline",
                "face_area",
                "person_area",
                "face_hits",
                "profile_hits",
                "person_weight",
                *(f"decided_by_{d}" for d in OPENCV_DETECTORS),
            )
            self._hog = cv2.HOGDescriptor()
            self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
            self._frontal = cv2.CascadeClassifier(haar_file(FRONTAL_CASCADE))
            self._profile = cv2.CascadeClassifier(haar_file(PROFILE_CASCADE))
        else:
            from skimage import data
            from skimage.feature import Cascade

            self.name = "skimage_faces"
            self.version = (
                f"1:lbp-frontalface:n{min_face_neighbors}:px{min_face_px}:s{scale_factor}"
                f":x{upscale}"
            )
            self.signals = ("human_offline", "face_area", "face_score")
            self._cascade = Cascade(data.lbp_frontal_face_cascade_filename())
        self._lock = threading.Lock()  # detectors are not documented as thread-safe

    def _frame(self, image: np.ndarray) -> np.ndarray:
        if self.upscale == 1.0:
            return image
        return cv2.resize(image, None, fx=self.upscale, fy=self.upscale)

    def _skimage_faces(self, rgb: np.ndarray) -> tuple[int, float]:
        """(best face cluster size, its area / frame area) for one frame."""
        grey = cv2.cvtColor(self._frame(rgb), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
        side = int(self.min_face_px * self.upscale)
        with self._lock:
            # an intersection threshold above 1 merges nothing: raw detections, grouped below
            raw = self._cascade.detect_multi_scale(
                img=grey,
                scale_factor=self.scale_factor,
                step_ratio=1,
                min_size=(side, side),
                max_size=grey.shape,
                min_neighbor_number=1,
                intersection_score_threshold=1.01,
            )
        boxes = np.array([[d["c"], d["r"], d["width"], d["height"]] for d in raw]).reshape(-1, 4)
        groups = cluster_boxes(boxes)
        if not groups:
            return 0, 0.0
        count, box = groups[0]
        return count, float(box[2] * box[3]) / float(grey.shape[0] * grey.shape[1])

    def opencv_frame(self, rgb: np.ndarray) -> dict[str, float | str | None]:
        """One frame through the detectors in order; stops at the first that passes.

        Returns ``decided`` (the deciding detector or None) and the raw evidence of those that
        ran: ``face_hits``, ``profile_hits`` (int), ``person_weight``, plus box areas."""
        grey = cv2.cvtColor(self._frame(rgb), cv2.COLOR_RGB2GRAY)
        side, sf = int(self.min_face_px * self.upscale), self.cascade_scale_factor
        out: dict[str, float | str | None] = {"decided": None}
        with self._lock:
            hits, area = _best_cascade_cluster(self._frontal, grey, sf, side)
            out.update(face_hits=hits, face_area=area)
            if hits >= self.face_min_hits:
                out["decided"] = "face"
                return out
            sides = (grey, cv2.flip(grey, 1))
            seen = [_best_cascade_cluster(self._profile, g, sf, side) for g in sides]
            hits, area = max(seen)
            out.update(profile_hits=hits, profile_area=area)
            if hits >= self.profile_min_hits:
                out["decided"] = "profile"
                return out
            rects, weights = self._hog.detectMultiScale(
                grey, winStride=(8, 8), padding=(8, 8), scale=1.05
            )
        weights = np.asarray(weights, np.float64).reshape(-1)
        out["person_weight"] = float(weights.max()) if len(weights) else 0.0
        if len(weights) and weights.max() >= self.hog_min_weight:
            x, y, w, h = rects[int(np.argmax(weights))]
            out["person_area"] = float(w * h) / float(grey.shape[0] * grey.shape[1])
            out["decided"] = "person"
        return out

    def _opencv_measurement(self, images: list[np.ndarray]) -> Measurement:
        found = [self.opencv_frame(np.ascontiguousarray(im)) for im in images]

        def best(key: str, when: str | None = None) -> float:
            values = [float(f[key]) for f in found if key in f and (when in (None, f["decided"]))]
            return max(values, default=0.0)

        share = sum(f["decided"] is not None for f in found) / len(found)
        scores = {
            "human_offline": share,
            # a box counts only where its detector decided the frame
            "face_area": max(best("face_area", "face"), best("profile_area", "profile")),
            "person_area": best("person_area", "person"),
            "face_hits": best("face_hits"),
            "profile_hits": best("profile_hits"),
            "person_weight": best("person_weight"),
        }
        for d in OPENCV_DETECTORS:
            scores[f"decided_by_{d}"] = sum(f["decided"] == d for f in found) / len(found)
        return Measurement(scores=scores, labels=[has_human_label(share)])

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        images = [clip.rgb[i] for i in spread(len(clip.rgb), self.frames)]
        if self.backend == "opencv":
            return self._opencv_measurement(images)
        found = [self._skimage_faces(im) for im in images]
        confident = [(n, a) for n, a in found if n >= self.min_face_neighbors]
        return Measurement(
            scores={
                "human_offline": len(confident) / len(images),
                "face_area": max((a for _, a in confident), default=0.0),
                "face_score": float(max(n for n, _ in found)),
            },
            labels=[has_human_label(len(confident) / len(images))],
        )
