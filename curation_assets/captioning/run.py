"""Caption a shard's eligible clips, resumably.

Only clips that still pass every per-shard filter stage are captioned (cheap before expensive).
Each finished batch is appended to a journal (``captions/<captioner key>.jsonl``, flushed and
fsynced), so a run killed mid-shard re-does only the missing clips. A caption failing QC is
generated once more; if it fails again it is kept and flagged in ``decisions``.

Each clip row carries ``media`` (``coalesce(clips.media, 'video')``: older parts lack it), so a
still image is cut to its one sample and captioned as an image (image prompt, image wording, no
camera prefix). A journal record of an image clip written before captions knew images (no
``media`` in the record) is not reused: that clip is captioned again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from curation_assets.captioning.base import Captioner, CaptionInput, CaptionResult
from curation_assets.captioning.qc import CaptionQCConfig, CaptionQualityFilter
from curation_assets.config import CurationConfig
from curation_assets.config.sections import CaptioningConfig
from curation_assets.media.stored_samples import load_samples
from curation_assets.signals.samples import clip_samples
from curation_assets.vocabulary import Media

STAGE = "captions"
QC_FILTER = "caption_qc"


def build_captioner(cfg: CaptioningConfig, signal_modules: Sequence[str] = ()) -> Captioner:
    if cfg.captioner == "vlm":
        settings = {
            "dtype": cfg.dtype,
            "device": cfg.device,
            "batch_size": cfg.batch_size,
            "frames_per_clip": cfg.frames_per_clip,
            "max_new_tokens": cfg.max_new_tokens,
            "camera_min_confidence": cfg.camera_min_confidence,
        }
        if cfg.backend == "vllm":
            from curation_assets.captioning.vllm_backend import VllmCaptioner

            return VllmCaptioner(
                cfg.model,
                gpu_memory_utilization=cfg.gpu_memory_utilization,
                max_model_len=cfg.max_model_len,
                **settings,
            )
        from curation_assets.captioning.vlm import VlmCaptioner

        return VlmCaptioner(cfg.model, **settings)
    from curation_assets.captioning.signals_captioner import SignalsCaptioner

    return SignalsCaptioner(
        camera_min_confidence=cfg.camera_min_confidence, signal_modules=signal_modules
    )


AUTO_CHUNK = 64  # clips per journal append when batches are sized from free GPU memory


def _chunk(captioner: Captioner) -> int:
    """Clips captioned between journal appends: one batch, or ``AUTO_CHUNK`` for ``auto``."""
    size = captioner.batch_size
    return size if isinstance(size, int) else AUTO_CHUNK


def captioner_key(cfg: CaptioningConfig) -> str:
    """Journal name: a change of captioner, model or prompt settings starts a new journal.

    vLLM's memory share and context length change no caption, and the default backend is left
    out, so journals written before backends existed keep their name (nothing re-captioned)."""
    unused = {"qc", "eligible_after", "gpu_memory_utilization", "max_model_len"}
    if cfg.backend == "transformers":
        unused.add("backend")
    settings = cfg.model_dump(exclude=unused)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return f"{cfg.captioner}-{digest}"


@dataclass
class CaptionRows:
    captions: list[dict] = field(default_factory=list)
    decisions: list[dict] = field(default_factory=list)
    eligible: int = 0
    captioned_now: int = 0
    reused: int = 0
    retried: int = 0
    generated_tokens: int = 0
    elapsed_s: float = 0.0
    samples: list[dict] = field(default_factory=list)  # a few captions for metadata


def eligible_clips(store, shard: str, stages: list[str]) -> list[dict]:
    marks = ", ".join("?" for _ in stages) or "NULL"
    return store.query(
        "SELECT c.clip_id, c.video_id, c.start_s, c.end_s, c.duration_s, "
        "coalesce(c.media, 'video') AS media, v.width, v.height, "
        "v.fps, p.samples_path FROM clips c JOIN videos v USING (video_id) "
        "JOIN decode_passes p USING (video_id) WHERE c.shard = ? AND c.clip_id NOT IN ("
        f"SELECT clip_id FROM decisions WHERE passed = false AND stage IN ({marks})) "
        "ORDER BY c.clip_id",
        [shard, *stages],
    ).to_dicts()


def _signals_and_labels(store, clip_ids: list[str]) -> tuple[dict, dict]:
    signals: dict[str, dict[str, float]] = {c: {} for c in clip_ids}
    labels: dict[str, dict[str, tuple[str, float | None]]] = {c: {} for c in clip_ids}
    if not clip_ids:
        return signals, labels
    marks = ", ".join("?" for _ in clip_ids)
    for row in store.query(
        f"SELECT clip_id, signal, value FROM scores WHERE clip_id IN ({marks})", clip_ids
    ).iter_rows():
        signals[row[0]][row[1]] = row[2]
    for row in store.query(
        "SELECT clip_id, kind, label, confidence FROM clip_labels "
        f"WHERE clip_id IN ({marks}) ORDER BY scorer",
        clip_ids,
    ).iter_rows():
        labels[row[0]].setdefault(row[1], (row[2], row[3]))
    return signals, labels


def _read_journal(path: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: that clip is captioned again
            done[record["clip_id"]] = record
    return done


def _torn(path: Path) -> bool:
    """True when the journal ends inside a line (a kill mid-write)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) != b"\n"


def _append(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torn = _torn(path)
    with open(path, "a", encoding="utf-8") as fh:
        if torn:  # end the cut line, or the next record would be glued to it and lost
            fh.write("\n")
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _record(result: CaptionResult, ok: bool, reason: str | None, attempts: int, media: str) -> dict:
    return {
        "clip_id": result.clip_id,
        "media": media,
        "caption": result.caption,
        "fields": result.fields,
        "raw": result.raw,
        "parse": str(result.parse),
        "captioner": result.captioner,
        "model": result.model,
        "generated_tokens": result.generated_tokens,
        "error": result.error,
        "qc_passed": ok,
        "qc_reason": reason,
        "attempts": attempts,
    }


def caption_shard(
    store,
    shard: str,
    journal_dir: Path,
    cfg: CurationConfig,
    captioner: Captioner | None = None,
    progress: Callable[[int, int, str], None] = lambda *_: None,
) -> CaptionRows:
    started = time.perf_counter()
    ccfg = cfg.captioning
    captioner = captioner or build_captioner(ccfg, cfg.signal_modules)
    qc = CaptionQualityFilter(
        CaptionQCConfig(
            min_words=ccfg.qc.min_words,
            max_words=ccfg.qc.max_words,
            banned_openings=tuple(ccfg.qc.banned_openings),
        )
    )
    clips = eligible_clips(store, shard, ccfg.eligible_after)
    journal = journal_dir / f"{captioner_key(ccfg)}.jsonl"
    done = _read_journal(journal)
    for clip in clips:  # an image captioned as a video by an older version: caption it again
        record = done.get(clip["clip_id"])
        if record and clip["media"] == Media.IMAGE and record.get("media") != Media.IMAGE:
            del done[clip["clip_id"]]
    rows = CaptionRows(eligible=len(clips))
    todo = [c for c in clips if c["clip_id"] not in done]
    rows.reused = len(clips) - len(todo)
    signals, labels = _signals_and_labels(store, [c["clip_id"] for c in todo])
    finished = 0
    # batches run across videos (a GPU wants full batches); one journal append per chunk
    order = sorted(todo, key=lambda c: c["video_id"])  # stable: clip order kept per video
    chunk = _chunk(captioner)
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        stored = {p: load_samples(Path(p)) for p in sorted({c["samples_path"] for c in part})}
        items = [
            CaptionInput(
                clip_id=c["clip_id"],
                samples=clip_samples(stored[c["samples_path"]], c, c),
                signals=signals[c["clip_id"]],
                labels={k: v[0] for k, v in labels[c["clip_id"]].items()},
                label_confidence={
                    k: v[1] for k, v in labels[c["clip_id"]].items() if v[1] is not None
                },
                media=c["media"],
            )
            for c in part
        ]
        records = []
        for item, result in zip(items, captioner.caption_all(items), strict=True):
            ok, reason = qc.check(result)
            attempts = 1
            if not ok and result.captioner != "signals":
                retry = captioner.caption_all([item])[0]
                rows.retried += 1
                attempts = 2
                retry_ok, retry_reason = qc.check(retry)
                if retry_ok or len(retry.caption) > len(result.caption):
                    result, ok, reason = retry, retry_ok, retry_reason
            rows.generated_tokens += result.generated_tokens
            code = reason.value if reason else None
            records.append(_record(result, ok, code, attempts, item.media))
        _append(journal, records)  # durable before the next chunk starts
        for record in records:
            done[record["clip_id"]] = record
        rows.captioned_now += len(records)
        finished += len(records)
        progress(finished, len(todo), part[-1]["video_id"])
    for clip in clips:
        record = done[clip["clip_id"]]
        rows.captions.append(
            {
                "clip_id": clip["clip_id"],
                "shard": shard,
                "captioner": record["captioner"],
                "model": record["model"],
                "caption": record["caption"],
                "fields_json": json.dumps(record["fields"], ensure_ascii=False, sort_keys=True),
                "words": len(record["caption"].split()),
            }
        )
        reason = record["qc_reason"] or ("ok" if record["qc_passed"] else "caption_failed")
        rows.decisions.append(
            {
                "clip_id": clip["clip_id"],
                "shard": shard,
                "stage": STAGE,
                "filter": QC_FILTER,
                "passed": bool(record["qc_passed"]),
                "value": float(len(record["caption"].split())),
                "threshold": f"{ccfg.qc.min_words}-{ccfg.qc.max_words} words, parse, no loops",
                "reason": reason if not record.get("error") else f"{reason}: {record['error']}",
            }
        )
    rows.samples = [
        {"clip_id": r["clip_id"], "caption": r["caption"], "words": r["words"]}
        for r in rows.captions[:6]
    ]
    rows.elapsed_s = time.perf_counter() - started
    return rows
