"""The cases of watermarks and logos (emblems and text, corner and centre, faint and opaque)
and the negatives: a sign in the scene, letterbox bars."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from curation_assets.media.real_kit.frames import (
    _bikes,
    _bunny,
    _carphone,
    _pan_offset,
    _Seq,
)
from curation_assets.media.real_kit.overlays import _scene_sign, _watermarked
from curation_assets.media.real_kit.registry import (
    BIKES,
    BUNNY,
    CARPHONE,
    _CaseDef,
    _Made,
    _registrar,
)
from curation_assets.media.real_kit.sources import BIKES_CUTS, BIKES_FRAMES, _Sources
from curation_assets.media.real_kit.truth import HEIGHT, WIDTH

CASES: dict[str, _CaseDef] = {}
_case = _registrar(CASES)


# watermarks and logos ----------------------------------------------------------------------------


@_case(
    "watermark_emblem_corner_a40_bunny",
    "watermark",
    "a white/amber emblem (no text), top right, alpha 0.4, over Big Buck Bunny",
)
def _wm1(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bunny(src), "emblem", "top_right", 0.4, 52)
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_emblem_corner_opaque_bikes",
    "watermark cuts",
    "an opaque emblem, bottom right, over bikes.mp4 and its five cuts",
)
def _wm2(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bikes(src, 0, BIKES_FRAMES), "emblem", "bottom_right", 1.0, 44)
    seq = replace(seq, cuts=BIKES_CUTS)
    return _Made(
        seq, (BIKES,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_text_corner_opaque_bunny",
    "watermark",
    "an opaque text logo 'STUDIO 9', top left, over Big Buck Bunny",
)
def _wm3(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bunny(src), "text", "top_left", 1.0, 16, "STUDIO 9")
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_text_corner_a35_bikes",
    "watermark",
    "a text logo 'clipstock.tv', bottom right, alpha 0.35, over bikes 76-241 (two cuts)",
)
def _wm4(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bikes(src, 76, 242), "text", "bottom_right", 0.35, 16, "clipstock.tv")
    seq = replace(seq, cuts=(137 - 76, 187 - 76))
    return _Made(
        seq, (BIKES,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_emblem_centre_a30_bunny",
    "watermark",
    "a large emblem in the centre, alpha 0.3 (stock-preview style), over Big Buck Bunny",
)
def _wm5(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bunny(src), "emblem", "centre", 0.3, 150)
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="static",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_text_centre_a45_bikes",
    "watermark",
    "large text 'PREVIEW' in the centre, alpha 0.45, over bikes 0-136 (two cuts)",
)
def _wm6(src: _Sources) -> _Made:
    seq, mark = _watermarked(_bikes(src, 0, 137), "text", "centre", 0.45, 48, "PREVIEW")
    seq = replace(seq, cuts=(30, 76))
    return _Made(
        seq, (BIKES,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_text_centre_opaque_carphone",
    "watermark people",
    "opaque text 'SAMPLE' in the centre over the carphone sequence",
)
def _wm7(src: _Sources) -> _Made:
    seq, mark = _watermarked(_carphone(src), "text", "centre", 1.0, 40, "SAMPLE")
    return _Made(
        seq, (CARPHONE,), (mark,), has_human=True, subject_motion=True, shake=False, slideshow=False
    )


@_case(
    "watermark_emblem_corner_a50_pan_bunny",
    "watermark camera",
    "an emblem fixed in the frame (bottom left, alpha 0.5) while the camera pans right",
)
def _wm8(src: _Sources) -> _Made:
    seq, mark = _watermarked(
        _bunny(src, w=400, offset=_pan_offset(132, 200, +1)), "emblem", "bottom_left", 0.5, 48
    )
    return _Made(
        seq,
        (BUNNY,),
        (mark,),
        has_human=False,
        camera="pan_right",
        subject_motion=True,
        shake=False,
        slideshow=False,
    )


@_case(
    "watermark_neg_scene_sign_pan",
    "watermark camera",
    "negative: a sign (emblem + 'CAFE') fixed in the scene, moving with it as the camera pans left",
)
def _wm_neg_sign(src: _Sources) -> _Made:
    seq = _bunny(src, w=400, offset=_pan_offset(132, 200, -1), scene=_scene_sign())
    return _Made(
        seq,
        (BUNNY,),
        has_human=False,
        camera="pan_left",
        subject_motion=True,
        shake=False,
        slideshow=False,
        notes="scene text, not a watermark",
    )


@_case(
    "watermark_neg_letterbox_bikes",
    "watermark cuts",
    "negative: bikes.mp4 letterboxed (black bars of 33 px top and bottom: borders)",
)
def _wm_neg_letterbox(src: _Sources) -> _Made:
    def frame(k: int) -> np.ndarray:
        out = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        out[33:237] = cv2.resize(src.bikes[k], (WIDTH, 204), interpolation=cv2.INTER_AREA)
        return out

    seq = _Seq(BIKES_FRAMES, frame, BIKES_CUTS)
    return _Made(
        seq,
        (BIKES,),
        letterbox=True,
        has_human=True,
        subject_motion=True,
        shake=False,
        slideshow=False,
    )
