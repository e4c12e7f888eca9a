"""Which samples an analyzer reads when a few are enough: evenly spaced, first and last kept.

One helper, so every analyzer that looks at ``frames`` samples of a clip (text overlay, hashes,
embeddings, people, aesthetic, captions) picks them the same way.
"""

from __future__ import annotations

import numpy as np


def spread(count: int, wanted: int) -> list[int]:
    """``wanted`` indices evenly spaced over ``count`` items, first and last included."""
    if count <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, min(wanted, count))})
