"""Reading a video on past damaged packets (a bad sector, a botched copy) instead of ending the
decode pass there: the damage costs the stretch up to the next keyframe, not the rest of the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import av

# A file with more damaged packets than this is not worth reading on: the pass stops there.
_MAX_DAMAGED_PACKETS = 50


@dataclass
class DamageLog:
    packets: int = 0
    frames_dropped: int = 0
    resumes: list[int] = field(default_factory=list)  # first frame index after each gap
    first_error: str | None = None

    def note(self) -> str | None:
        if not self.packets:
            return None
        return (
            f"skipped {self.packets} damaged packet(s) and {self.frames_dropped} frame(s) up to "
            f"the next keyframe, {len(self.resumes)} resume(s) made cuts; {self.first_error}"
        )


def frames_past_damage(container, stream, damage: DamageLog):
    """Decoded frames of ``stream``, going on past damage instead of ending the pass there.

    A packet the decoder rejects as invalid data (a bad sector, a botched copy) is skipped, and
    so is every frame up to the next keyframe, since they would show the damage. The first frame
    after such a gap starts a new shot, so no clip spans it.
    """
    yielded, skipping = 0, False
    for packet in container.demux(stream):
        try:
            decoded = packet.decode()
        except av.error.InvalidDataError as exc:
            damage.packets += 1
            damage.first_error = damage.first_error or f"{type(exc).__name__}: {exc}"[:300]
            if damage.packets > _MAX_DAMAGED_PACKETS:
                raise
            skipping = True
            continue
        for frame in decoded:
            if skipping:
                if not frame.key_frame:
                    damage.frames_dropped += 1
                    continue
                skipping = False
                if yielded:
                    damage.resumes.append(yielded)
            yield frame
            yielded += 1
