"""Great Expectations (GX Core 1.x) suites over pandas frames; no Dagster here.

A suite is a list of :class:`Expect` (the lineage tables' own suites are in ``shard_suites.py``
and ``filter_suites.py``). :func:`validate_frame` builds a GX ``ExpectationSuite`` from it and
validates it against a whole-dataframe batch of an ephemeral, per-process GX context. The result
is a small :class:`ValidationResult` that the asset checks turn into Dagster metadata.

``great_expectations`` takes seconds to import, so it is imported lazily, on the first validation.
Expectations are named here by their GX type (``expect_column_values_to_be_unique``) through
:class:`Expect`, so callers never import GX themselves.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

PARTIAL_UNEXPECTED_COUNT = 10

_lock = threading.Lock()
_batch_definition: Any = None  # GX BatchDefinition of the cached ephemeral context


@dataclass(frozen=True)
class Expect:
    """One expectation by its GX type name and keyword arguments.

    ``Expect("expect_column_values_to_be_unique", {"column": "clip_id"})`` becomes
    ``gxe.ExpectColumnValuesToBeUnique(column="clip_id")`` at validation time. ``where``
    restricts it to rows whose columns equal the given values (a GX row condition built from
    ``Column(name) == value`` objects; string conditions are deprecated since GX 1.9).
    """

    type: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str | None = None
    where: Mapping[str, Any] | None = None


def expect(
    type_: str,
    description: str | None = None,
    where: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Expect:
    return Expect(type_, kwargs, description, where)


@dataclass(frozen=True)
class ValidationResult:
    """What a suite found: ``failures`` has one dict per failed expectation.

    Each failure: ``expectation`` (GX type), ``column`` (or None for table expectations),
    ``description``, ``unexpected_count``, ``partial_unexpected_list``, ``observed_value`` and
    ``exception`` (the error message when the expectation could not be evaluated).
    """

    suite: str
    passed: bool
    rows: int
    failures: list[dict] = field(default_factory=list)
    statistics: dict = field(default_factory=dict)

    @property
    def failed_expectations(self) -> list[str]:
        return [f["expectation"] for f in self.failures]

    def failed(self, expectation: str, column: str | None = None) -> dict | None:
        """The failure of ``expectation`` (on ``column``), or None when it passed."""
        for f in self.failures:
            if f["expectation"] == expectation and (column is None or f["column"] == column):
                return f
        return None

    def markdown(self) -> str:
        """The failures as a Markdown table (for the Dagster UI)."""
        if not self.failures:
            return f"all {self.statistics.get('evaluated_expectations', 0)} expectations passed"
        lines = [
            "| suite | expectation | column | unexpected | examples / observed |",
            "| --- | --- | --- | ---: | --- |",
        ]
        for f in self.failures:
            example = f["exception"] or (
                f["partial_unexpected_list"]
                if f["partial_unexpected_list"]
                else f["observed_value"]
            )
            count = "" if f["unexpected_count"] is None else str(f["unexpected_count"])
            lines.append(
                f"| {f['suite']} | {f['expectation']} | {f['column'] or ''} | {count} | "
                f"{_md_cell(example)} |"
            )
        return "\n".join(lines)


def combine(suite: str, results: Iterable[ValidationResult]) -> ValidationResult:
    """Several suites' results as one (passed only when all passed)."""
    results = list(results)
    stats: dict[str, int] = {}
    for r in results:
        for key in (
            "evaluated_expectations",
            "successful_expectations",
            "unsuccessful_expectations",
        ):
            stats[key] = stats.get(key, 0) + int(r.statistics.get(key, 0))
    evaluated = stats.get("evaluated_expectations", 0)
    stats["success_percent"] = (
        100.0 * stats.get("successful_expectations", 0) / evaluated if evaluated else 100.0
    )
    return ValidationResult(
        suite=suite,
        passed=all(r.passed for r in results),
        rows=sum(r.rows for r in results),
        failures=[f for r in results for f in r.failures],
        statistics=stats,
    )


# -- running a suite ---------------------------------------------------------------------------


def _gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    return gx


def _batch_definition_for_process():
    """An ephemeral context with one pandas whole-dataframe batch definition, made once."""
    global _batch_definition
    with _lock:
        if _batch_definition is None:
            gx = _gx()
            from great_expectations.data_context.types.base import ProgressBarsConfig

            logging.getLogger("great_expectations").setLevel(logging.ERROR)
            context = gx.get_context(mode="ephemeral")
            # no "Calculating Metrics" bars on stderr for every validation
            context.variables.progress_bars = ProgressBarsConfig(
                globally=False, metric_calculations=False
            )
            source = context.data_sources.add_pandas("curation_lineage")
            asset = source.add_dataframe_asset("lineage_frame")
            _batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
        return _batch_definition


def _expectation(spec: Expect):
    import great_expectations.expectations as gxe

    class_name = "".join(part.capitalize() for part in spec.type.split("_"))
    cls = getattr(gxe, class_name, None)
    if cls is None:
        raise ValueError(f"unknown GX expectation {spec.type!r}")
    kwargs = dict(spec.kwargs)
    if spec.description:
        kwargs["description"] = spec.description
    if spec.where:
        from great_expectations.expectations.row_conditions import Column

        conditions = [Column(name) == value for name, value in spec.where.items()]
        condition = conditions[0]
        for more in conditions[1:]:
            condition = condition & more
        kwargs["row_condition"] = condition
    return cls(**kwargs)


def validate_frame(
    df: pd.DataFrame, suite_name: str, expectations: Sequence[Expect]
) -> ValidationResult:
    """Validate ``df`` against the expectations, as one GX suite on a whole-dataframe batch."""
    gx = _gx()
    batch_definition = _batch_definition_for_process()
    suite = gx.ExpectationSuite(name=suite_name)
    for spec in expectations:
        suite.add_expectation(_expectation(spec))
    with _lock:
        batch = batch_definition.get_batch(batch_parameters={"dataframe": df})
        outcome = batch.validate(
            suite,
            result_format={
                "result_format": "SUMMARY",
                "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
            },
        )
    failures = []
    for res in outcome.results:
        if res.success:
            continue
        config = res.expectation_config
        result = res.result or {}
        failures.append(
            {
                "suite": suite_name,
                "expectation": config.type,
                "column": config.kwargs.get("column"),
                "description": config.description,
                "unexpected_count": result.get("unexpected_count"),
                "partial_unexpected_list": [
                    _plain(v) for v in result.get("partial_unexpected_list") or []
                ],
                "observed_value": _plain(result.get("observed_value")),
                "exception": _exception_message(res.exception_info),
            }
        )
    return ValidationResult(
        suite=suite_name,
        passed=bool(outcome.success),
        rows=len(df),
        failures=failures,
        statistics={k: _plain(v) for k, v in dict(outcome.statistics).items()},
    )


# -- helpers -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON-friendly values: numpy scalars -> Python, NaN -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _exception_message(info: Any) -> str | None:
    """GX's exception_info is either one dict or a dict of them keyed by metric id."""
    if not info:
        return None
    if isinstance(info, Mapping) and "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    if isinstance(info, Mapping):
        messages = sorted(
            {str(v.get("exception_message")) for v in info.values() if isinstance(v, Mapping)}
        )
        return "; ".join(messages) or None
    return str(info)


def _md_cell(value: Any) -> str:
    text = str(value)
    if len(text) > 200:
        text = text[:197] + "..."
    return text.replace("|", "\\|").replace("\n", " ")
