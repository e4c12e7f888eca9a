"""The cases of cuts and gradual transitions (dissolves, fades through black or white, a wipe)."""

from __future__ import annotations

from dataclasses import replace

from curation_assets.media.real_kit.frames import (
    _bikes,
    _bunny,
    _carphone,
    _chain,
)
from curation_assets.media.real_kit.registry import (
    BIKES,
    BUNNY,
    CARPHONE,
    _CaseDef,
    _Made,
    _registrar,
)
from curation_assets.media.real_kit.sources import BIKES_CUTS, BIKES_FRAMES, _Sources

CASES: dict[str, _CaseDef] = {}
_case = _registrar(CASES)


# cuts --------------------------------------------------------------------------------------------


@_case("cuts_bikes", "cuts people", "bikes.mp4 as filmed (1:1 centre crop): six real shots")
def _cuts_bikes(src: _Sources) -> _Made:
    seq = _bikes(src, 0, BIKES_FRAMES)
    seq = replace(seq, cuts=BIKES_CUTS)
    return _Made(seq, (BIKES,), has_human=True, subject_motion=True, shake=False, slideshow=False)


@_case("cuts_mixed", "cuts", "five real shots from three sources joined by hard cuts")
def _cuts_mixed(src: _Sources) -> _Made:
    seq = _chain(
        _bunny(src, 0, 50),
        (_bikes(src, 137, 187),),
        (_carphone(src, 0, 60),),
        (_bunny(src, 82, 132),),
        (_bikes(src, 30, 76, cx=400),),
    )
    return _Made(
        seq,
        (BUNNY, BIKES, CARPHONE),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case("cuts_cut_in", "cuts", "Big Buck Bunny wide, then a hard cut to a close-up of the scene")
def _cuts_cut_in(src: _Sources) -> _Made:
    seq = _bunny(src, 0, 66).then(_bunny(src, 66, 132, w=300, offset=lambda k: (-50.0, -75.0)))
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="same scene and colours on both sides of the cut",
    )


# gradual transitions -----------------------------------------------------------------------------


@_case("transition_dissolve_short", "transitions", "Big Buck Bunny dissolves (12 frames) to bikes")
def _dissolve_short(src: _Sources) -> _Made:
    seq = _bunny(src, 0, 80).then(_bikes(src, 76, 137, cx=400), "dissolve", 12)
    return _Made(
        seq, (BUNNY, BIKES), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case("transition_dissolve_long", "transitions", "bikes (cyclist) dissolves (25 frames) to Bunny")
def _dissolve_long(src: _Sources) -> _Made:
    seq = _bikes(src, 30, 76, cx=400).then(_bunny(src, 30, 132), "dissolve", 25)
    return _Made(
        seq, (BIKES, BUNNY), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "transition_dissolve_1s_same_scene",
    "transitions",
    "Big Buck Bunny wide dissolves (25 frames) to a close-up of the same scene",
)
def _dissolve_same(src: _Sources) -> _Made:
    close = _bunny(src, 60, 132, w=300, offset=lambda k: (-50.0, -75.0))
    seq = _bunny(src, 0, 80).then(close, "dissolve", 25)
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "transition_fade_black",
    "transitions",
    "carphone fades out (12), holds black (10), fades in (12) to Big Buck Bunny",
)
def _fade_black(src: _Sources) -> _Made:
    seq = _carphone(src).then(_bunny(src, 0, 90), "fade_black", 12, 10)
    return _Made(
        seq, (CARPHONE, BUNNY), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "transition_fade_white",
    "transitions",
    "bikes (pedestrian) fades to white (10), holds (2), fades in (10) to Big Buck Bunny",
)
def _fade_white(src: _Sources) -> _Made:
    seq = _bikes(src, 187, 242).then(_bunny(src, 40, 132), "fade_white", 10, 2)
    return _Made(
        seq, (BIKES, BUNNY), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case("transition_wipe", "transitions", "Big Buck Bunny wipes (15 frames, left to right) to bikes")
def _wipe(src: _Sources) -> _Made:
    seq = _bunny(src, 0, 90).then(_bikes(src, 137, 187), "wipe", 15)
    return _Made(
        seq,
        (BUNNY, BIKES),
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="has_human unlabelled: bikes 137-186 may show distant people",
    )
