"""``python -m curation_assets.cli``: the same as ``curate``."""

from curation_assets.cli import run

run()
