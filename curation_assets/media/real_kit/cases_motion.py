"""The cases of camera motion (a window moved over real frames), handheld shake and slideshows
(real stills held, cut or dissolved, Ken Burns)."""

from __future__ import annotations

import cv2

from curation_assets.media.real_kit.frames import (
    _bikes_pan,
    _bunny,
    _chain,
    _held,
    _jitter,
    _pan_offset,
    _photo,
    _ramp,
    _Seq,
)
from curation_assets.media.real_kit.registry import (
    _STILL_PHOTO,
    BIKES,
    BUNNY,
    _CaseDef,
    _Made,
    _registrar,
)
from curation_assets.media.real_kit.sources import _Sources
from curation_assets.media.real_kit.truth import HEIGHT, WIDTH

CASES: dict[str, _CaseDef] = {}
_case = _registrar(CASES)


# camera motion -----------------------------------------------------------------------------------


@_case(
    "camera_static_bunny_native",
    "camera",
    "Big Buck Bunny frames 85-131 as filmed (its camera has stopped), downscaled",
)
def _c0(src: _Sources) -> _Made:
    seq = _Seq(
        47, lambda k: cv2.resize(src.bunny[85 + k], (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="no processing but a resize",
    )


def _bunny_camera(camera: str):
    n = 132
    if camera in ("pan_right", "pan_left"):
        sign = 1 if camera == "pan_right" else -1

        def make(src: _Sources) -> _Made:
            return _Made(
                _bunny(src, w=400, offset=_pan_offset(n, 200, sign)),
                (BUNNY,),
                has_human=False,
                camera=camera,
                subject_motion=True,
                shake=False,
                slideshow=False,
                notes="0.5 frame widths in 5.2 s",
            )

    elif camera in ("tilt_up", "tilt_down"):
        sign = 1 if camera == "tilt_down" else -1

        def make(src: _Sources) -> _Made:
            offset = lambda k: (0.0, sign * _ramp(k, n, -65, 65))  # noqa: E731
            return _Made(
                _bunny(src, w=352, offset=offset),
                (BUNNY,),
                has_human=False,
                camera=camera,
                subject_motion=True,
                shake=False,
                slideshow=False,
                notes="0.37 frame widths in 5.2 s",
            )

    else:
        first, last = (592, 320) if camera == "zoom_in" else (320, 592)

        def make(src: _Sources) -> _Made:
            w = lambda k: _ramp(k, n, first, last, geometric=True)  # noqa: E731
            return _Made(
                _bunny(src, w=w),
                (BUNNY,),
                has_human=False,
                camera=camera,
                subject_motion=True,
                shake=False,
                slideshow=False,
                notes="scale x1.85 in 5.2 s, constant rate",
            )

    return make


for _camera in ("pan_right", "pan_left", "tilt_up", "tilt_down", "zoom_in", "zoom_out"):
    _case(
        f"camera_{_camera}_bunny",
        "camera",
        f"a window moving over Big Buck Bunny ({_camera}); the rabbit moves on its own",
    )(_bunny_camera(_camera))


@_case(
    "camera_pan_right_bikes",
    "camera",
    "bikes 187-241 as filmed: the camera moves right (the wall drifts left ~0.73 px a frame)",
)
def _c2(src: _Sources) -> _Made:
    return _Made(
        _bikes_pan(src),
        (BIKES,),
        has_human=True,
        camera="pan_right",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="a real truck right with parallax, measured by template matching: the wall "
        "moves 36-44 px in 54 frames (~0.04 frame widths/s), the near bollard ~80 px",
    )


@_case("camera_static_coffee", "camera", "the coffee photo held still with sensor noise")
def _c3(src: _Sources) -> _Made:
    seq = _photo(src, "coffee", 100, (280, 186, 480), noise=3, seed=21)
    return _Made(
        seq,
        ("skimage:coffee",),
        has_human=False,
        camera="static",
        notes="a still scene: static camera, nothing moves",
        **_STILL_PHOTO,
    )


@_case(
    "camera_pan_left_rocket",
    "camera slideshow",
    "a window panning left over the rocket photo (a still: Ken Burns pan)",
)
def _c4(src: _Sources) -> _Made:
    seq = _photo(src, "rocket", 125, (350, 187, 420), (210, 187, 420))
    return _Made(
        seq, ("skimage:rocket",), has_human=False, camera="pan_left", slideshow=True, **_STILL_PHOTO
    )


# shake -------------------------------------------------------------------------------------------


@_case(
    "shake_strong_bunny",
    "shake camera",
    "handheld jitter (2.4% of the width RMS a frame, 0.4 deg roll) over Big Buck Bunny",
)
def _s1(src: _Sources) -> _Made:
    jit = _jitter(132, 0.04, 0.6, seed=31)
    seq = _bunny(
        src, w=448, offset=lambda k: (jit[k, 0] * 448, jit[k, 1] * 448), angle=lambda k: jit[k, 2]
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="handheld",
        subject_motion=True,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_mild_bunny",
    "shake camera",
    "mild handheld jitter (0.9% of the width RMS a frame) over Big Buck Bunny",
)
def _s2(src: _Sources) -> _Made:
    jit = _jitter(132, 0.015, 0.25, seed=32)
    seq = _bunny(
        src, w=448, offset=lambda k: (jit[k, 0] * 448, jit[k, 1] * 448), angle=lambda k: jit[k, 2]
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="handheld",
        subject_motion=True,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_strong_bikes",
    "shake camera",
    "handheld jitter (2.4% RMS) over bikes 187-241 (its camera moves right; a pedestrian)",
)
def _s3(src: _Sources) -> _Made:
    seq = _bikes_pan(src, w=352, jitter=_jitter(55, 0.04, 0.6, seed=33))
    return _Made(
        seq,
        (BIKES,),
        has_human=True,
        subject_motion=True,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_strong_coffee",
    "shake camera slideshow",
    "handheld jitter (2.4% RMS) over the coffee photo with sensor noise: a shaky shot of a "
    "still scene, not a slideshow",
)
def _s4(src: _Sources) -> _Made:
    seq = _photo(
        src,
        "coffee",
        125,
        (280, 186, 440),
        noise=3,
        seed=34,
        jitter=_jitter(125, 0.04, 0.6, seed=34),
    )
    return _Made(
        seq,
        ("skimage:coffee",),
        has_human=False,
        camera="handheld",
        subject_motion=False,
        shake=True,
        slideshow=False,
    )


@_case(
    "shake_pan_bunny",
    "shake",
    "a handheld pan right (jitter 1.8% RMS on a steady pan) over Big Buck Bunny",
)
def _s5(src: _Sources) -> _Made:
    jit = _jitter(132, 0.03, 0.4, seed=35)
    pan = _pan_offset(132, 160, +1)
    seq = _bunny(
        src,
        w=400,
        offset=lambda k: (pan(k)[0] + jit[k, 0] * 400, jit[k, 1] * 400),
        angle=lambda k: jit[k, 2],
    )
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        subject_motion=True,
        shake=True,
        slideshow=False,
        notes="camera unlabelled: a pan and handheld at once",
    )


# slideshows --------------------------------------------------------------------------------------


@_case(
    "slideshow_cuts", "slideshow cuts", "five real photos held 1.2-1.8 s each, joined by hard cuts"
)
def _sl1(src: _Sources) -> _Made:
    holds = (("coffee", 30), ("chelsea", 45), ("rocket", 38), ("astronaut", 42), ("motorcycle", 35))
    seqs = [_held(src, name, n) for name, n in holds]
    seq = _chain(seqs[0], *((s,) for s in seqs[1:]))
    return _Made(
        seq,
        tuple(f"skimage:{n}" for n, _ in holds),
        has_human=True,
        subject_motion=False,
        shake=False,
        slideshow=True,
    )


@_case(
    "slideshow_dissolves",
    "slideshow transitions",
    "four real photos held, joined by 12-frame dissolves",
)
def _sl2(src: _Sources) -> _Made:
    names = ("rocket", "coffee", "camera", "chelsea")
    seqs = [_held(src, name, 45) for name in names]
    seq = _chain(seqs[0], *(("dissolve", 12, 0, s) for s in seqs[1:]))
    return _Made(
        seq,
        tuple(f"skimage:{n}" for n in names),
        has_human=True,
        subject_motion=False,
        shake=False,
        slideshow=True,
    )


@_case(
    "slideshow_kenburns_chelsea",
    "slideshow camera",
    "one photo (chelsea) with a slow Ken Burns zoom in",
)
def _sl3(src: _Sources) -> _Made:
    seq = _photo(src, "chelsea", 125, (280, 186, 560), (290, 180, 400))
    return _Made(
        seq, ("skimage:chelsea",), has_human=False, camera="zoom_in", slideshow=True, **_STILL_PHOTO
    )


@_case(
    "slideshow_kenburns_montage",
    "slideshow transitions",
    "three photos, each with a Ken Burns pan or zoom, joined by 12-frame dissolves",
)
def _sl4(src: _Sources) -> _Made:
    seq = _chain(
        _photo(src, "coffee", 60, (240, 186, 480), (320, 186, 480)),
        ("dissolve", 12, 0, _photo(src, "rocket", 60, (280, 187, 540), (280, 187, 420))),
        ("dissolve", 12, 0, _photo(src, "motorcycle", 60, (300, 189, 460), (260, 189, 460))),
    )
    return _Made(
        seq,
        ("skimage:coffee", "skimage:rocket", "skimage:motorcycle"),
        has_human=False,
        slideshow=True,
        **_STILL_PHOTO,
    )
