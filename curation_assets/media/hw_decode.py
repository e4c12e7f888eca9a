"""Hardware video decoding (NVDEC, VA-API, Quick Sync ...) through PyAV, where the machine has it.

A GPU decoder takes the decode pass off the CPU cores, which on a GPU machine are otherwise the
bottleneck in front of the models. Decoded frames are copied back to system memory by FFmpeg and
shrunk like software frames (``frame_shrink`` converts NV12 and friends). ``auto`` tries device
types in ``PREFERENCE`` order and decodes on the CPU where none opens; a type named explicitly
that does not open here stops the run with a clear message (``curate doctor`` lists what opens).
Streams whose codec the device cannot decode fall back to software inside FFmpeg.

Off by default: a hardware decoder need not be bit-exact with FFmpeg's software one, and the
project promises the same lineage for the same file on any machine.
"""

from __future__ import annotations

import functools

import av

PREFERENCE = ("cuda", "vaapi", "qsv", "videotoolbox", "d3d11va", "drm")


class HwDecodeUnavailable(RuntimeError):
    pass


def available() -> list[str]:
    """Device types this FFmpeg build knows (not all of them have a device here)."""
    hwaccel = getattr(getattr(av, "codec", None), "hwaccel", None)
    if hwaccel is None or not hasattr(hwaccel, "hwdevices_available"):
        return []
    return sorted(hwaccel.hwdevices_available())


@functools.cache
def probe(kind: str) -> tuple[bool, str]:
    """(usable, why not): whether an H.264 decoder opens on a ``kind`` device here."""
    try:
        from av.codec.hwaccel import HWAccel

        accel = HWAccel(device_type=kind, allow_software_fallback=False)
        ctx = av.CodecContext.create("h264", "r", hwaccel=accel)
        usable = bool(getattr(ctx, "is_hwaccel", False))
        return usable, "" if usable else "no device of this type"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        return False, f"{type(exc).__name__}: {exc}"


def device_for(setting: str) -> str | None:
    """The device type a ``shots.hw_decode`` setting decodes on here; None: software."""
    if setting == "off":
        return None
    known = available()
    if setting == "auto":
        return next((k for k in PREFERENCE if k in known and probe(k)[0]), None)
    usable, why = probe(setting) if setting in known else (False, "not in this FFmpeg build")
    if not usable:
        raise HwDecodeUnavailable(
            f"shots.hw_decode is {setting!r} but no {setting} decoder opens here ({why}); "
            "`curate doctor` lists the decoders this machine has; use 'auto' (hardware where "
            "available, CPU otherwise) or 'off'"
        )
    return setting


def open_options(setting: str) -> dict:
    """Extra ``av.open`` arguments for the setting: the hardware accelerator, or none."""
    kind = device_for(setting)
    if kind is None:
        return {}
    from av.codec.hwaccel import HWAccel

    return {"hwaccel": HWAccel(device_type=kind, allow_software_fallback=True)}
