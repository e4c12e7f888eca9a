"""Every case in order, the cache keys, the encoding and the entry points: ``build_kit`` (render,
encode and record, or read the cache) and ``kit_truths`` (the truth records alone)."""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable, Iterable
from pathlib import Path

from curation_assets.media.real_kit import (
    cases_edits,
    cases_motion,
    cases_people,
    cases_watermarks,
)
from curation_assets.media.real_kit.registry import _CaseDef, _Made, _merged
from curation_assets.media.real_kit.sources import _Sources
from curation_assets.media.real_kit.truth import FPS, HEIGHT, WIDTH, KitCase, Truth
from curation_assets.media.synthetic import encode_frames
from curation_assets.storage.files import atomic_output

ENCODE = {"preset": "veryfast", "crf": "23"}  # libx264; near what uploads carry

# Every case, in the order of the tables: cuts and transitions, watermarks, people, then camera,
# shake and slideshows; within a module, in the order its cases are declared.
CASES: dict[str, _CaseDef] = _merged(
    cases_edits.CASES, cases_watermarks.CASES, cases_people.CASES, cases_motion.CASES
)

_PACKAGE = Path(__file__).parent  # curation_assets/media/real_kit
_MEDIA = _PACKAGE.parent  # curation_assets/media


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


_KEY_BASE: str | None = None


def case_key(case_id: str) -> str:
    """Content key of a case: the source of every module of this package (in name order), the
    case id and the versions of everything that shapes the frames or the bytes (the source media
    come with their packages)."""
    global _KEY_BASE
    if _KEY_BASE is None:
        digest = hashlib.sha256()
        for module in sorted(_PACKAGE.glob("*.py"), key=lambda p: p.name):
            source = module.read_bytes()
            digest.update(f"{module.name}:{len(source)};".encode() + source)
        for dist in ("scikit-video", "scikit-image", "av", "opencv-python", "numpy"):
            digest.update(f"{dist}={_version(dist)};".encode())
        synthetic = _MEDIA / "synthetic.py"  # encode_frames
        photo_kit = _MEDIA / "photo_kit.py"  # photo()
        digest.update(synthetic.read_bytes() + photo_kit.read_bytes())
        _KEY_BASE = digest.hexdigest()
    return hashlib.sha256(f"{_KEY_BASE}:{case_id}".encode()).hexdigest()[:12]


def _package_case_key(case_id: str) -> str:
    """``case_key`` as the package exports it, looked up at each call: replacing
    ``real_kit.case_key`` (the tests do) changes the key ``build_kit`` builds under."""
    from curation_assets.media import real_kit

    return real_kit.case_key(case_id)


def build_kit(
    folder: Path | str,
    case_ids: Iterable[str] | None = None,
    progress: Callable[[str, bool], None] = lambda case_id, built: None,
) -> list[KitCase]:
    """Build (or read from ``folder``) the cases ``case_ids`` (default: all, in ``CASES``
    order). ``progress(case_id, built)`` is called per case; ``built`` is False on a cache hit.
    Files of a case written under an older key are removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = list(CASES) if case_ids is None else list(case_ids)
    unknown = [c for c in wanted if c not in CASES]
    if unknown:
        raise KeyError(f"unknown kit cases {unknown}; known: {sorted(CASES)}")
    src = _Sources()
    out = []
    for case_id in wanted:
        key = _package_case_key(case_id)
        video, record = folder / f"{case_id}.{key}.mp4", folder / f"{case_id}.{key}.json"
        built = not (video.is_file() and record.is_file())
        if built:
            truth = _build_case(CASES[case_id], src, video)
            with atomic_output(record) as tmp:
                tmp.write_text(truth.to_json(), encoding="utf-8")
            for stale in folder.glob(f"{case_id}.*"):
                old, _, ext = stale.name[len(case_id) + 1 :].partition(".")
                if ext in ("mp4", "json") and old != key:
                    stale.unlink()
        else:
            truth = Truth.from_json(record.read_text(encoding="utf-8"))
        out.append(KitCase(video, truth))
        progress(case_id, built)
    return out


def kit_truths(case_ids: Iterable[str] | None = None) -> list[Truth]:
    """The truth records of ``case_ids`` (default: all) without rendering or encoding a frame
    (the videos are not decoded; a few photos are loaded)."""
    src = _Sources()
    wanted = list(CASES) if case_ids is None else list(case_ids)
    return [_truth(CASES[case_id], CASES[case_id].make(src)) for case_id in wanted]


def _build_case(case: _CaseDef, src: _Sources, target: Path) -> Truth:
    made = case.make(src)
    with atomic_output(target, suffix=".mp4") as tmp:
        encode_frames(tmp, made.seq.frames(), FPS, ENCODE)
    return _truth(case, made)


def _truth(case: _CaseDef, made: _Made) -> Truth:
    seq = made.seq
    return Truth(
        case_id=case.case_id,
        groups=case.groups,
        description=case.description,
        sources=made.sources,
        frames=seq.n,
        width=WIDTH,
        height=HEIGHT,
        fps=FPS,
        cuts=tuple(seq.cuts),
        transitions=tuple(seq.transitions),
        watermarks=made.watermarks,
        letterbox=made.letterbox,
        has_human=made.has_human,
        camera=made.camera,
        subject_motion=made.subject_motion,
        shake=made.shake,
        slideshow=made.slideshow,
        notes=made.notes,
    )
