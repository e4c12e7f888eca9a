"""Training-time caption variants from structured fields (HunyuanVideo's dropout + permutation).

Each variant drops every non-empty field with probability ``dropout`` and shuffles the order of
the rest, so one clip yields captions of different lengths and layouts. Deterministic: the same
(seed, clip_id, variant index) gives the same string on every machine and Python run (the random
stream is seeded from a SHA-256 of the three, never from ``hash()``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

from curation_assets.captioning.base import FIELDS

FIELD_LABELS: dict[str, str] = {
    "background": "Background",
    "style": "Style",
    "shot_type": "Shot type",
    "lighting": "Lighting",
    "atmosphere": "Atmosphere",
    "camera_motion": "Camera motion",
}
"""Fields rendered as "Label: value."; descriptions (short, dense) are rendered as they are."""


def render_field(name: str, value: str) -> str:
    value = value.strip()
    if name in FIELD_LABELS:
        text = f"{FIELD_LABELS[name]}: {value}"
    else:
        text = value
    return text if text.endswith((".", "!", "?")) else text + "."


def _rng(seed: int, clip_id: str, index: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}\x1f{clip_id}\x1f{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def caption_variants(
    fields: Mapping[str, str],
    clip_id: str,
    n: int,
    seed: int = 0,
    dropout: float = 0.3,
    permute: bool = True,
    order: Sequence[str] = FIELDS,
    keep: Sequence[str] = (),
) -> list[str]:
    """``n`` caption strings for one clip.

    ``keep`` names fields never dropped (e.g. ``("dense_description",)``). At least one field
    always survives: when dropout removes all, the variant keeps the longest field. Empty fields
    and names not in ``order`` are ignored; no fields at all gives ``n`` empty strings.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= dropout <= 1.0:
        raise ValueError(f"dropout must lie in [0, 1], got {dropout}")
    present = [f for f in order if (fields.get(f) or "").strip()]
    variants: list[str] = []
    for index in range(n):
        if not present:
            variants.append("")
            continue
        rng = _rng(seed, clip_id, index)
        chosen = [f for f in present if f in keep or rng.random() >= dropout]
        if not chosen:
            chosen = [max(present, key=lambda f: len(fields[f]))]
        if permute:
            rng.shuffle(chosen)
        variants.append(" ".join(render_field(f, fields[f]) for f in chosen))
    return variants
