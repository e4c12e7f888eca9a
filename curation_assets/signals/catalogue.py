"""Every signal the pipeline can measure, read from the analyzers' own declarations.

Analyzers are found, not listed: every module in the family folders (``signals/visual``,
``signals/motion``, ``signals/content``) is imported, and so is every module named under
``signal_modules`` in curation.yaml (analyzers kept outside this package: an importable name, or a
``.py`` file's path, which every worker process can load without a change to ``sys.path``).
Decisions, asset checks, UI metadata, subsets, exports and captions ask this module what a signal
is, so a new signal is one analyzer module plus its gate in curation.yaml (docs/extending.md).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from curation_assets.config import CurationConfig
from curation_assets.config.sections import FILTER_NAMES, Limits
from curation_assets.signals.base import REGISTERED, ClipAnalyzer, Signal

FAMILY_PACKAGES = {
    "visual_filter": "curation_assets.signals.visual",
    "motion_filter": "curation_assets.signals.motion",
    "content_filter": "curation_assets.signals.content",
}
FAMILIES = tuple(FAMILY_PACKAGES)

# Signals that no clip analyzer measures: written by a later, global step.
LATER_SIGNALS = (
    Signal(
        "concept_weight",
        "sampling weight of the clip's concept cluster (global_concepts): rare concepts weigh "
        "more, so a subset can balance what it shows",
        better="higher",
        range=(0.0, None),
        export=6,
    ),
)


@cache
def builtin_analyzer_modules() -> tuple[str, ...]:
    names = []
    for package in FAMILY_PACKAGES.values():
        path = importlib.import_module(package).__path__
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules(path) if not m.ispkg]
    return tuple(sorted(names))


def import_module(spec: str) -> str:
    """Import a module by name or from a ``.py`` path; returns its module name."""
    if not spec.endswith(".py"):
        importlib.import_module(spec)
        return spec
    path = Path(spec).expanduser().resolve()
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    name = f"curation_signal_modules.{path.stem}_{digest}"
    if name not in sys.modules:
        if not path.is_file():
            raise FileNotFoundError(f"signal_modules: no such file {path}")
        loader = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(loader)
        sys.modules[name] = module
        try:
            loader.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return name


def load(extra_modules: Iterable[str] = ()) -> list[type[ClipAnalyzer]]:
    """The analyzer classes of the built-in family folders and of ``extra_modules``, in run
    order (family, ``order``, name). Importing a module is what registers its analyzers."""
    modules = set(builtin_analyzer_modules())
    for module in sorted(modules):
        importlib.import_module(module)
    modules |= {import_module(m) for m in extra_modules}
    found = [c for c in REGISTERED if c.__module__ in modules]
    for cls in found:
        if cls.family not in FAMILY_PACKAGES:
            raise ValueError(
                f"analyzer {cls.__module__}.{cls.__qualname__} has no known family "
                f"({cls.family!r}); set family to one of {FAMILIES}"
            )
    return sorted(found, key=lambda c: (FAMILIES.index(c.family), c.order, c.name))


def signals(extra_modules: Iterable[str] = ()) -> dict[str, Signal]:
    """name -> declaration, every analyzer's and the later steps'. A name declared twice must
    be declared by the same ``Signal`` (import it), so its meaning cannot fork."""
    out: dict[str, Signal] = {}
    for cls in load(extra_modules):
        for signal in cls.declares:
            _add(out, signal, f"{cls.__module__}.{cls.__qualname__}")
    for signal in LATER_SIGNALS:
        _add(out, signal, __name__)
    return out


def _add(out: dict[str, Signal], signal: Signal, where: str) -> None:
    known = out.get(signal.name)
    if known is not None and known != signal:
        raise ValueError(f"signal {signal.name!r} is declared twice, differently ({where})")
    out[signal.name] = signal


def family_signals(extra_modules: Iterable[str] = ()) -> dict[str, set[str]]:
    """family -> the signal names its analyzers may emit."""
    out: dict[str, set[str]] = {f: set() for f in FAMILIES}
    for cls in load(extra_modules):
        out[cls.family] |= {s.name for s in cls.declares}
    return out


def exported(extra_modules: Iterable[str] = ()) -> list[Signal]:
    """The signals written as ``score_<name>`` columns of an export, in column order."""
    chosen = [s for s in signals(extra_modules).values() if s.export is not None]
    return sorted(chosen, key=lambda s: (s.export, s.name))


def plotted_in_subsets(extra_modules: Iterable[str] = ()) -> list[str]:
    return [s.name for s in signals(extra_modules).values() if s.plot_in_subsets]


def check_config(cfg: CurationConfig) -> CurationConfig:
    """``cfg`` with every filter checked against the analyzers that would run it, and each
    ``<signal>: {}`` given the gate its signal declares. A filter that is not a vocabulary name
    must be named after a signal its family declares (``filters``, ``image_filters``) or any
    family declares (subset ``thresholds``, ``finetune.filters``). Runs read their configuration
    through this (``resources.py``, the CLI); nothing is imported while every name is a
    vocabulary name and no gate is left to the declaration."""
    vocabulary = set().union(*FILTER_NAMES.values())
    sections = {"filters": cfg.filters, "image_filters": cfg.image_filters}
    named = [
        (f"{section}.{stage}", stage, name, bounds)
        for section, stages in sections.items()
        for stage, filters in stages.items()
        for name, bounds in filters.items()
    ]
    named += [
        (f"subsets.{stage}.thresholds", None, name, bounds)
        for stage, settings in cfg.subsets.resolved().items()
        for name, bounds in settings.thresholds.items()
    ]
    named += [("finetune.filters", None, n, b) for n, b in cfg.finetune.filters.items()]
    if all(name in vocabulary and bounds for _, _, name, bounds in named):
        return cfg
    by_family = family_signals(cfg.signal_modules)
    declared = signals(cfg.signal_modules)
    problems = []
    for where, stage, name, bounds in named:
        known = by_family[stage] if stage else set().union(*by_family.values())
        if name not in vocabulary and name not in known:
            problems.append(f"{where}: no analyzer declares a signal {name!r}")
        elif not bounds and stage is None:
            problems.append(f"{where}: {name}: {{}} needs bounds here (declared gates: filters)")
        elif not bounds and (name not in declared or declared[name].gate is None):
            problems.append(f"{where}: {name}: {{}} but signal {name!r} declares no gate")
    if problems:
        raise ValueError("; ".join(problems) + " (docs/extending.md, 'Add a signal')")
    resolved = {}
    for section, stages in sections.items():
        resolved[section] = {
            stage: {
                name: bounds
                or {name: Limits(min=declared[name].gate[0], max=declared[name].gate[1])}
                for name, bounds in filters.items()
            }
            for stage, filters in stages.items()
        }
    return cfg.model_copy(update=resolved)
