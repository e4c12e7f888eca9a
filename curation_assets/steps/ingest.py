"""The ``source_videos`` step as a plain function, minus Dagster: every file of a shard probed,
then admitted or rejected with a reason. It returns lineage rows; the asset writes them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from curation_assets.config import CurationConfig, Layout
from curation_assets.media.image import probe_media
from curation_assets.media.isolation import Failed, run_isolated
from curation_assets.media.probe import Probe, admission_reason
from curation_assets.storage.shards import ESCAPES_SHARD, video_id_for
from curation_assets.storage.sources import LocalShardSource, ShardSource
from curation_assets.vocabulary import Admission, VideoStatus

Progress = Callable[[int, int, str], None]


def no_progress(done: int, total: int, what: str) -> None:
    pass


def admit_shard(
    layout: Layout,
    shard: str,
    cfg: CurationConfig,
    progress: Progress = no_progress,
    source: ShardSource | None = None,
) -> list[dict]:
    """One ``videos`` row per file of the shard: probed, then admitted or rejected with a reason.

    ``source`` (default: the local uploads folder) lists the files and stages them locally in
    batches (S3: downloads into a bounded scratch area); ``uri`` is where the file really is.
    """
    source = source or LocalShardSource(layout.uploads)
    files = source.list_files(shard)
    rows: dict[str, dict] = {}
    to_probe = []
    for f in files:
        if f.problem:
            refused = _refusal(f.problem)
            rows[f.rel] = _video_row(shard, f.rel, f.uri, None, refused, f.problem)
        else:
            to_probe.append(f)
    timeout = cfg.admission.probe_timeout_s
    probe = partial(probe_media, max_image_pixels=cfg.admission.image_max_pixels)
    done = 0
    with source.staged(to_probe) as batches:
        for batch in batches:
            for s in batch:
                if s.path is None:
                    rows[s.file.rel] = _video_row(
                        shard, s.file.rel, s.file.uri, None, Admission.UNREADABLE, s.problem
                    )
            readable = [s for s in batch if s.path is not None]
            results = run_isolated(
                probe, [s.path for s in readable], lambda _: timeout, cfg.run.decode_workers
            )
            for k, result in results:
                f = readable[k].file
                if isinstance(result, Failed):
                    reason, detail, probe = (
                        Admission.UNREADABLE,
                        f"probe {result.kind}: {result.detail}",
                        None,
                    )
                else:
                    probe = result
                    reason, detail = admission_reason(probe, cfg.admission)
                rows[f.rel] = _video_row(shard, f.rel, f.uri, probe, reason, detail)
                done += 1
                progress(done, len(to_probe), f.rel)
    return [rows[f.rel] for f in files if f.rel in rows]


def _refusal(problem: str) -> Admission:
    """Why a file that must not be opened is refused: its link escapes the shard, or else."""
    return Admission.OUTSIDE_SHARD if problem == ESCAPES_SHARD else Admission.UNREADABLE


def _video_row(shard, rel, uri: str, probe: Probe | None, reason, detail) -> dict:
    row = {
        "video_id": video_id_for(shard, rel),
        "shard": shard,
        "file_name": rel,
        "uri": uri,
        "status": VideoStatus.REJECTED.value if reason else VideoStatus.ADMITTED.value,
        "reason": reason.value if reason else None,
        "detail": detail,
        "media": probe.media if probe is not None else None,
    }
    if probe is not None:
        p = probe.as_row()
        p.pop("path")
        p.pop("readable")
        p.pop("error")
        p.pop("has_video")
        row.update(p)
    return row
