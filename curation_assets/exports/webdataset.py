"""A selected subset -> WebDataset tar shards plus a manifest, resumably and idempotently.

Layout of ``out_dir``::

    <subset>-000000.tar ...   one bucket per shard; members <key>.mp4, <key>.json, <key>.txt
    manifest.parquet / .jsonl one row per member clip, ok or failed, with where it landed
    failed.jsonl              the failed clips and why
    .export_state/            one record per finished shard: the fingerprint of what went in

Manifest columns: ``subset``, every ``members`` column (ids, source ``uri``, ``start_s``/``end_s``
on the decode pass's time axis, frames, buckets, ``weight``, ``caption``, ``fields_json``,
``score_*``, crops), then ``status`` (``ok``/``failed``), ``reason`` and ``detail`` for failures,
``tar`` (file name beside the manifest) and ``key`` where the clip landed, and what was written:
``out_frames``, ``out_fps``, ``out_width``, ``out_height``, ``out_duration_s``, ``out_bytes``.
With ``write_media=False`` the ``out_*`` values are what a media export would give, ``tar`` is null.

Why it is built this way:
- Clips are sorted by bucket, then clip id, and each bucket is cut into shards of
  ``clips_per_tar``: a loader that batches by bucket reads whole shards, and a change in one
  bucket leaves every other bucket's shards as they are; when shard numbers shift, a shard
  whose content is unchanged is renamed, not rewritten (shard JSON does not name its tar).
- A shard's fingerprint covers each clip's source (uri, size, mtime; for S3 the object's size and
  LastModified), range, crop, target aspect,
  media settings and the metadata written beside it. A shard whose fingerprint is unchanged is not
  touched; a shard that changed is rebuilt, taking the encoded bytes of clips it already held
  (same clip fingerprint) from the old shards instead of re-encoding them.
- Every file is written to a temporary name and renamed into place; a shard's record is written
  after the shard, so a crash loses at most the shard being written. The old manifest is
  removed before shards change and the new one is written last, so a manifest on disk always
  describes the shards beside it.
- A clip that cannot be cut is a failed row with a reason (``vocabulary.ExportFailure``), never
  an exception out of the export. A failure is fingerprinted like a success: a re-run does not
  retry it until the source file (or the clip) changes.
- Sources are read where they are (``storage.access.SourceAccess``): local files in place, S3
  objects through ranged GETs, so an export of S3 uploads downloads only the stretches it cuts.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import math
import os
import re
import tarfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from curation_assets.exports.spec import ClipFailure, ExportReport, ExportSpec
from curation_assets.media.transcode import (
    TranscodeError,
    expected_frames,
    plan_geometry,
    transcode_clip,
)
from curation_assets.storage.access import SourceAccess, SourceStat
from curation_assets.storage.files import atomic_write_bytes
from curation_assets.vocabulary import ExportFailure

STATE_DIR = ".export_state"
MANIFEST_PARQUET = "manifest.parquet"
MANIFEST_JSONL = "manifest.jsonl"
FAILED_JSONL = "failed.jsonl"
STATE_VERSION = 1
TRANSCODE_VERSION = 2  # bump when transcode output changes for the same settings

REQUIRED_COLUMNS = (
    "clip_id", "video_id", "uri", "start_s", "end_s", "duration_s", "start_frame", "end_frame",
    "fps", "width", "height", "bucket", "duration_bucket", "aspect_bucket", "weight", "caption",
    "fields_json",
)  # fmt: skip
CROP_COLUMNS = ("crop_x", "crop_y", "crop_w", "crop_h")
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_TRANSCODE_REASONS = {
    "source_missing": ExportFailure.SOURCE_MISSING,
    "unreadable": ExportFailure.UNREADABLE,
    "decode_failed": ExportFailure.DECODE_FAILED,
    "cut_empty": ExportFailure.CUT_EMPTY,
}


def sample_key(clip_id: str) -> str:
    """A WebDataset key (no dots, no slashes) that stays unique when the id had to be changed."""
    key = _KEY_UNSAFE.sub("_", clip_id)
    if key != clip_id:
        key += "_" + hashlib.sha1(clip_id.encode()).hexdigest()[:8]
    return key


def _digest(value) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class _Clip:
    row: dict
    key: str
    crop: tuple[int, int, int, int] | None
    aspect: float | None
    scores: dict[str, float | None]
    source_stat: tuple[int, int] | None  # (size, mtime_ns) or None when missing
    fingerprint: str  # what decides the encoded bytes
    metadata: dict  # what goes into <key>.json (without the output fields)


@dataclass
class _Shard:
    name: str
    bucket: str
    clips: list[_Clip]
    fingerprint: str


def _fields(value: str | None):
    if value is None:
        return None
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value  # kept as text: a broken fields_json is the caption step's business


def _finite(value):
    """NaN/inf become null: they are not JSON, and a loader should not meet them as numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _clip(
    row: dict, spec: ExportSpec, score_cols: list[str], has_crop: bool, stat: SourceStat | None
) -> _Clip:
    crop = None
    if has_crop and all(row.get(c) is not None for c in CROP_COLUMNS):
        crop = tuple(int(row[c]) for c in CROP_COLUMNS)
    aspect = spec.aspect_for(row["aspect_bucket"])
    scores = {c.removeprefix("score_"): _finite(row[c]) for c in score_cols}
    fingerprint = _digest(
        {
            "v": TRANSCODE_VERSION,
            "uri": row["uri"],
            "source": stat,
            "range": [row["start_s"], row["end_s"]],
            "crop": crop,
            "aspect": aspect,
            "media": spec.media_settings(),
        }
    )
    metadata = {
        "clip_id": row["clip_id"],
        "video_id": row["video_id"],
        "uri": row["uri"],
        "start_s": row["start_s"],
        "end_s": row["end_s"],
        "duration_s": row["duration_s"],
        "start_frame": row["start_frame"],
        "end_frame": row["end_frame"],
        "source": {"fps": row["fps"], "width": row["width"], "height": row["height"]},
        "crop": list(crop) if crop else None,
        "bucket": row["bucket"],
        "duration_bucket": row["duration_bucket"],
        "aspect_bucket": row["aspect_bucket"],
        "weight": _finite(row["weight"]),
        "caption": row["caption"],
        "fields": _fields(row["fields_json"]),
        "scores": scores,
    }
    return _Clip(row, sample_key(row["clip_id"]), crop, aspect, scores, stat, fingerprint, metadata)


def plan_shards(
    members: pl.DataFrame, spec: ExportSpec, sources: SourceAccess | None = None
) -> list[_Shard]:
    """Sorted by bucket then clip id; each bucket cut into shards of ``clips_per_tar``."""
    missing = [c for c in REQUIRED_COLUMNS if c not in members.columns]
    if missing:
        raise ValueError(f"members lack columns: {', '.join(missing)}")
    bad = members.filter(
        pl.any_horizontal(pl.col("clip_id", "uri", "start_s", "end_s").is_null())
        | (pl.col("end_s") <= pl.col("start_s"))
    )
    if bad.height:
        raise ValueError(
            f"{bad.height} member(s) without clip_id/uri or with an empty range, e.g. "
            f"{bad.select('clip_id', 'uri', 'start_s', 'end_s').row(0)}"
        )
    dupes = members.filter(pl.col("clip_id").is_duplicated())["clip_id"].unique().to_list()
    if dupes:
        raise ValueError(f"clip ids selected more than once: {sorted(dupes)[:5]}")
    score_cols = sorted(c for c in members.columns if c.startswith("score_"))
    has_crop = all(c in members.columns for c in CROP_COLUMNS)
    rows = members.with_columns(pl.col("bucket").fill_null("")).sort(["bucket", "clip_id"])
    stats = (sources or SourceAccess()).stat(rows["uri"])
    clips = [
        _clip(row, spec, score_cols, has_crop, stats[row["uri"]])
        for row in rows.iter_rows(named=True)
    ]
    keys = [c.key for c in clips]
    if len(set(keys)) != len(keys):
        raise ValueError("two clip ids map to the same WebDataset key")
    shards: list[_Shard] = []
    start = 0
    while start < len(clips):
        bucket = clips[start].row["bucket"]
        stop = start
        while (
            stop < len(clips)
            and clips[stop].row["bucket"] == bucket
            and stop - start < spec.clips_per_tar
        ):
            stop += 1
        group = clips[start:stop]
        name = f"{spec.subset}-{len(shards):06d}.tar"
        fingerprint = _digest([[c.key, c.fingerprint, c.metadata] for c in group])
        shards.append(_Shard(name, bucket, group, fingerprint))
        start = stop
    return shards


# --- state --------------------------------------------------------------------------------------


class _State:
    """What finished: one small file per shard in ``.export_state/`` (written once per shard, so
    a large export does not rewrite one big file after every shard), plus the manifest's
    fingerprint once a complete manifest is in place."""

    def __init__(self, out_dir: Path) -> None:
        self.dir = out_dir / STATE_DIR
        self.dir.mkdir(exist_ok=True)
        self.tars: dict[str, dict] = {}
        for path in sorted(self.dir.glob("*.tar.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # unreadable record: its shard is rebuilt
            if entry.get("version") == STATE_VERSION:
                self.tars[path.name.removesuffix(".json")] = entry

    def put(self, name: str, entry: dict) -> None:
        entry = {"version": STATE_VERSION, **entry}
        data = json.dumps(entry, sort_keys=True).encode()
        atomic_write_bytes(self.dir / f"{name}.json", data, durable=True)
        self.tars[name] = entry

    def drop(self, name: str) -> None:
        (self.dir / f"{name}.json").unlink(missing_ok=True)
        self.tars.pop(name, None)

    @property
    def manifest(self) -> str | None:
        try:
            return json.loads((self.dir / "manifest.json").read_text(encoding="utf-8"))["fp"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @manifest.setter
    def manifest(self, fingerprint: str | None) -> None:
        if fingerprint is None:
            (self.dir / "manifest.json").unlink(missing_ok=True)
        else:
            atomic_write_bytes(
                self.dir / "manifest.json", json.dumps({"fp": fingerprint}).encode(), durable=True
            )

    def done(self, out_dir: Path, shard: _Shard) -> bool:
        entry = self.tars.get(shard.name)
        if not entry or entry.get("fingerprint") != shard.fingerprint:
            return False
        return _intact(out_dir / shard.name, entry)


def _intact(path: Path, entry: dict) -> bool:
    """The file is the one the record describes: same size and modification time (tar pads to
    whole records, so a shard edited by hand can keep its size)."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == entry["bytes"] and st.st_mtime_ns == entry.get("mtime_ns")


def _move_renumbered(
    out_dir: Path, state: _State, shards: list[_Shard], pending: set[str], report: ExportReport
) -> list[str]:
    """Shards whose exact content sits finished under another name (a bucket earlier in the
    order gained or lost a shard, so the numbers after it moved) are renamed, not rebuilt.
    Returns the planned names now complete."""
    finished = {
        entry["fingerprint"]: name
        for name, entry in state.tars.items()
        if _intact(out_dir / name, entry)
    }
    moves = {
        s.name: finished[s.fingerprint]
        for s in shards
        if s.name in pending and finished.get(s.fingerprint) not in (None, s.name)
    }
    if not moves:
        return []
    entries = {new: state.tars[old] for new, old in moves.items()}
    # two steps, so a chain of renames (000002 -> 000003 -> 000004) never overwrites a source
    for old in moves.values():
        os.replace(out_dir / old, out_dir / f".{old}.move.tmp")
    for new, old in moves.items():
        os.replace(out_dir / f".{old}.move.tmp", out_dir / new)
    for new, entry in entries.items():
        clips = {
            cid: {**r, "tar": new if r.get("tar") else None} for cid, r in entry["clips"].items()
        }
        state.put(new, {**entry, "clips": clips})
        report.tars_moved.append(out_dir / new)
        report.skipped += len(entry["clips"])
    for old in set(moves.values()) - set(moves):
        state.drop(old)
    return list(moves)


@contextmanager
def _locked(out_dir: Path):
    """One export of a directory at a time: a second one waits for the first."""
    with open(out_dir / ".export.lock", "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- one clip -----------------------------------------------------------------------------------


def _failure(reason: ExportFailure, detail: str) -> dict:
    return {"status": "failed", "reason": reason.value, "detail": detail[:500]}


def _encode(
    clip: _Clip, spec: ExportSpec, tmp_dir: Path, sources: SourceAccess
) -> tuple[dict, bytes | None]:
    """(result, mp4 bytes). Every way a clip can fail ends here as a failed result."""
    row = clip.row
    if clip.source_stat is None:
        return _failure(ExportFailure.SOURCE_MISSING, f"cannot stat {row['uri']}"), None
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
        return _failure(reason, exc.detail), None
    except Exception as exc:  # noqa: BLE001 - one clip's failure is recorded, the export goes on
        return _failure(ExportFailure.ENCODE_FAILED, f"{type(exc).__name__}: {exc}"), None
    wanted = _source_frames_wanted(row)
    if wanted is not None and out.source_frames < wanted - 1:
        return _failure(
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


def _planned(clip: _Clip, spec: ExportSpec) -> dict:
    """Manifest-only export: the output a media export would give, from the numbers alone."""
    row = clip.row
    if clip.source_stat is None:
        return _failure(ExportFailure.SOURCE_MISSING, f"cannot stat {row['uri']}")
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


# --- shards -------------------------------------------------------------------------------------


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # deterministic shards: same input, same bytes
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


class _Reuse:
    """Encoded clips of the previous run, found by clip fingerprint in shards still on disk."""

    def __init__(self, out_dir: Path, tars: dict[str, dict]) -> None:
        self.out_dir = out_dir
        self.where: dict[str, tuple[str, str, dict]] = {}
        self.overwritten: set[str] = set()
        for name, entry in tars.items():
            for result in entry.get("clips", {}).values():
                fp = result.get("fingerprint")
                if fp:
                    self.where[fp] = (name, result.get("key") or "", result)
        self._open: dict[str, tarfile.TarFile] = {}

    def get(self, clip: _Clip) -> tuple[dict, bytes | None] | None:
        hit = self.where.get(clip.fingerprint)
        if hit is None or hit[0] in self.overwritten:
            return None
        name, key, result = hit
        fields = {k: v for k, v in result.items() if k not in ("fingerprint", "key", "tar")}
        if result.get("status") != "ok":
            return fields, None  # the same failure, not retried until the input changes
        try:
            tar = self._open.get(name)
            if tar is None:
                tar = self._open[name] = tarfile.open(self.out_dir / name, "r")
            member = tar.extractfile(f"{key}.mp4")
            data = member.read() if member is not None else None
        except (OSError, KeyError, tarfile.TarError):
            return None
        if data is None or len(data) != result.get("out_bytes"):
            return None
        return fields, data

    def before_replacing(self, name: str) -> None:
        tar = self._open.pop(name, None)
        if tar is not None:
            tar.close()
        self.overwritten.add(name)

    def close(self) -> None:
        for tar in self._open.values():
            tar.close()
        self._open.clear()


def _write_shard(
    out_dir: Path,
    shard: _Shard,
    spec: ExportSpec,
    reuse: _Reuse,
    report: ExportReport,
    tick: Callable[[], None],
    sources: SourceAccess,
) -> dict:
    """Write one shard under a temporary name and rename it; returns its state entry."""
    tmp = out_dir / f".{shard.name}.tmp"
    results: dict[str, dict] = {}
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for clip in shard.clips:
                cached = reuse.get(clip)
                if cached is not None:
                    result, data = cached
                    report.reused += 1
                else:
                    result, data = _encode(clip, spec, out_dir, sources)
                    report.exported += 1
                if data is not None:
                    meta = dict(clip.metadata)
                    meta["output"] = {
                        k.removeprefix("out_"): result[k]
                        for k in ("out_frames", "out_fps", "out_width", "out_height",
                                  "out_duration_s")
                    }  # fmt: skip
                    meta["key"] = clip.key
                    _tar_member(tar, f"{clip.key}.mp4", data)
                    _tar_member(tar, f"{clip.key}.json", json.dumps(meta, sort_keys=True).encode())
                    if clip.row["caption"] is not None:
                        _tar_member(tar, f"{clip.key}.txt", str(clip.row["caption"]).encode())
                results[clip.row["clip_id"]] = {
                    **result,
                    "fingerprint": clip.fingerprint,
                    "key": clip.key if data is not None else None,
                    "tar": shard.name if data is not None else None,
                }
                tick()
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        reuse.before_replacing(shard.name)
        os.replace(tmp, out_dir / shard.name)
    finally:
        if tmp.exists():
            tmp.unlink()
    st = (out_dir / shard.name).stat()
    report.tars_written.append(out_dir / shard.name)
    report.bytes_written += st.st_size
    return {
        "fingerprint": shard.fingerprint,
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "clips": results,
    }


# --- manifest -----------------------------------------------------------------------------------

_OUTPUT_COLUMNS = {
    "status": pl.String,
    "reason": pl.String,
    "detail": pl.String,
    "tar": pl.String,
    "key": pl.String,
    "out_frames": pl.Int64,
    "out_fps": pl.Float64,
    "out_width": pl.Int64,
    "out_height": pl.Int64,
    "out_duration_s": pl.Float64,
    "out_bytes": pl.Int64,
}


def _manifest(members: pl.DataFrame, shards: list[_Shard], results: dict[str, dict], subset: str):
    order = [c.row["clip_id"] for s in shards for c in s.clips]
    out = pl.DataFrame(
        {
            "clip_id": pl.Series(order, dtype=pl.String),
            **{
                col: pl.Series([results[cid].get(col) for cid in order], dtype=dtype)
                for col, dtype in _OUTPUT_COLUMNS.items()
            },
        }
    )
    ids = pl.DataFrame({"clip_id": pl.Series(order, dtype=pl.String)})
    ordered = ids.join(members, on="clip_id", how="left")
    return ordered.join(out, on="clip_id", how="left").select(
        pl.lit(subset).alias("subset"), pl.all()
    )


def _write_manifest(out_dir: Path, manifest: pl.DataFrame) -> None:
    jsonl = manifest.write_ndjson().encode()
    buf = io.BytesIO()
    manifest.write_parquet(buf, compression="zstd", statistics=True)
    failed = manifest.filter(pl.col("status") == "failed").select(
        "clip_id", "uri", "start_s", "end_s", "reason", "detail"
    )
    paths = [out_dir / MANIFEST_JSONL, out_dir / FAILED_JSONL, out_dir / MANIFEST_PARQUET]
    # jsonl first, parquet last: the parquet file is the export's "complete" mark
    atomic_write_bytes(paths[0], jsonl, durable=True)
    atomic_write_bytes(
        paths[1], failed.write_ndjson().encode() if failed.height else b"", durable=True
    )
    atomic_write_bytes(paths[2], buf.getvalue(), durable=True)


def _remove_manifest(out_dir: Path) -> None:
    for name in (MANIFEST_PARQUET, MANIFEST_JSONL, FAILED_JSONL):
        (out_dir / name).unlink(missing_ok=True)


# --- the export ---------------------------------------------------------------------------------


def export_subset(
    members: pl.DataFrame,
    out_dir: Path,
    spec: ExportSpec,
    progress: Callable[[int, int], None] | None = None,
    sources: SourceAccess | None = None,
) -> ExportReport:
    """Write (or bring up to date) ``out_dir`` for ``members``; see the module docstring.

    ``sources`` reads the clips' uris (default: local files only; give it an S3 client for
    s3:// sources).
    ``progress(done, total)`` is called after each clip (and once per already complete shard).
    Raises ``ValueError`` for members that cannot be exported as a whole (missing columns,
    duplicate clip ids); a bad clip is a failed row instead.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = sources or SourceAccess()
    shards = plan_shards(members, spec, sources)
    with _locked(out_dir):
        report = _export(members, out_dir, spec, shards, progress, sources)
    report.seconds = time.perf_counter() - started
    return report


def _export(
    members: pl.DataFrame,
    out_dir: Path,
    spec: ExportSpec,
    shards: list[_Shard],
    progress: Callable[[int, int], None] | None,
    sources: SourceAccess,
) -> ExportReport:
    total = sum(len(s.clips) for s in shards)
    report = ExportReport(spec.subset, out_dir, clips_total=total)
    for leftover in out_dir.glob(".*.tmp"):
        leftover.unlink()  # a file being written when a previous run died
    state = _State(out_dir)
    planned = {s.name for s in shards} if spec.write_media else set()
    stale = [p for p in sorted(out_dir.glob(f"{spec.subset}-*.tar")) if p.name not in planned]
    pending = {s.name for s in shards if spec.write_media and not state.done(out_dir, s)}
    if pending or stale:
        # shards are about to change: no manifest describing the old ones meanwhile
        state.manifest = None
        _remove_manifest(out_dir)
    pending -= set(_move_renumbered(out_dir, state, shards, pending, report))
    stale = [p for p in stale if p.exists()]  # a moved shard left its old name
    done = 0

    def tick(count: int = 1) -> None:
        nonlocal done
        done += count
        if progress:
            progress(done, total)

    if spec.write_media:
        reuse = _Reuse(out_dir, state.tars)
        try:
            for shard in shards:
                if shard.name in pending:
                    state.put(
                        shard.name,
                        _write_shard(out_dir, shard, spec, reuse, report, tick, sources),
                    )
                else:
                    if out_dir / shard.name not in report.tars_moved:
                        report.skipped += len(shard.clips)
                    tick(len(shard.clips))
        finally:
            reuse.close()
        results = {
            cid: result for s in shards for cid, result in state.tars[s.name]["clips"].items()
        }
    else:
        results = {c.row["clip_id"]: _planned(c, spec) for s in shards for c in s.clips}
        report.skipped = total
        tick(total)
    for path in stale:
        path.unlink()
        report.tars_removed.append(path)
    for name in [n for n in state.tars if n not in planned]:
        state.drop(name)

    manifest = _manifest(members, shards, results, spec.subset)
    manifest_fp = _digest([spec.subset, spec.write_media, manifest.write_ndjson()])
    paths = [out_dir / n for n in (MANIFEST_JSONL, FAILED_JSONL, MANIFEST_PARQUET)]
    if state.manifest != manifest_fp or not all(p.exists() for p in paths):
        state.manifest = None
        _write_manifest(out_dir, manifest)
        state.manifest = manifest_fp
        report.manifest_written = True

    for cid, result in results.items():
        if result["status"] != "ok":
            reason = ExportFailure(result["reason"])
            report.failed.append(ClipFailure(cid, reason, result["detail"]))
    report.failed.sort(key=lambda f: f.clip_id)
    report.tar_paths = [out_dir / s.name for s in shards if spec.write_media]
    report.bytes = sum(state.tars[name]["bytes"] for name in planned)
    report.manifest_paths = paths
    ok = manifest.filter(pl.col("status") == "ok")
    report.per_bucket = {
        str(b): int(n) for b, n in ok.group_by("bucket").len().sort("bucket").iter_rows()
    }
    return report


def read_manifest(out_dir: Path) -> pl.DataFrame:
    """The complete manifest of an export (raises ``FileNotFoundError`` while none is complete)."""
    return pl.read_parquet(Path(out_dir) / MANIFEST_PARQUET)
