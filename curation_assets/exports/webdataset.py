"""A selected subset -> WebDataset tar shards plus a manifest, resumably and idempotently.

Layout of ``out_dir``::

    <subset>-000000.tar ...   one bucket per shard; members <key>.mp4 (a video clip) or
                              <key>.jpg (a still image), <key>.json, <key>.txt (the caption)
    manifest.parquet / .jsonl one row per member clip, ok or failed, with where it landed
    failed.jsonl              the failed clips and why
    .export_state/            one record per finished shard: the fingerprint of what went in

Manifest columns: ``subset``, every ``members`` column (ids, source ``uri``, ``media`` (video or
image; video where members lack it), ``start_s``/``end_s`` on the decode pass's time axis (0 for
an image), frames, buckets, ``weight``, ``caption``, ``fields_json``, ``score_*``, crops), then
``status`` (``ok``/``failed``), ``reason`` and ``detail`` for failures, ``tar`` (file name beside
the manifest) and ``key`` where the clip landed, and what was written: ``out_frames``,
``out_fps``, ``out_width``, ``out_height``, ``out_duration_s``, ``out_bytes`` (an image: 1 frame,
no fps, 0 s) and ``out_jpeg`` (images: ``copied``, the source JPEG's own bytes, or ``reencoded``;
see ``exports/images.py``). With ``write_media=False`` the ``out_*`` values are what a media
export would give, ``tar`` and ``out_jpeg`` are null.

The pieces: ``plan`` (members -> clips and shards, fingerprints, JSON), ``encode`` (one clip:
``media/transcode.py`` for video, ``images`` for still images), ``shards`` (tar files, reuse of
encoded clips), ``state`` (what finished, renames, the lock), ``manifest``; this module runs them.

Why it is built this way:
- Clips are sorted by bucket, then clip id, and each bucket is cut into shards of
  ``clips_per_tar``: a loader that batches by bucket reads whole shards, and a change in one
  bucket leaves every other bucket's shards as they are; when shard numbers shift, a shard
  whose content is unchanged is renamed, not rewritten (shard JSON does not name its tar).
- A shard's fingerprint covers each clip's source (uri, size, mtime; for S3 the object's size and
  LastModified), range, crop, target aspect, media settings (for images: ``short_side`` and
  ``jpeg_quality`` only) and the metadata written beside it. A shard whose fingerprint is
  unchanged is not touched; a shard that changed is rebuilt, taking the encoded bytes of clips
  it already held (same clip fingerprint) from the old shards instead of re-encoding them.
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

import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from curation_assets.exports.encode import planned_result
from curation_assets.exports.manifest import (
    FAILED_JSONL,
    MANIFEST_JSONL,
    MANIFEST_PARQUET,
    build_manifest,
    remove_manifest,
    write_manifest,
)
from curation_assets.exports.plan import (
    Shard,
    digest,
    plan_shards,
    with_media,
)
from curation_assets.exports.shards import Reuse, write_shard
from curation_assets.exports.spec import ClipFailure, ExportReport, ExportSpec
from curation_assets.exports.state import State, locked, move_renumbered
from curation_assets.storage.access import SourceAccess
from curation_assets.vocabulary import ExportFailure

__all__ = ["export_subset"]


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
    members = with_media(members)
    shards = plan_shards(members, spec, sources)
    with locked(out_dir):
        report = _export(members, out_dir, spec, shards, progress, sources)
    report.seconds = time.perf_counter() - started
    return report


def _export(
    members: pl.DataFrame,
    out_dir: Path,
    spec: ExportSpec,
    shards: list[Shard],
    progress: Callable[[int, int], None] | None,
    sources: SourceAccess,
) -> ExportReport:
    total = sum(len(s.clips) for s in shards)
    report = ExportReport(spec.subset, out_dir, clips_total=total)
    for leftover in out_dir.glob(".*.tmp"):
        leftover.unlink()  # a file being written when a previous run died
    state = State(out_dir)
    planned = {s.name for s in shards} if spec.write_media else set()
    stale = [p for p in sorted(out_dir.glob(f"{spec.subset}-*.tar")) if p.name not in planned]
    pending = {s.name for s in shards if spec.write_media and not state.done(out_dir, s)}
    if pending or stale:
        # shards are about to change: no manifest describing the old ones meanwhile
        state.manifest = None
        remove_manifest(out_dir)
    pending -= set(move_renumbered(out_dir, state, shards, pending, report))
    stale = [p for p in stale if p.exists()]  # a moved shard left its old name
    done = 0

    def tick(count: int = 1) -> None:
        nonlocal done
        done += count
        if progress:
            progress(done, total)

    if spec.write_media:
        reuse = Reuse(out_dir, state.tars)
        try:
            for shard in shards:
                if shard.name in pending:
                    state.put(
                        shard.name,
                        write_shard(out_dir, shard, spec, reuse, report, tick, sources),
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
        results = {c.row["clip_id"]: planned_result(c, spec) for s in shards for c in s.clips}
        report.skipped = total
        tick(total)
    for path in stale:
        path.unlink()
        report.tars_removed.append(path)
    for name in [n for n in state.tars if n not in planned]:
        state.drop(name)

    manifest = build_manifest(members, shards, results, spec.subset)
    manifest_fp = digest([spec.subset, spec.write_media, manifest.write_ndjson()])
    paths = [out_dir / n for n in (MANIFEST_JSONL, FAILED_JSONL, MANIFEST_PARQUET)]
    if state.manifest != manifest_fp or not all(p.exists() for p in paths):
        state.manifest = None
        write_manifest(out_dir, manifest)
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
