"""Fine-tune workflow assets: the candidate pool reviewers see, and the set they accepted."""

import json
import shutil

import dagster as dg
import polars as pl

from curation_assets.assets.captions import captions
from curation_assets.assets.concepts import concepts
from curation_assets.assets.groups import GLOBAL_GROUP
from curation_assets.assets.near_duplicates import near_duplicates
from curation_assets.resources import CurationResource
from curation_assets.review.export import export_finetune_set
from curation_assets.review.store import ReviewStore
from curation_assets.selection.agreement import review_agreement
from curation_assets.selection.finetune import latest_reviews
from curation_assets.selection.variants import variant_members
from curation_assets.steps.finetune import lineage_seeds, update_seeds
from curation_assets.steps.finetune_expansion import update_expansion
from curation_assets.storage.access import SourceAccess

WRITER_PARTITION = "all"
FINETUNE_SUBSET = "finetune_set"


def _review_store(curation: CurationResource) -> ReviewStore:
    return ReviewStore(curation.layout, curation.config())


def _lead(reviews: ReviewStore) -> list[tuple[str, str]]:
    """The seeds' neighbours, round robin over themes: they open the review queue."""
    rows = reviews.lineage.query(
        "SELECT clip_id, theme FROM finetune_expansion ORDER BY rank, theme",
        tables=["finetune_expansion"],
    )
    return [(cid, f"expansion:{theme}") for cid, theme in rows.rows()]


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[near_duplicates],
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Fine-tune seeds in force: clips marked 'seed' (with a theme) in `curate review` "
    "and those listed in finetune.seeds_file, with who marked them and when; unknown clip ids and "
    "seeds dropped as near duplicates are listed with the problem.",
)
def finetune_seeds(context: dg.AssetExecutionContext, curation: CurationResource):
    reviews = _review_store(curation)
    found = update_seeds(reviews)
    reviews.lineage.replace("finetune_seeds", WRITER_PARTITION, {"finetune_seeds": found.rows})
    reviews.lineage.ensure_catalog()
    problems = [r for r in found.rows if r["problem"]] + [{"problem": p} for p in found.problems]
    return dg.MaterializeResult(
        metadata={
            "seeds": len(found.seeds),
            "themes": len({s.theme_key for s in found.seeds}),
            "problems": dg.MetadataValue.json(problems),
            "seed_list": dg.MetadataValue.md(
                _table(found.rows[:50], ["theme", "clip_id", "marked_by", "source", "problem"])
            ),
        }
    )


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[finetune_seeds, near_duplicates, concepts, captions],
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description="More like these seeds (Movie Gen): per theme, the finetune.expansion_k nearest "
    "clips to the seeds finetune_seeds recorded, among the clips the candidate pool admits, "
    "diversified (maximal marginal relevance, no near copies, one theme per clip), with "
    "neighbour_of and the similarity. Incremental: only shards not searched before are searched "
    "(metadata mode says so, or why a full search ran).",
)
def finetune_expansion(context: dg.AssetExecutionContext, curation: CurationResource):
    reviews = _review_store(curation)
    seeds = lineage_seeds(reviews)
    found = update_expansion(reviews, seeds)
    reviews.lineage.replace(
        "finetune_expansion", WRITER_PARTITION, {"finetune_expansion": found.rows}
    )
    reviews.lineage.ensure_catalog()
    per_theme: dict[str, int] = {}
    for row in found.rows:
        per_theme[row["theme"]] = per_theme.get(row["theme"], 0) + 1
    return dg.MaterializeResult(
        metadata={
            "neighbours": len(found.rows),
            "seeds": len(seeds),
            "per_theme": dg.MetadataValue.json(per_theme),
            "mode": found.mode,
            "pool_searched": found.pool,
            "searched_now": found.searched,
            "embedding": found.embedding,
            "problems": dg.MetadataValue.json(found.expansion.problems),
            "top": dg.MetadataValue.md(
                _table(found.rows[:20], ["theme", "rank", "clip_id", "neighbour_of", "similarity"])
            ),
        }
    )


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[near_duplicates, concepts, captions, finetune_expansion],
    kinds={"duckdb"},
    automation_condition=dg.AutomationCondition.eager(),
    description="Clips that passed every automatic gate and the strictest configured thresholds: "
    "the seeds' neighbours first, then ranked by stored quality scores and interleaved across "
    "concepts: what reviewers see in `curate review` (finetune.pool_size score-ranked ones).",
)
def finetune_candidates(context: dg.AssetExecutionContext, curation: CurationResource):
    reviews = _review_store(curation)
    pool, settings = reviews.build_candidates(_lead(reviews))
    rows = pool.candidates.with_columns(
        thresholds=pl.lit(json.dumps(settings.describe()))
    ).to_dicts()
    reviews.lineage.replace("finetune_candidates", WRITER_PARTITION, {"finetune_candidates": rows})
    reviews.lineage.ensure_catalog()
    concepts_seen = pool.candidates["concept"].n_unique() if pool.candidates.height else 0
    return dg.MaterializeResult(
        metadata={
            "candidates": len(rows),
            "pool_size": settings.pool_size,
            "concepts": concepts_seen,
            "thresholds": dg.MetadataValue.md(
                "\n".join(f"- `{r.name}`: {r.threshold}" for r in settings.rules) or "none"
            ),
            "excluded": dg.MetadataValue.json(pool.excluded),
            "not_scored": dg.MetadataValue.json(pool.not_scored),
            "from_seeds": sum(r["source"] != "score" for r in rows),
            "top": dg.MetadataValue.md(
                _table(rows[:10], ["rank", "clip_id", "source", "promise", "concept"])
            ),
        }
    )


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[finetune_candidates],
    kinds={"duckdb"},
    description="The human-reviewed fine-tune set: clips accepted in `curate review` (enough "
    "accepts, more than rejects) with the reviewer's trimmed range and edited caption; "
    "re-materialized by reviews_sensor when reviews land, exported to exports/finetune_set/.",
)
def finetune_set(context: dg.AssetExecutionContext, curation: CurationResource):
    reviews = _review_store(curation)
    members = reviews.build_finetune_set()
    subset = [
        {"subset": FINETUNE_SUBSET, "clip_id": c, "weight": 1.0, "bucket": None}
        for c in members["clip_id"].to_list()
    ]
    reviews.lineage.replace(
        "finetune_set", WRITER_PARTITION, {"finetune_set": members, "subset_members": subset}
    )
    reviews.lineage.ensure_catalog()
    report = export_finetune_set(
        reviews.lineage,
        members,
        curation.layout.exports / FINETUNE_SUBSET,
        write_media=reviews.config.finetune.export_media,
        sources=SourceAccess(curation.s3_client),
    )
    seconds = float(members["duration_s"].sum()) if members.height else 0.0
    agree = review_agreement(latest_reviews(reviews.reviews()).to_dicts())
    return dg.MaterializeResult(
        metadata={
            "clips": members.height,
            "agreement_alpha": dg.MetadataValue.json(
                {"decision": agree["alpha_decision"], **agree["alpha"]}
            ),
            "clips_reviewed_twice": agree["clips_with_two_or_more"],
            "second_look": dg.MetadataValue.md(
                _table(agree["second_look"], ["clip_id", "reviewers", "decisions", "wide_ratings"])
            ),
            "seconds": round(seconds, 2),
            "captions_edited": int(members["caption_edited"].sum()) if members.height else 0,
            "reviews": reviews.reviews().height,
            "export": dg.MetadataValue.path(str(report.out_dir)),
            "exported_clips": report.ok,
            "export_failed": dg.MetadataValue.json(
                [{"clip_id": f.clip_id, "reason": str(f.reason)} for f in report.failed]
            ),
            "members": dg.MetadataValue.md(
                _table(members.head(20).to_dicts(), ["clip_id", "start_s", "end_s", "accepts"])
            ),
        }
    )


@dg.asset(
    group_name=GLOBAL_GROUP,
    deps=[finetune_set],
    kinds={"duckdb"},
    description="K seeded variants of the fine-tune set (finetune.variants, variant_fraction, "
    "stratified by seed theme, else concept), to fine-tune several models and average them; "
    "each exported to exports/finetune_variants/variant_<i>/ (manifest + WebDataset shards).",
)
def finetune_variants(context: dg.AssetExecutionContext, curation: CurationResource):
    reviews = _review_store(curation)
    cfg = reviews.config.finetune
    members = reviews.lineage.query("SELECT * FROM finetune_set ORDER BY clip_id")
    strata = dict(
        reviews.lineage.query(
            "SELECT c.clip_id, coalesce(any_value(e.theme), any_value(l.label), '') FROM "
            "finetune_set c LEFT JOIN finetune_expansion e USING (clip_id) LEFT JOIN clip_labels "
            "l ON l.clip_id = c.clip_id AND l.kind = 'concept' GROUP BY c.clip_id",
            tables=["finetune_set", "finetune_expansion", "clip_labels"],
        ).rows()
    )
    rows = variant_members(
        members["clip_id"].to_list(), strata, cfg.variants, cfg.variant_fraction, cfg.variant_seed
    )
    table = [{"variant": v, "clip_id": c, "stratum": strata.get(c, "")} for v, c in rows]
    reviews.lineage.replace("finetune_variants", WRITER_PARTITION, {"finetune_variants": table})
    reviews.lineage.ensure_catalog()
    root = curation.layout.exports / "finetune_variants"
    exported, failed = {}, []
    for v in range(cfg.variants):
        chosen = {c for variant, c in rows if variant == v}
        report = export_finetune_set(
            reviews.lineage,
            members.filter(pl.col("clip_id").is_in(sorted(chosen))),
            root / f"variant_{v:02d}",
            write_media=cfg.export_media,
            sources=SourceAccess(curation.s3_client),
        )
        exported[f"variant_{v:02d}"] = report.ok
        failed += [
            {"variant": v, "clip_id": f.clip_id, "reason": str(f.reason)} for f in report.failed
        ]
    for stale in sorted(root.glob("variant_*")) if root.is_dir() else []:
        if stale.name not in exported:
            shutil.rmtree(stale)  # fewer variants than last time
    return dg.MaterializeResult(
        metadata={
            "variants": cfg.variants,
            "set_clips": members.height,
            "clips_per_variant": dg.MetadataValue.json(exported),
            "export": dg.MetadataValue.path(str(root)),
            "export_failed": dg.MetadataValue.json(failed),
        }
    )


def _table(rows: list[dict], cols: list[str]) -> str:
    if not rows:
        return "(none)"
    head = "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)
    body = "\n".join("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows)
    return f"{head}\n{body}"


def _fmt(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@dg.asset_check(
    asset=finetune_candidates,
    description="Every candidate passed every automatic gate and the strict thresholds, ranks "
    "are 1..n without gaps, no clip twice, at most pool_size.",
)
def finetune_candidates_valid(curation: CurationResource) -> dg.AssetCheckResult:
    reviews = _review_store(curation)
    q = reviews.lineage.query
    cand = q("SELECT clip_id, rank FROM finetune_candidates ORDER BY rank")
    failed = q(
        "SELECT count(*) FROM finetune_candidates f JOIN decisions d USING (clip_id) "
        "WHERE d.passed = false"
    ).item()
    lead = _lead(reviews)
    pool, settings = reviews.build_candidates(lead)
    n = cand.height
    problems = {
        "failed_decisions": int(failed),
        "duplicate_ids": n - cand["clip_id"].n_unique(),
        "rank_gaps": int(cand["rank"].to_list() != list(range(1, n + 1))),
        "over_pool_size": max(0, n - settings.pool_size - len(lead)),
        "stale_vs_recomputed": int(
            cand["clip_id"].to_list() != pool.candidates["clip_id"].to_list()
        ),
    }
    return dg.AssetCheckResult(
        passed=not any(problems.values()), metadata={"candidates": n, **problems}
    )


@dg.asset_check(
    asset=finetune_set,
    description="Every member was accepted by enough reviewers, its trim lies inside its clip "
    "and is long enough, and its caption is not empty.",
)
def finetune_set_valid(curation: CurationResource) -> dg.AssetCheckResult:
    reviews = _review_store(curation)
    cfg = reviews.config.finetune
    rows = reviews.lineage.query(
        "SELECT f.*, c.start_s AS clip_start, c.end_s AS clip_end FROM finetune_set f "
        "JOIN clips c USING (clip_id)"
    )
    members = reviews.lineage.query("SELECT count(*) FROM finetune_set").item()
    eps = 1e-3
    problems = {
        "missing_clip": int(members - rows.height),
        "too_few_accepts": rows.filter(rows["accepts"] < cfg.min_accepts).height,
        "trim_outside_clip": rows.filter(
            (rows["start_s"] < rows["clip_start"] - eps) | (rows["end_s"] > rows["clip_end"] + eps)
        ).height,
        "trim_too_short": rows.filter(rows["duration_s"] < cfg.min_trim_s - eps).height,
        "empty_caption": rows.filter(rows["caption"].fill_null("").str.strip_chars() == "").height,
    }
    return dg.AssetCheckResult(
        passed=not any(problems.values()), metadata={"members": int(members), **problems}
    )


FINETUNE_ASSETS = [
    finetune_seeds,
    finetune_expansion,
    finetune_candidates,
    finetune_set,
    finetune_variants,
]
FINETUNE_CHECKS = [finetune_candidates_valid, finetune_set_valid]
