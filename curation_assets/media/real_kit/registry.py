"""How a case is declared: what its maker returns (``_Made``), its definition (``_CaseDef``) and
the ``@_case`` decorator each case module registers its cases with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from curation_assets.media.real_kit.frames import _Seq
from curation_assets.media.real_kit.sources import _Sources
from curation_assets.media.real_kit.truth import Watermark


@dataclass(frozen=True)
class _Made:
    seq: _Seq
    sources: tuple[str, ...]
    watermarks: tuple[Watermark, ...] = ()
    letterbox: bool = False
    has_human: bool | None = None
    camera: str | None = None
    subject_motion: bool | None = None
    shake: bool | None = None
    slideshow: bool | None = None
    notes: str = ""


@dataclass(frozen=True)
class _CaseDef:
    case_id: str
    groups: tuple[str, ...]
    description: str
    make: Callable[[_Sources], _Made] = field(repr=False)


def _registrar(cases: dict[str, _CaseDef]):
    """The ``@_case(case_id, groups, description)`` decorator of one case module: it registers
    each maker it decorates in ``cases`` (that module's ``CASES``), in order."""

    def _case(case_id: str, groups: str, description: str):
        def register(make: Callable[[_Sources], _Made]) -> Callable[[_Sources], _Made]:
            if case_id in cases:
                raise ValueError(f"duplicate case {case_id}")
            cases[case_id] = _CaseDef(case_id, tuple(groups.split()), description, make)
            return make

        return register

    return _case


def _merged(*registries: dict[str, _CaseDef]) -> dict[str, _CaseDef]:
    """The cases of ``registries`` in turn, each in its own order; a case id is unique."""
    out: dict[str, _CaseDef] = {}
    for cases in registries:
        for case_id, case in cases.items():
            if case_id in out:
                raise ValueError(f"duplicate case {case_id}")
            out[case_id] = case
    return out


BUNNY = "bigbuckbunny.mp4"
BIKES = "bikes.mp4"
CARPHONE = "carphone_pristine.mp4"
# A still photo moved by a smooth synthetic camera: nothing moves on its own, no shake.
_STILL_PHOTO = dict(subject_motion=False, shake=False)
