"""Does an export on disk still hold what its manifest says? (For asset checks and audits.)"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import polars as pl
from PIL import Image

from curation_assets.exports.manifest import MANIFEST_PARQUET


@dataclass
class ExportCheck:
    clips_ok: int = 0
    clips_failed: int = 0
    tars: int = 0
    decoded: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def verify_export(out_dir: Path, decode: bool = False, subset: str | None = None) -> ExportCheck:
    """Every ``ok`` manifest row has its ``.mp4`` (``.jpg`` for an image) and ``.json`` in its tar
    (``.txt`` when it has a caption) with the recorded size, no tar holds anything else, and no
    stray tars lie beside it. ``decode=True`` also decodes every clip and compares frames, size
    and rate (an image: its size)."""
    out_dir = Path(out_dir)
    check = ExportCheck()
    try:
        manifest = pl.read_parquet(out_dir / MANIFEST_PARQUET)
    except (OSError, pl.exceptions.ComputeError) as exc:
        check.problems.append(f"no complete manifest: {exc}")
        return check
    ok = manifest.filter(pl.col("status") == "ok")
    check.clips_ok, check.clips_failed = ok.height, manifest.height - ok.height
    if manifest.filter(pl.col("status") == "failed")["reason"].null_count():
        check.problems.append("failed rows without a reason")
    named = {t for t in ok["tar"].to_list() if t is not None}
    prefix = subset or (manifest["subset"][0] if manifest.height else None)
    if prefix:
        for stray in sorted(out_dir.glob(f"{prefix}-*.tar")):
            if stray.name not in named:
                check.problems.append(f"{stray.name}: not in the manifest")
    packed = ok.filter(pl.col("tar").is_not_null())
    for (tar_name,), rows in packed.group_by("tar", maintain_order=True):
        check.tars += 1
        _check_tar(out_dir / str(tar_name), rows, decode, check)
    return check


def _check_tar(path: Path, rows: pl.DataFrame, decode: bool, check: ExportCheck) -> None:
    try:
        with tarfile.open(path) as tar:
            members = {m.name: m for m in tar.getmembers()}
            expected: set[str] = set()
            for row in rows.iter_rows(named=True):
                key = row["key"]
                image = row.get("media") == "image"
                ext = "jpg" if image else "mp4"
                names = [f"{key}.{ext}", f"{key}.json"]
                if row["caption"] is not None:
                    names.append(f"{key}.txt")
                expected.update(names)
                missing = [n for n in names if n not in members]
                if missing:
                    check.problems.append(f"{path.name}: missing {', '.join(missing)}")
                    continue
                video = members[f"{key}.{ext}"]
                if video.size != row["out_bytes"]:
                    check.problems.append(
                        f"{path.name}: {key}.{ext} has {video.size} bytes, "
                        f"manifest {row['out_bytes']}"
                    )
                meta = json.loads(tar.extractfile(members[f"{key}.json"]).read())
                if meta.get("clip_id") != row["clip_id"]:
                    check.problems.append(f"{path.name}: {key}.json is for {meta.get('clip_id')}")
                if decode:
                    data = tar.extractfile(video).read()
                    (_check_image if image else _check_decoded)(path.name, key, data, row, check)
            extra = sorted(set(members) - expected)
            if extra:
                check.problems.append(f"{path.name}: unexpected members {extra[:3]}")
    except (OSError, tarfile.TarError) as exc:
        check.problems.append(f"{path.name}: unreadable ({exc})")


def _check_decoded(tar: str, key: str, data: bytes, row: dict, check: ExportCheck) -> None:
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            frames = sum(1 for _ in container.decode(stream))
            size = (stream.codec_context.width, stream.codec_context.height)
            rate = float(stream.average_rate or 0)
    except (av.FFmpegError, IndexError) as exc:
        check.problems.append(f"{tar}: {key}.mp4 does not decode ({exc})")
        return
    check.decoded += 1
    want = (row["out_frames"], (row["out_width"], row["out_height"]))
    if (frames, size) != want or abs(rate - row["out_fps"]) > 1e-3:
        check.problems.append(
            f"{tar}: {key}.mp4 is {frames} frames {size} @ {rate:g}, manifest {want} @ "
            f"{row['out_fps']:g}"
        )


def _check_image(tar: str, key: str, data: bytes, row: dict, check: ExportCheck) -> None:
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
            img.load()
            size = img.size
    except (OSError, SyntaxError, ValueError) as exc:
        check.problems.append(f"{tar}: {key}.jpg does not decode ({exc})")
        return
    check.decoded += 1
    if size != (row["out_width"], row["out_height"]):
        check.problems.append(
            f"{tar}: {key}.jpg is {size}, manifest {(row['out_width'], row['out_height'])}"
        )
