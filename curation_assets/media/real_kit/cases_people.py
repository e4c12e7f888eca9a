"""The cases of people (cyclists, a pedestrian, the carphone man, the astronaut and the
cameraman, whole, partial, small) and of scenes without people."""

from __future__ import annotations

import cv2
import numpy as np

from curation_assets.media.real_kit.frames import (
    _bikes,
    _bunny,
    _carphone,
    _noisy,
    _photo,
    _ramp,
    _Seq,
    _view,
)
from curation_assets.media.real_kit.registry import (
    _STILL_PHOTO,
    BIKES,
    BUNNY,
    CARPHONE,
    _CaseDef,
    _Made,
    _registrar,
)
from curation_assets.media.real_kit.sources import _Sources

CASES: dict[str, _CaseDef] = {}
_case = _registrar(CASES)


# people ------------------------------------------------------------------------------------------


@_case(
    "people_bikes_cyclist_suit",
    "people",
    "bikes 30-46: a cyclist in a suit, large, riding through traffic",
)
def _p1(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 30, 47, cx=400),
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "people_bikes_cyclist_helmet",
    "people",
    "bikes 76-136: a helmeted cyclist behind a van, a bus passing in front",
)
def _p2(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 76, 137, cx=400),
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "people_bikes_pedestrian_legs",
    "people",
    "bikes 187-209: a pedestrian walking past, seen from the waist down (partly visible)",
)
def _p3(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 187, 210, cx=240),
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case("people_carphone", "people", "carphone: a man's head and shoulders, talking in a car")
def _p4(src: _Sources) -> _Made:
    return _Made(
        _carphone(src),
        (CARPHONE,),
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="176x144 source upscaled 2.7x: soft",
    )


@_case("people_astronaut", "people", "the astronaut photo: face and upper body, slow pan, noise")
def _p5(src: _Sources) -> _Made:
    seq = _photo(src, "astronaut", 100, (268, 150, 480), (292, 150, 480), noise=3, seed=5)
    return _Made(seq, ("skimage:astronaut",), has_human=True, **_STILL_PHOTO)


@_case("people_cameraman", "people", "the cameraman photo: head and torso, profile, slow pan")
def _p6(src: _Sources) -> _Made:
    seq = _photo(src, "camera", 100, (268, 200, 480), (292, 200, 480), noise=3, seed=6)
    return _Made(seq, ("skimage:camera",), has_human=True, **_STILL_PHOTO)


@_case(
    "people_astronaut_partial",
    "people",
    "a crop of the astronaut below the chin: suit, patches, hand (no face)",
)
def _p7(src: _Sources) -> _Made:
    seq = _photo(src, "astronaut", 100, (290, 440, 400), (300, 440, 400), noise=3, seed=7)
    return _Made(seq, ("skimage:astronaut",), has_human=True, **_STILL_PHOTO)


@_case(
    "people_cameraman_partial",
    "people",
    "a crop of the cameraman below the shoulders: coat, gloved hand, tripod (no face)",
)
def _p8(src: _Sources) -> _Made:
    seq = _photo(src, "camera", 100, (205, 385, 400), (215, 385, 400), noise=3, seed=8)
    return _Made(seq, ("skimage:camera",), has_human=True, **_STILL_PHOTO)


@_case(
    "people_astronaut_small",
    "people",
    "the whole astronaut photo small (150 px) over a blurred copy of itself",
)
def _p9(src: _Sources) -> _Made:
    image = src.still("astronaut")
    small = cv2.resize(image, (150, 150), interpolation=cv2.INTER_AREA)
    backdrop = cv2.GaussianBlur(_view(image, 280, 280, 560), (0, 0), 18)
    backdrop = (backdrop * 0.6).astype(np.uint8)
    rng_seed = 9

    def frame(k: int) -> np.ndarray:
        out = backdrop.copy()
        x = 165 + int(round(_ramp(k, 100, -12, 12)))
        out[60:210, x : x + 150] = small
        return _noisy(out, 2, np.random.default_rng([rng_seed, k]))

    return _Made(
        _Seq(100, frame),
        ("skimage:astronaut",),
        has_human=True,
        notes="face ~30 px tall",
        **_STILL_PHOTO,
    )


@_case(
    "people_pip_cameraman_bunny",
    "people",
    "a small picture-in-picture of the cameraman's head (96 px) over Big Buck Bunny",
)
def _p10(src: _Sources) -> _Made:
    head = src.still("camera")[60:220, 160:320]  # the head and collar, 160x160
    head = cv2.resize(head, (96, 96), interpolation=cv2.INTER_AREA)
    base = _bunny(src)

    def frame(k: int) -> np.ndarray:
        out = base.frame(k)
        out[156:256, 368:468] = 255  # a white frame around it
        out[158:254, 370:466] = head
        return out

    return _Made(
        _Seq(132, frame),
        (BUNNY, "skimage:camera"),
        has_human=True,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "nopeople_bunny",
    "people camera watermark shake slideshow",
    "Big Buck Bunny through a window that follows its background: a static camera, the "
    "animated rabbit (not a human) moves",
)
def _n1(src: _Sources) -> _Made:
    return _Made(
        _bunny(src),
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case("nopeople_bikes_parked", "people", "bikes 216-241: a parked bicycle, bollard, wall")
def _n2(src: _Sources) -> _Made:
    return _Made(
        _bikes(src, 216, 242, cx=400), (BIKES,), has_human=False, shake=False, slideshow=False
    )


def _photo_negative(name: str, cy: float, seed: int):
    def make(src: _Sources) -> _Made:
        seq = _photo(src, name, 100, (268, cy, 480), (292, cy, 480), noise=3, seed=seed)
        return _Made(seq, (f"skimage:{name}",), has_human=False, **_STILL_PHOTO)

    return make


for _name, _cy, _seed in (
    ("coffee", 186, 11),
    ("chelsea", 186, 12),
    ("rocket", 187, 13),
    ("motorcycle", 189, 14),
):
    _case(f"nopeople_{_name}", "people", f"the {_name} photo, slow pan with sensor noise")(
        _photo_negative(_name, _cy, _seed)
    )
