"""Imported first by every benchmark: puts this checkout's root first on ``sys.path``.

A script's own folder (``benchmarks/``), not the repository root, is what Python puts on ``sys.path``, so
``python benchmarks/<name>.py`` would import ``doit`` and ``runners`` only from an installed copy (or not at
all). With the root first, a benchmark measures the code next to it, installed or not.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path[:1]:
    sys.path.insert(0, ROOT)
