"""The offline captioner: states only what the pipeline measured, invents nothing.

No weights, no network. It turns stored scores and labels into a few factual sentences, e.g.
"The camera pans right. Motion is moderate. Landscape clip, 5 seconds long. Even lighting. No
people detected." ``dense_description``, ``background``, ``style`` and ``atmosphere`` stay empty:
nothing measured here supports them, and an invented description would poison training data.
A signal that is missing is simply not mentioned.

A still image (``media`` image) gets its own wording from what the visual and content filters
measured on its one sample, e.g. "Square still image, 512 x 512 pixels (480p). Even lighting.
Vivid colors. Sharp focus. Close-up of one person." It never mentions motion, the camera,
duration or frame rate: an image has none (``camera_motion`` stays empty, no ``motion_speed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from curation_assets.captioning.base import (
    Captioner,
    CaptionInput,
    CaptionResult,
    Parse,
    empty_fields,
)
from curation_assets.captioning.prefix import (
    DEFAULT_MIN_CONFIDENCE,
    camera_phrase,
    check_min_confidence,
)
from curation_assets.signals import catalogue
from curation_assets.signals.visual.geometry import orientation as orientation_of
from curation_assets.signals.visual.geometry import resolution_tier


@dataclass(frozen=True)
class SignalThresholds:
    """Where words change. Motion in frame widths per second (``motion_mean``); on the synthetic
    clips a still camera measures ~0.015, a slow drift ~0.09, a full-frame pan over 5 s ~0.18,
    a handheld shake ~0.3. Exposure as the visual family measures it (clean ~0.32 brightness,
    dark:0.2 ~0.06 with 55% of pixels under 16 grey levels, bright:3 0.68 with 83% clipped)."""

    slow_below: float = 0.05
    fast_from: float = 0.25
    low_light_brightness: float = 0.25
    low_light_dark_fraction: float = 0.4
    high_key_clipped_fraction: float = 0.1
    high_key_brightness: float = 0.65
    close_up_face_area: float = 0.08
    medium_face_area: float = 0.02
    medium_person_area: float = 0.2
    # images only: colorfulness is Hasler-Suesstrunk M / 100 (M 15 slightly, 33 moderately,
    # 59 quite colourful); sharpness the Laplacian variance (image gate 20, synthetic clean 60)
    monochrome_below: float = 0.1
    muted_below: float = 0.33
    vivid_from: float = 0.59
    soft_below: float = 20.0
    sharp_from: float = 100.0
    text_from: float = 0.01  # text_area: the text overlay family's "frame with text" level

    def __post_init__(self) -> None:
        if not 0 <= self.slow_below < self.fast_from:
            raise ValueError(
                f"need 0 <= slow_below < fast_from, got {self.slow_below}, {self.fast_from}"
            )
        if not self.medium_face_area < self.close_up_face_area:
            raise ValueError("medium_face_area must be below close_up_face_area")
        if not 0 <= self.monochrome_below <= self.muted_below <= self.vivid_from:
            raise ValueError("need 0 <= monochrome_below <= muted_below <= vivid_from")
        if not 0 <= self.soft_below < self.sharp_from:
            raise ValueError("need 0 <= soft_below < sharp_from")


def motion_speed(motion_mean: float, t: SignalThresholds) -> str:
    if motion_mean < t.slow_below:
        return "slow"
    return "fast" if motion_mean >= t.fast_from else "moderate"


def lighting(signals: Mapping[str, float], t: SignalThresholds) -> str:
    """One of "low light", "bright, high-key", "even lighting"; "" without exposure signals."""
    brightness = signals.get("brightness")
    dark = signals.get("dark_fraction")
    clipped = signals.get("clipped_fraction")
    if brightness is None and dark is None and clipped is None:
        return ""
    if (brightness is not None and brightness < t.low_light_brightness) or (
        dark is not None and dark >= t.low_light_dark_fraction
    ):
        return "low light"
    if (clipped is not None and clipped >= t.high_key_clipped_fraction) or (
        brightness is not None and brightness >= t.high_key_brightness
    ):
        return "bright, high-key"
    return "even lighting"


def shot_type(signals: Mapping[str, float], t: SignalThresholds) -> tuple[str, str]:
    """(shot type, people) from the largest detected face / person, as shares of the frame.

    ("", "no people detected") when detectors ran and found nobody; ("", "") when they did not run.
    """
    face = signals.get("face_area")
    person = signals.get("person_area")
    if face is None and person is None:
        return "", ""
    face, person = face or 0.0, person or 0.0
    if face <= 0 and person <= 0:
        return "", "no people detected"
    if face >= t.close_up_face_area:
        return "close-up", "people"
    if face >= t.medium_face_area or person >= t.medium_person_area:
        return "medium shot", "people"
    return "wide shot", "people"


def colors(signals: Mapping[str, float], t: SignalThresholds) -> str:
    """One of "nearly monochrome", "muted colors", "moderately colorful", "vivid colors"; ""
    without the signal."""
    value = signals.get("colorfulness")
    if value is None:
        return ""
    if value < t.monochrome_below:
        return "nearly monochrome"
    if value < t.muted_below:
        return "muted colors"
    return "vivid colors" if value >= t.vivid_from else "moderately colorful"


def focus(signals: Mapping[str, float], t: SignalThresholds) -> str:
    """One of "soft focus", "moderately sharp", "sharp focus"; "" without the signal."""
    value = signals.get("sharpness")
    if value is None:
        return ""
    if value < t.soft_below:
        return "soft focus"
    return "sharp focus" if value >= t.sharp_from else "moderately sharp"


def _count_phrase(signals: Mapping[str, float]) -> str:
    count = signals.get("people_count")
    n = round(count) if count is not None else 0
    if n <= 0:
        return "people"
    return "one person" if n == 1 else f"{n} people"


def _resolution(item: CaptionInput) -> str:
    """E.g. "512 x 512 pixels (480p)", from the stored size (display orientation)."""
    width, height = item.samples.width, item.samples.height
    if width <= 0 or height <= 0:
        return ""
    tier = item.labels.get("resolution_tier") or resolution_tier(min(width, height))
    return f"{width} x {height} pixels ({tier.replace('_', ' ')})"


def _orientation(item: CaptionInput) -> str:
    label = item.labels.get("orientation")
    if label:
        return label
    aspect = item.signals.get("aspect_ratio")
    if aspect is None and item.samples.height > 0:
        aspect = item.samples.width / item.samples.height
    return orientation_of(aspect) if aspect else ""


def _seconds(duration: float) -> str:
    rounded = round(duration)
    if abs(duration - rounded) < 0.05:
        return f"{rounded} second{'s' if rounded != 1 else ''}"
    return f"{duration:.1f} seconds"


class SignalsCaptioner(Captioner):
    """Captions from stored signals only; ``parse`` is always ``ok`` (nothing to parse)."""

    name = "signals"

    def __init__(
        self,
        camera_min_confidence: float = DEFAULT_MIN_CONFIDENCE,
        thresholds: SignalThresholds | None = None,
        model: str = "pipeline-signals-v1",
        signal_modules: Sequence[str] = (),
    ) -> None:
        self.camera_min_confidence = check_min_confidence(camera_min_confidence)
        # signals that say their own sentence (``Signal.caption``), in catalogue order
        self.phrases = {
            name: s.caption for name, s in catalogue.signals(signal_modules).items() if s.caption
        }
        self.thresholds = thresholds or SignalThresholds()
        self.model = model
        self.batch_size = 256

    def caption_batch(self, items: Sequence[CaptionInput]) -> list[CaptionResult]:
        return [self.caption_one(item) for item in items]

    def caption_one(self, item: CaptionInput) -> CaptionResult:
        if item.is_image:
            return self.caption_image(item)
        t = self.thresholds
        fields = empty_fields()
        sentences: list[str] = []

        phrase = camera_phrase(item.labels, item.label_confidence, self.camera_min_confidence)
        if phrase:
            fields["camera_motion"] = phrase
            sentences.append(f"The camera {phrase}.")

        speed = ""
        if "motion_mean" in item.signals:
            speed = motion_speed(float(item.signals["motion_mean"]), t)
            sentences.append(f"Motion is {speed}.")

        shape = _orientation(item)
        duration = _seconds(item.samples.duration_s)
        sentences.append(
            f"{shape.capitalize()} clip, {duration} long." if shape else f"Clip of {duration}."
        )

        fields["lighting"] = lighting(item.signals, t)
        if fields["lighting"]:
            sentences.append(f"{fields['lighting'].capitalize()}.")

        fields["shot_type"], people = shot_type(item.signals, t)
        if fields["shot_type"]:
            sentences.append(f"{fields['shot_type'].capitalize()} with people in frame.")
        elif people:
            sentences.append(f"{people.capitalize()}.")

        summary = [f"{shape} clip" if shape else "clip", f"{duration} long"]
        if speed:
            summary.append(f"{speed} motion")
        sentences += self._declared_phrases(item)
        fields["short_description"] = "A " + ", ".join(summary) + "."
        fields["motion_speed"] = speed
        fields["orientation"] = shape
        fields["people"] = people
        return self._result(item, " ".join(sentences), fields)

    def _declared_phrases(self, item: CaptionInput) -> list[str]:
        out = []
        for name, phrase in self.phrases.items():
            value = item.signals.get(name)
            text = phrase(float(value)) if value is not None else None
            if text:
                out.append(text if text.endswith(".") else f"{text}.")
        return out

    def _result(self, item: CaptionInput, caption: str, fields: dict) -> CaptionResult:
        return CaptionResult(
            clip_id=item.clip_id,
            caption=caption,
            fields=fields,
            raw=caption,
            parse=Parse.OK,
            captioner=self.name,
            model=self.model,
        )

    def caption_image(self, item: CaptionInput) -> CaptionResult:
        """A still image from its measured facts; nothing about motion, camera or time."""
        t = self.thresholds
        fields = empty_fields()
        shape = _orientation(item)
        size = _resolution(item)
        kind = f"{shape} still image" if shape else "still image"
        sentences = [f"{kind.capitalize()}, {size}." if size else f"{kind.capitalize()}."]

        fields["lighting"] = lighting(item.signals, t)
        color, sharp = colors(item.signals, t), focus(item.signals, t)
        for fact in (fields["lighting"], color, sharp):
            if fact:
                sentences.append(f"{fact.capitalize()}.")

        fields["shot_type"], people = shot_type(item.signals, t)
        human = item.labels.get("has_human")
        if not people and human in ("yes", "no"):  # detectors' label without their areas
            people = "people" if human == "yes" else "no people detected"
        who = _count_phrase(item.signals) if people == "people" else ""
        if fields["shot_type"] == "close-up":
            sentences.append(f"Close-up of {who}.")
        elif fields["shot_type"]:
            sentences.append(f"{fields['shot_type'].capitalize()} with {who}.")
        elif who:
            sentences.append(f"{who.capitalize()} visible.")
        elif people:
            sentences.append(f"{people.capitalize()}.")
        if fields["shot_type"] != "close-up" and (item.signals.get("face_area") or 0.0) > 0:
            sentences.append("A face is visible.")

        text_area = item.signals.get("text_area")
        text = ""
        if text_area is not None and text_area >= t.text_from:
            text = f"text covers about {max(1, round(100 * text_area))}% of the image"
            sentences.append(f"{text.capitalize()}.")

        sentences += self._declared_phrases(item)
        summary = f"A {kind}"
        if who:
            summary += f" with {who}"
        elif people:
            summary += ", no people detected"
        fields["short_description"] = summary + "."
        fields["orientation"] = shape
        fields["people"] = people
        fields["resolution"] = size
        fields["colors"] = color
        fields["focus"] = sharp
        fields["text"] = text
        return self._result(item, " ".join(sentences), fields)
