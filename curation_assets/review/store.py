"""Review storage and the lineage reads behind the fine-tune workflow. No Dagster, no web.

Every submitted review is its own Parquet part under ``warehouse/lineage/reviews/``, written to a
temporary name, fsync'ed, renamed into place and the folder fsync'ed. So a crash loses at most the
review being written (never an earlier one), two reviewers saving at the same moment write two
different files (nothing to lose, nothing to lock), and ``lineage.duckdb`` shows them all as the
``reviews`` view. Reviews are append-only; the latest per (clip, reviewer) counts.
"""

from __future__ import annotations

import fcntl
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from curation_assets.config import CurationConfig, Layout
from curation_assets.config.sections import ANY_OF_FILTERS
from curation_assets.lineage.schema import frame
from curation_assets.lineage.store import LineageStore
from curation_assets.selection.finetune import (
    ACCEPT,
    DECISIONS,
    DIMENSIONS,
    RATING_MAX,
    RATING_MIN,
    CandidateSettings,
    PoolResult,
    finetune_members,
    rank_candidates,
    strictest,
    validate_trim,
)
from curation_assets.selection.seeds import MAX_THEME_CHARS, SEED, UNSEED
from curation_assets.storage.files import atomic_output, file_path, fsync_folder

REVIEWS = "reviews"
SEED_MARKS = "seed_marks"
CLIP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
REVIEWER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")
MAX_CAPTION_CHARS = 5000


COMPACTED_PREFIX = "reviews__compacted-"


def loose_parts(folder: Path) -> list[Path]:
    """Single-review parts (one per submitted review) not yet compacted."""
    return sorted(folder.glob("review__*.parquet")) if folder.is_dir() else []


def compacted_parts(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{COMPACTED_PREFIX}*.parquet")) if folder.is_dir() else []


class ReviewError(ValueError):
    """A review that cannot be stored as given (the message says why)."""


def check_clip_id(clip_id: str) -> str:
    if not isinstance(clip_id, str) or not CLIP_ID.match(clip_id):
        raise ReviewError(f"not a clip id: {clip_id!r}")
    return clip_id


def check_reviewer(name: str) -> str:
    name = (name or "").strip()
    if not REVIEWER.match(name):
        raise ReviewError(
            "reviewer name: 1-40 letters, digits, spaces, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    return name


@dataclass(frozen=True)
class Review:
    clip_id: str
    reviewer: str
    decision: str
    in_s: float | None
    out_s: float | None
    caption: str | None
    ratings: dict[str, int]
    note: str | None = None


class ReviewStore:
    """Reads candidates and clips from lineage; appends reviews durably."""

    def __init__(self, layout: Layout, config: CurationConfig) -> None:
        self.layout = layout
        self.config = config
        self.lineage = LineageStore(layout.lineage_parts, layout.lineage_db)
        self.reviews_dir = layout.lineage_parts / REVIEWS

    # -- writing ---------------------------------------------------------------------------
    def add(self, review: Review, clip: dict) -> str:
        """Validate against the clip and store durably; returns the review id."""
        self._validate(review, clip)
        review_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:12]}"
        row = {
            "review_id": review_id,
            "clip_id": review.clip_id,
            "reviewer": review.reviewer,
            "decision": review.decision,
            "in_s": review.in_s,
            "out_s": review.out_s,
            "caption": review.caption,
            "ratings_json": json.dumps(review.ratings, sort_keys=True),
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "note": review.note,
        }
        self.reviews_dir.mkdir(parents=True, exist_ok=True)
        target = self.reviews_dir / f"review__{review_id}.parquet"
        with atomic_output(target, durable=True) as tmp:
            frame(REVIEWS, [row]).write_parquet(tmp)
        if len(loose_parts(self.reviews_dir)) > self.config.finetune.compact_reviews_after:
            self.compact(wait=False)
        return review_id

    def mark_seed(self, clip_id: str, reviewer: str, theme: str = "", remove: bool = False) -> str:
        """Mark (or unmark) a clip as a fine-tune seed under a theme; durable like a review."""
        check_clip_id(clip_id)
        check_reviewer(reviewer)
        theme = " ".join(theme.split())
        if len(theme) > MAX_THEME_CHARS:
            raise ReviewError(f"theme longer than {MAX_THEME_CHARS} characters")
        mark_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:12]}"
        row = {
            "mark_id": mark_id,
            "clip_id": clip_id,
            "theme": theme,
            "reviewer": reviewer,
            "action": UNSEED if remove else SEED,
            "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
        }
        folder = self.layout.lineage_parts / SEED_MARKS
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_output(folder / f"seed__{mark_id}.parquet", durable=True) as tmp:
            frame(SEED_MARKS, [row]).write_parquet(tmp)
        return mark_id

    def seed_marks(self) -> pl.DataFrame:
        return self.lineage.query(
            "SELECT * FROM seed_marks ORDER BY created_at, mark_id", tables=[SEED_MARKS]
        )

    def compact(self, wait: bool = True) -> int:
        """Merge the single-review parts into one compacted part; returns reviews merged.

        Readers get slower with every small file, so every ``compact_reviews_after`` reviews the
        writer that notices merges them. Writers never wait: only compactions take the lock. The
        merged file is durable before any part is removed, so a crash in between leaves each
        review twice on disk, never zero times (``reviews()`` drops duplicates by id).
        """
        self.reviews_dir.mkdir(parents=True, exist_ok=True)
        with open(self.reviews_dir / ".compact.lock", "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                return 0  # another process is compacting right now
            try:
                return self._compact_locked()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _compact_locked(self) -> int:
        parts = loose_parts(self.reviews_dir) + compacted_parts(self.reviews_dir)
        if len(parts) < 2:
            return 0
        merged = (
            pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed")
            .unique("review_id", keep="first")
            .sort("review_id")
        )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.reviews_dir / f"{COMPACTED_PREFIX}{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        with atomic_output(target, durable=True) as tmp:
            frame(REVIEWS, merged.to_dicts()).write_parquet(tmp)
        for part in parts:
            part.unlink(missing_ok=True)
        fsync_folder(self.reviews_dir)
        return merged.height

    def _validate(self, review: Review, clip: dict) -> None:
        check_clip_id(review.clip_id)
        check_reviewer(review.reviewer)
        if review.decision not in DECISIONS:
            raise ReviewError(f"decision must be one of {DECISIONS}, got {review.decision!r}")
        unknown = set(review.ratings) - set(DIMENSIONS)
        if unknown:
            raise ReviewError(f"unknown rating dimension(s): {sorted(unknown)}")
        for dim, value in review.ratings.items():
            if not RATING_MIN <= value <= RATING_MAX:
                raise ReviewError(f"{dim}: rating {value} outside {RATING_MIN}-{RATING_MAX}")
        if review.caption is not None and len(review.caption) > MAX_CAPTION_CHARS:
            raise ReviewError(f"caption longer than {MAX_CAPTION_CHARS} characters")
        if review.decision == ACCEPT:
            caption = clip.get("caption") if review.caption is None else review.caption
            if not (caption or "").strip():
                raise ReviewError("an accepted clip needs a caption")
            start, end = clip["start_s"], clip["end_s"]
            in_s = start if review.in_s is None else review.in_s
            out_s = end if review.out_s is None else review.out_s
            try:
                validate_trim(in_s, out_s, start, end, self.config.finetune.min_trim_s)
            except ValueError as exc:
                raise ReviewError(str(exc)) from None

    # -- reading ---------------------------------------------------------------------------
    def reviews(self, clip_id: str | None = None) -> pl.DataFrame:
        """Every stored review once (a compaction interrupted by a crash can leave copies)."""
        where, params = ("", None) if clip_id is None else (" WHERE clip_id = ?", [clip_id])
        if clip_id is not None:
            check_clip_id(clip_id)
        return self.lineage.query(
            f"SELECT * FROM reviews{where} "
            "QUALIFY row_number() OVER (PARTITION BY review_id ORDER BY created_at) = 1 "
            "ORDER BY created_at, review_id",
            params,
            tables=[REVIEWS],
        )

    def candidates(self) -> pl.DataFrame:
        """The ranked pool with each clip's caption (empty before finetune_candidates ran)."""
        return self.lineage.query(
            "SELECT f.*, cap.caption FROM finetune_candidates f "
            "LEFT JOIN (SELECT clip_id, any_value(caption) caption FROM captions "
            "GROUP BY clip_id) cap USING (clip_id) ORDER BY f.rank",
            tables=["finetune_candidates", "captions"],
        )

    def clip(self, clip_id: str) -> dict | None:
        """A clip with its video, caption, scores and labels; None when unknown."""
        check_clip_id(clip_id)
        tables = ["clips", "videos", "captions", "scores", "clip_labels"]
        with self.lineage.connect(tables) as con:

            def rows(sql: str) -> list[dict]:
                return con.sql(sql, params=[clip_id]).pl().to_dicts()

            found = rows(
                "SELECT c.clip_id, c.video_id, c.shard, c.start_s, c.end_s, c.duration_s, "
                "v.uri, v.file_name, v.width, v.height, v.fps, v.codec, v.pix_fmt FROM clips c "
                "JOIN videos v USING (video_id) WHERE c.clip_id = ? LIMIT 1"
            )
            if not found:
                return None
            clip = found[0]
            captions = rows("SELECT caption FROM captions WHERE clip_id = ? LIMIT 1")
            clip["caption"] = captions[0]["caption"] if captions else ""
            clip["scores"] = rows(
                "SELECT signal, value, scorer FROM scores WHERE clip_id = ? ORDER BY signal"
            )
            clip["labels"] = rows(
                "SELECT kind, label, confidence FROM clip_labels WHERE clip_id = ? ORDER BY kind"
            )
        return clip

    # -- the two global steps --------------------------------------------------------------
    def settings(self) -> CandidateSettings:
        """Every filter gate, every subset stage's thresholds and ``finetune.filters``: the
        strictest limit of all of them per signal."""
        cfg = self.config
        specs = [cfg.stage_filters(stage) for stage in cfg.filters]
        specs += [_plain(stage.thresholds) for stage in cfg.subsets.resolved().values()]
        specs.append(_plain(cfg.finetune.filters))
        return CandidateSettings.from_spec(
            cfg.finetune.pool_size,
            strictest(specs),
            cfg.finetune.rank_by,
            cfg.finetune.max_per_concept,
            ANY_OF_FILTERS,
            frozenset(cfg.finetune.allow_unscored),
        )

    def build_candidates(
        self, lead: Sequence[tuple[str, str]] = ()
    ) -> tuple[PoolResult, CandidateSettings]:
        settings = self.settings()
        q = self.lineage.query
        clips = q(
            "SELECT c.clip_id, c.video_id, c.shard, c.start_s, c.end_s FROM clips c "
            "JOIN videos v USING (video_id) ORDER BY c.clip_id"
        )
        scores = q("SELECT clip_id, signal, value FROM scores")
        failed = q("SELECT clip_id, filter FROM decisions WHERE passed = false ORDER BY clip_id")
        concepts = q(
            "SELECT l.clip_id, l.label AS concept, s.value AS concept_weight FROM clip_labels l "
            "LEFT JOIN scores s ON s.clip_id = l.clip_id AND s.signal = 'concept_weight' "
            "WHERE l.kind = 'concept'"
        )
        return rank_candidates(clips, scores, failed, concepts, settings, lead), settings

    def build_finetune_set(self) -> pl.DataFrame:
        reviews = self.reviews()
        clips = self.lineage.query(
            "SELECT c.clip_id, c.video_id, c.shard, c.start_s, c.end_s, v.uri FROM clips c "
            "JOIN videos v USING (video_id)"
        )
        captions = dict(
            self.lineage.query(
                "SELECT clip_id, any_value(caption) FROM captions GROUP BY clip_id"
            ).rows()
        )
        members = finetune_members(reviews, clips, captions, self.config.finetune.min_accepts)
        if members.height == 0:
            return frame("finetune_set", [])
        return frame("finetune_set", members.to_dicts())

    def keyframe_path(self, clip: dict) -> Path | None:
        path = self.layout.shard_warehouse(clip["shard"]) / "keyframes" / f"{clip['clip_id']}.jpg"
        return path if _inside(path, self.layout.home) and path.is_file() else None

    def media_path(self, clip: dict) -> Path | None:
        """The clip's local source file, only if it lies under the data root."""
        try:
            path = file_path(clip["uri"])
        except ValueError:
            return None
        return path if _inside(path, self.layout.home) and path.is_file() else None


def _plain(spec) -> dict[str, dict[str, dict[str, float]]]:
    return {
        name: {sig: lim.model_dump(exclude_none=True) for sig, lim in signals.items()}
        for name, signals in spec.items()
    }


def _inside(path: Path, root: Path) -> bool:
    """``path`` (symlinks resolved) lies under ``root``: ids never reach files outside it."""
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True
