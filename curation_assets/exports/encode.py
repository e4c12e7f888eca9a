"""One clip -> its encoded bytes and its manifest result (or a failed result with a reason).

Video clips are cut and transcoded (``media/transcode.py``); still images go through
``exports/images.py``. Every way a clip can fail ends here as a failed result
(``vocabulary.ExportFailure``), never an exception out of the export.
"""

from __future__ import annotations

from pathlib import Path

from curation_assets.exports.images import (
    ImageExportError,
    export_image,
    image_geometry,
    read_source,
)
from curation_assets.exports.plan import Clip
from curation_assets.exports.spec import ExportSpec
from curation_assets.media.transcode import (
    TranscodeError,
    expected_frames,
    plan_geometry,
    transcode_clip,
)
from curation_assets.storage.access import SourceAccess
from curation_assets.vocabulary import ExportFailure

_TRANSCODE_REASONS = {
    "source_missing": ExportFailure.SOURCE_MISSING,
    "unreadable": ExportFailure.UNREADABLE,
    "decode_failed": ExportFailure.DECODE_FAILED,
    "cut_empty": ExportFailure.CUT_EMPTY,
    "encode_failed": ExportFailure.ENCODE_FAILED,
}
OUTPUT_FIELDS = ("out_frames", "out_fps", "out_width", "out_height", "out_duration_s")


def encode_clip(
    clip: Clip, spec: ExportSpec, tmp_dir: Path, sources: SourceAccess
) -> tuple[dict, bytes | None]:
    """(result, bytes of ``<key>.mp4`` or ``<key>.jpg``)."""
    if clip.is_image:
        return encode_image(clip, spec, sources)
    return encode_video(clip, spec, tmp_dir, sources)


def planned_result(clip: Clip, spec: ExportSpec) -> dict:
    """Manifest-only export: the output a media export would give, from the numbers alone."""
    return planned_image(clip, spec) if clip.is_image else planned_video(clip, spec)


def encode_image(clip: Clip, spec: ExportSpec, sources: SourceAccess) -> tuple[dict, bytes | None]:
    row = clip.row
    if clip.source_stat is None:
        return failure(ExportFailure.SOURCE_MISSING, f"cannot stat {row['uri']}"), None
    try:
        out = export_image(
            read_source(sources, row["uri"]),
            crop=clip.crop,
            aspect=clip.aspect,
            short_side=spec.short_side,
            quality=spec.jpeg_quality,
        )
    except ImageExportError as exc:
        reason = _TRANSCODE_REASONS.get(exc.kind, ExportFailure.DECODE_FAILED)
        return failure(reason, exc.detail), None
    except Exception as exc:  # noqa: BLE001 - one image's failure is recorded, the export goes on
        return failure(ExportFailure.ENCODE_FAILED, f"{type(exc).__name__}: {exc}"), None
    result = _image_result(out.width, out.height, len(out.data))
    result["out_jpeg"] = "copied" if out.copied else "reencoded"
    return result, out.data


def planned_image(clip: Clip, spec: ExportSpec) -> dict:
    row = clip.row
    if clip.source_stat is None:
        return failure(ExportFailure.SOURCE_MISSING, f"cannot stat {row['uri']}")
    width, height = int(row["width"]), int(row["height"])
    g = image_geometry(width, height, clip.crop, clip.aspect, spec.short_side)
    return _image_result(g.width, g.height, None)  # copied or not: known once the file is read


def _image_result(width: int, height: int, size: int | None) -> dict:
    return {
        "status": "ok",
        "reason": None,
        "detail": None,
        "out_frames": 1,
        "out_fps": None,
        "out_width": width,
        "out_height": height,
        "out_duration_s": 0.0,
        "out_bytes": size,
    }


def failure(reason: ExportFailure, detail: str) -> dict:
    return {"status": "failed", "reason": reason.value, "detail": detail[:500]}


def encode_video(
    clip: Clip, spec: ExportSpec, tmp_dir: Path, sources: SourceAccess
) -> tuple[dict, bytes | None]:
    """(result, mp4 bytes). Every way a clip can fail ends here as a failed result."""
    row = clip.row
    if clip.source_stat is None:
        return failure(ExportFailure.SOURCE_MISSING, f"cannot stat {row['uri']}"), None
    try:
        with sources.open(row["uri"]) as source:
            out = transcode_clip(
                source,
                float(row["start_s"]),
                float(row["end_s"]),
                crop=clip.crop,
                aspect=clip.aspect,
                short_side=spec.short_side,
                fps=spec.fps,
                codec=spec.codec,
                crf=spec.crf,
                preset=spec.preset,
                tmp_dir=tmp_dir,
            )
    except TranscodeError as exc:
        reason = _TRANSCODE_REASONS.get(exc.kind, ExportFailure.DECODE_FAILED)
        return failure(reason, exc.detail), None
    except Exception as exc:  # noqa: BLE001 - one clip's failure is recorded, the export goes on
        return failure(ExportFailure.ENCODE_FAILED, f"{type(exc).__name__}: {exc}"), None
    wanted = _source_frames_wanted(row)
    if wanted is not None and out.source_frames < wanted - 1:
        return failure(
            ExportFailure.CUT_SHORT,
            f"{out.source_frames} of {wanted} source frames readable",
        ), None
    return {
        "status": "ok",
        "reason": None,
        "detail": None,
        "out_frames": out.frames,
        "out_fps": out.fps,
        "out_width": out.width,
        "out_height": out.height,
        "out_duration_s": out.duration_s,
        "out_bytes": len(out.data),
    }, out.data


def _source_frames_wanted(row: dict) -> int | None:
    if row.get("start_frame") is None or row.get("end_frame") is None:
        return None
    return int(row["end_frame"]) - int(row["start_frame"])


def planned_video(clip: Clip, spec: ExportSpec) -> dict:
    """Manifest-only export: the output a media export would give, from the numbers alone."""
    row = clip.row
    if clip.source_stat is None:
        return failure(ExportFailure.SOURCE_MISSING, f"cannot stat {row['uri']}")
    geometry = plan_geometry(
        int(row["width"]), int(row["height"]), clip.crop, clip.aspect, spec.short_side
    )
    src_fps = float(row["fps"])
    out_fps = src_fps if spec.fps is None else min(src_fps, spec.fps)
    frames = _source_frames_wanted(row)
    if frames is None:
        frames = int(round(float(row["duration_s"]) * src_fps))
    out_frames = expected_frames(frames, src_fps, out_fps)
    return {
        "status": "ok",
        "reason": None,
        "detail": None,
        "out_frames": out_frames,
        "out_fps": out_fps,
        "out_width": geometry.width,
        "out_height": geometry.height,
        "out_duration_s": out_frames / out_fps if out_fps else None,
        "out_bytes": None,
    }
