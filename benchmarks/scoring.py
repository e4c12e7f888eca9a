"""Precision and recall counting for the judgment benchmarks (``judgment_quality.py`` on real
footage, ``image_judgments.py`` on real photos), shared so both report alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, truth: bool, predicted: bool) -> None:
        if truth and predicted:
            self.tp += 1
        elif truth:
            self.fn += 1
        elif predicted:
            self.fp += 1
        else:
            self.tn += 1

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> str:
        called = self.tp + self.fp
        return f"{self.tp / called:.2f}" if called else "-"

    @property
    def recall(self) -> str:
        real = self.tp + self.fn
        return f"{self.tp / real:.2f}" if real else "-"


def row(
    name: str, signal: str, cases: int, c: Counts, note: str = "", widths=(20, 44, 5, 4)
) -> str:
    """One table line: judgment, signal, cases, positives, TP, FP, FN, precision, recall."""
    w_name, w_signal, w_cases, w_pos = widths
    return (
        f"{name:<{w_name}} {signal:<{w_signal}} {cases:>{w_cases}} {c.tp + c.fn:>{w_pos}} "
        f"{c.tp:>4} {c.fp:>4} {c.fn:>4} {c.precision:>6} {c.recall:>6}  {note}"
    )
