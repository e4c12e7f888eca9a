"""Planned shards -> tar files: members ``<key>.mp4`` (video) or ``<key>.jpg`` (still image),
``<key>.json`` and ``<key>.txt`` (when captioned), with fixed member metadata so the same input
gives the same bytes; encoded clips of shards still on disk are reused by clip fingerprint.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path

from curation_assets.exports.encode import OUTPUT_FIELDS, encode_clip
from curation_assets.exports.plan import Clip, Shard
from curation_assets.exports.spec import ExportReport, ExportSpec
from curation_assets.storage.access import SourceAccess
from curation_assets.storage.files import atomic_output


def _tar_member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # deterministic shards: same input, same bytes
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


class Reuse:
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

    def get(self, clip: Clip) -> tuple[dict, bytes | None] | None:
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
            member = tar.extractfile(f"{key}.{clip.extension}")
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


def write_shard(
    out_dir: Path,
    shard: Shard,
    spec: ExportSpec,
    reuse: Reuse,
    report: ExportReport,
    tick: Callable[[], None],
    sources: SourceAccess,
) -> dict:
    """Write one shard under a temporary name and rename it; returns its state entry."""
    results: dict[str, dict] = {}
    # durable: the shard is on disk before its state record says it is finished
    with atomic_output(out_dir / shard.name, durable=True) as tmp:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            for clip in shard.clips:
                cached = reuse.get(clip)
                if cached is not None:
                    result, data = cached
                    report.reused += 1
                else:
                    result, data = encode_clip(clip, spec, out_dir, sources)
                    report.exported += 1
                if data is not None:
                    meta = dict(clip.metadata)
                    meta["output"] = {k.removeprefix("out_"): result[k] for k in OUTPUT_FIELDS}
                    if clip.is_image:
                        meta["output"]["jpeg"] = result.get("out_jpeg")
                    meta["key"] = clip.key
                    _tar_member(tar, f"{clip.key}.{clip.extension}", data)
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
        reuse.before_replacing(shard.name)  # the old shard's reader closes before the rename
    st = (out_dir / shard.name).stat()
    report.tars_written.append(out_dir / shard.name)
    report.bytes_written += st.st_size
    return {
        "fingerprint": shard.fingerprint,
        "bytes": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "clips": results,
    }
