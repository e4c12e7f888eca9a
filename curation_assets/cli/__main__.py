"""``python -m curation_assets.cli``: the same as ``curate``."""

import sys

from curation_assets.cli import main

sys.exit(main())
