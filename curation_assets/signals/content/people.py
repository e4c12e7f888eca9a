"""Offline ``has_human`` from real person and face detectors: MediaPipe's BlazePose detector and
full-range BlazeFace, run with LiteRT on the clip's RGB samples.

Why these: OpenCV's Haar faces and HOG pedestrians found 0.16 of the people in the real-footage
kit (a large centred cyclist included); no hub is reachable, and these two are real, trained,
Apache-2.0 detectors whose files ship inside MediaPipe's wheel on the package registry
(``models/shipped.py`` takes just those files). BlazePose's detector finds a person from the head
and upper body and predicts the body's centre and extent; BlazeFace full range finds faces down
to ~20 px at the sample size, including people the body detector scores low (a face in a car).

Decision per sampled frame, thresholds measured on the kit (``benchmarks/judgment_quality.py``;
people 0.77-0.99 where a head is visible, non-human scenes up to 0.75, an animated humanoid
rabbit among them): a person score >= ``PERSON_YES`` is a person; so is a face score >=
``FACE_YES`` when the person detector gives the frame at least ``FACE_SUPPORT`` (face-like
texture, the rocket photo's gantry, scores 0.8 with no body around it). Scores >= ``UNSURE``
below those are evidence the detectors cannot settle. Per clip: ``yes`` when any sampled frame
has a person (a person in one frame of a single shot is in the shot), ``unknown`` when none does
but some frame is unsure, else ``no``. The label's confidence is the strongest evidence (yes,
unknown) or one minus it (no): never a confident wrong ``no`` on an ambiguous frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from curation_assets.models.shipped import (
    MEDIAPIPE_PEOPLE,
    model_dir,
    people_detector_available,
    people_detector_wanted,
)
from curation_assets.signals.base import ClipAnalyzer, ClipSamples, Label, Measurement, Signal
from curation_assets.signals.has_human import FACE_AREA, FACE_SCORE, HUMAN_OFFLINE, PERSON_AREA
from curation_assets.vocabulary import Content

PERSON_YES = 0.77  # BlazePose detection score that is a person
FACE_YES = 0.80  # BlazeFace (full range) score that is a face
FACE_SUPPORT = 0.50  # a face counts only with at least this person score in the same frame
UNSURE = 0.60  # either score at or above this, below its yes threshold: "unknown"
NMS_OVERLAP = 0.3  # face-box IoU above which two person detections are one person


def ssd_anchors(size: int, strides: list[int], per_cell: int) -> np.ndarray:
    """Anchor centres (x, y in 0-1) of MediaPipe's SsdAnchorsCalculator with fixed anchor size
    and aspect ratio 1 (plus the interpolated scale): consecutive layers of one stride share a
    grid and stack their anchors per cell."""
    out, i = [], 0
    while i < len(strides):
        stride, layers = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            layers, i = layers + 1, i + 1
        grid = int(np.ceil(size / stride))
        ys, xs = np.mgrid[0:grid, 0:grid]
        centres = np.stack([(xs + 0.5) / grid, (ys + 0.5) / grid], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell * layers, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True)
class _Spec:
    file: str
    size: int
    anchors: np.ndarray


# the graphs' own settings (pose_detection_cpu.pbtxt, face_detection_full_range.pbtxt)
POSE = _Spec("pose_detection.tflite", 224, ssd_anchors(224, [8, 16, 32, 32, 32], 2))
FACE = _Spec("face_detection_full_range_sparse.tflite", 192, ssd_anchors(192, [4], 1))


@dataclass(frozen=True)
class Detection:
    score: float
    box: tuple[float, float, float, float]  # detector box (x0, y0, x1, y1), 0-1 of the frame
    body_share: float  # person detector: the body's extent as a share of the frame; face: box


def _letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    out = np.zeros((size, size, 3), np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
    return out, (x0, y0, nw, nh)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class _Model:
    """One LiteRT interpreter and the decoding of its SSD outputs into frame coordinates."""

    def __init__(self, folder: Path, spec: _Spec) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.spec = spec
        self.interpreter = Interpreter(model_path=str(folder / spec.file), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = self.interpreter.get_output_details()
        self.boxes = next(o["index"] for o in outputs if o["shape"][-1] > 1)
        self.scores = next(o["index"] for o in outputs if o["shape"][-1] == 1)

    def detect(self, rgb: np.ndarray, floor: float, keep: int = 8) -> tuple[float, list[Detection]]:
        """(the strongest score anywhere, detections >= ``floor`` after NMS, strongest first)."""
        size = self.spec.size
        image, (x0, y0, nw, nh) = _letterbox(rgb, size)
        self.interpreter.set_tensor(self.input, (image.astype(np.float32) / 127.5 - 1.0)[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.boxes)[0]
        logits = np.clip(self.interpreter.get_tensor(self.scores)[0, :, 0], -80.0, 80.0)
        scores = 1.0 / (1.0 + np.exp(-logits))
        found: list[Detection] = []
        for i in np.argsort(-scores):
            if scores[i] < floor or len(found) >= keep:
                break
            anchor = self.spec.anchors[i]
            cx, cy = raw[i, 0] / size + anchor[0], raw[i, 1] / size + anchor[1]
            w, h = raw[i, 2] / size, raw[i, 3] / size

            def to_frame(x: float, y: float) -> tuple[float, float]:
                return (x * size - x0) / nw, (y * size - y0) / nh

            bx0, by0 = to_frame(cx - w / 2, cy - h / 2)
            bx1, by1 = to_frame(cx + w / 2, cy + h / 2)
            box = (bx0, by0, bx1, by1)
            if any(_iou(box, d.box) > NMS_OVERLAP for d in found):
                continue
            found.append(Detection(float(scores[i]), box, self._extent(raw[i], anchor, to_frame)))
        return float(scores.max()), found

    def _extent(self, raw: np.ndarray, anchor: np.ndarray, to_frame) -> float:
        """Person: the square around the body circle (keypoint 0 = hip centre, keypoint 1 on the
        circle that holds the whole body), clipped to the frame. Face: the face box."""
        size = self.spec.size
        if self.spec is POSE:
            # in the square input the circle is round: its radius in input units
            hx, hy = raw[4] / size + anchor[0], raw[5] / size + anchor[1]
            r = float(np.hypot(raw[6] - raw[4], raw[7] - raw[5])) / size
            left, top = to_frame(hx - r, hy - r)
            right, bottom = to_frame(hx + r, hy + r)
        else:
            cx, cy = raw[0] / size + anchor[0], raw[1] / size + anchor[1]
            w, h = raw[2] / size, raw[3] / size
            left, top = to_frame(cx - w / 2, cy - h / 2)
            right, bottom = to_frame(cx + w / 2, cy + h / 2)
        x0, x1 = max(0.0, left), min(1.0, right)
        y0, y1 = max(0.0, top), min(1.0, bottom)
        return float(max(0.0, x1 - x0) * max(0.0, y1 - y0))


class PeopleDetectorAnalyzer(ClipAnalyzer):
    """BlazePose persons + BlazeFace faces on ``frames`` evenly spread samples of the clip.

    Signals: ``human_offline`` (share of sampled frames with a person), ``person_score`` and
    ``face_score`` (strongest detection over the frames), ``people_count`` (most distinct
    persons or faces in one frame, whichever detector sees more), ``person_area`` (the largest
    person's share of the frame: the square around BlazePose's body circle, clipped), and
    ``face_area`` (the largest face box). Label ``has_human``: yes / unknown / no.
    """

    name = "blazepose_people"
    version = f"1:pose>={PERSON_YES}|face>={FACE_YES}&pose>={FACE_SUPPORT}:unsure>={UNSURE}"
    order = 30
    declares = (
        HUMAN_OFFLINE,
        Signal("person_score", "strongest BlazePose person detection", range=(0.0, 1.0)),
        FACE_SCORE,
        Signal("people_count", "most distinct people seen in one frame", range=(0.0, None)),
        PERSON_AREA,
        FACE_AREA,
    )

    @classmethod
    def from_config(cls, cfg):
        """Runs when its files are fetched, or when asked for (then fails loudly without them)."""
        c = cfg.content
        return cls(frames=c.human_frames) if people_detector_wanted(c.human_backend) else None

    def __init__(self, frames: int = 5, folder: Path | None = None) -> None:
        if frames < 1:
            raise ValueError(f"frames must be >= 1, got {frames}")
        self.frames = frames
        self.folder = folder or model_dir(MEDIAPIPE_PEOPLE)
        if not people_detector_available(self.folder):
            raise FileNotFoundError(
                f"the people detector needs the LiteRT runtime (ai-edge-litert) and "
                f"{', '.join(MEDIAPIPE_PEOPLE.files)} in {self.folder}: run "
                f"`curate models pull` (or scripts/bootstrap)"
            )
        self._models: tuple[_Model, _Model] | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_models"], state["_lock"] = None, None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def frame(
        self, rgb: np.ndarray
    ) -> tuple[tuple[float, list[Detection]], tuple[float, list[Detection]]]:
        """((best person score, persons), (best face score, faces)) of one RGB frame; the lists
        hold detections >= ``UNSURE``, strongest first."""
        with self._lock:
            if self._models is None:
                self._models = (_Model(self.folder, POSE), _Model(self.folder, FACE))
            pose, face = self._models
            image = np.ascontiguousarray(rgb)
            return pose.detect(image, UNSURE), face.detect(image, UNSURE)

    def analyze(self, clip: ClipSamples) -> Measurement:
        if not clip.rgb:
            return Measurement(scores={})
        picks = np.linspace(0, len(clip.rgb) - 1, min(self.frames, len(clip.rgb)))
        found = [self.frame(clip.rgb[int(round(i))]) for i in picks]
        person_best = max(person[0] for person, _ in found)
        face_best = max(face[0] for _, face in found)
        yes_frames, count, person_area, face_area = 0, 0, 0.0, 0.0
        for (person_score, persons), (_, faces) in found:
            sure_persons = [d for d in persons if d.score >= PERSON_YES]
            supported = person_score >= FACE_SUPPORT
            sure_faces = [d for d in faces if d.score >= FACE_YES and supported]
            if sure_persons or sure_faces:
                yes_frames += 1
            count = max(count, len(sure_persons), len(sure_faces))
            person_area = max([person_area, *(d.body_share for d in sure_persons)])
            face_area = max([face_area, *(d.body_share for d in sure_faces)])
        strongest = max(person_best, face_best)
        if yes_frames:
            label = Label(Content.HAS_HUMAN.value, "yes", strongest)
        elif strongest >= UNSURE:
            label = Label(Content.HAS_HUMAN.value, "unknown", strongest)
        else:
            label = Label(Content.HAS_HUMAN.value, "no", 1.0 - strongest)
        return Measurement(
            scores={
                "human_offline": yes_frames / len(found),
                "person_score": person_best,
                "face_score": face_best,
                "people_count": float(count),
                "person_area": person_area,
                "face_area": face_area,
            },
            labels=[label],
        )
