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
def _builtin_modules() -> tuple[str, ...]:
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
    modules = set(_builtin_modules())
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


def _every_known() -> list[type[ClipAnalyzer]]:
    """The built-in analyzers and any other registered one with a family (e.g. from the
    ``signal_modules`` a configuration imported while it was being read)."""
    builtin = load()
    return builtin + [c for c in REGISTERED if c not in builtin and c.family in FAMILY_PACKAGES]


def declared_by_family() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {f: set() for f in FAMILIES}
    for cls in _every_known():
        out[cls.family] |= {s.name for s in cls.declares}
    return out


def declared_signal(name: str) -> Signal | None:
    for signal in [s for c in _every_known() for s in c.declares] + list(LATER_SIGNALS):
        if signal.name == name:
            return signal
    return None
