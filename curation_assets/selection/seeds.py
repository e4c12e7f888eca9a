"""Which fine-tune seeds are in force: marks from the review page plus a seeds file. No Dagster.

A seeds file (``finetune.seeds_file``) lets a team keep its seeds in version control::

    seeds:
      - {clip_id: 3f2a..., theme: slow cinematic landscape, marked_by: alice}
      - clip_id: 9b71...

Review-page marks are append-only events (``seed`` / ``unseed``); the latest per clip, theme and
reviewer counts. A seed that names an unknown clip, or one dropped as a near duplicate, is kept
in the table with its ``problem`` so the asset can say so; only sound seeds are expanded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from curation_assets.selection.expansion import NO_THEME, Seed

SEED, UNSEED = "seed", "unseed"
MAX_THEME_CHARS = 80


class SeedsFileError(ValueError):
    """The seeds file cannot be read as a list of seeds."""


def read_seeds_file(path: Path) -> list[Seed]:
    """Seeds listed in a YAML file (see the module docstring)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SeedsFileError(f"seeds file {path}: {err}") from err
    rows = data.get("seeds") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise SeedsFileError(f"seeds file {path}: expected a top-level 'seeds:' list")
    seeds = []
    for i, row in enumerate(rows, 1):
        row = {"clip_id": row} if isinstance(row, str) else row
        if not isinstance(row, dict) or not str(row.get("clip_id") or "").strip():
            raise SeedsFileError(f"seeds file {path}: entry {i} has no clip_id")
        theme = str(row.get("theme") or NO_THEME).strip()[:MAX_THEME_CHARS]
        seeds.append(
            Seed(
                str(row["clip_id"]).strip(),
                theme,
                str(row.get("marked_by") or ""),
                str(row.get("marked_at") or ""),
                "file",
            )
        )
    return seeds


def marked_seeds(marks: Iterable[Mapping]) -> list[Seed]:
    """Seeds in force from review-page marks: the latest action per (clip, theme, reviewer)."""
    latest: dict[tuple[str, str, str], Mapping] = {}
    for mark in sorted(marks, key=lambda m: (m["created_at"], m["mark_id"])):
        latest[(mark["clip_id"], mark["theme"] or NO_THEME, mark["reviewer"])] = mark
    seeds: dict[tuple[str, str], Seed] = {}
    for (clip_id, theme, reviewer), mark in sorted(latest.items()):
        if mark["action"] != SEED or (clip_id, theme) in seeds:
            continue  # unseeded, or already marked by an earlier reviewer (first one named)
        seeds[(clip_id, theme)] = Seed(clip_id, theme, reviewer, mark["created_at"], "review")
    return list(seeds.values())


def seeds_in_force(
    marks: Iterable[Mapping],
    file_seeds: Iterable[Seed],
    known: set[str],
    dropped_as_copy: Mapping[str, str],
) -> tuple[list[Seed], list[dict]]:
    """(sound seeds, one row per seed for the ``finetune_seeds`` table, problems included).

    ``dropped_as_copy``: clip -> the kept copy, for clips a near-duplicate group dropped (such a
    seed is replaced by its kept copy, which looks the same; ``expanded_from`` names the clip
    expanded, null for an unknown one, so ``recorded_seeds`` reads the seeds back)."""
    sound: list[Seed] = []
    rows: list[dict] = []
    seen: set[tuple[str, str]] = set()
    for seed in [*marked_seeds(marks), *file_seeds]:
        key = (seed.clip_id, seed.theme)
        if key in seen:
            continue
        seen.add(key)
        problem = None
        use = seed
        if seed.clip_id not in known:
            problem = "unknown clip id"
        elif seed.clip_id in dropped_as_copy:
            kept = dropped_as_copy[seed.clip_id]
            problem = f"dropped as a near duplicate of {kept}: expanded from {kept} instead"
            use = Seed(kept, seed.theme, seed.marked_by, seed.marked_at, seed.source)
        if seed.clip_id in known:
            sound.append(use)
        rows.append(
            {
                "clip_id": seed.clip_id,
                "theme": seed.theme_key,
                "marked_by": seed.marked_by,
                "marked_at": seed.marked_at,
                "source": seed.source,
                "problem": problem,
                "expanded_from": use.clip_id if seed.clip_id in known else None,
            }
        )
    rows.sort(key=lambda r: (r["theme"], r["clip_id"]))
    return sound, rows


def recorded_seeds(rows: Iterable[Mapping]) -> list[Seed]:
    """The sound seeds back from ``finetune_seeds`` rows (as ``seeds_in_force`` wrote them), in
    the table's order (theme, clip id), each (expanded clip, theme) once."""
    seeds: dict[tuple[str, str], Seed] = {}
    for row in sorted(rows, key=lambda r: (r["theme"], r["clip_id"])):
        # rows written before the column existed: a seed without a problem is expanded as is
        clip_id = row.get("expanded_from") or (None if row.get("problem") else row["clip_id"])
        if not clip_id:
            continue  # an unknown clip id
        theme = "" if row["theme"] == f"seed:{row['clip_id']}" else row["theme"]
        key = (clip_id, theme)
        if key not in seeds:
            seeds[key] = Seed(
                clip_id,
                theme,
                row.get("marked_by") or "",
                row.get("marked_at") or "",
                row.get("source") or "review",
            )
    return list(seeds.values())
