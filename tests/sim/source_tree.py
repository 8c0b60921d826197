"""Running a simulator's command line from the source tree (``python/``) rather than the
installed package: that tree has no compiled ``_core``, so such a run also proves that the
simulators never need the native core."""

from __future__ import annotations

import os
from pathlib import Path

PYTHON_SRC = Path(__file__).resolve().parents[2] / "python"


def source_tree_env() -> dict[str, str]:
    """This process's environment with the source tree first on ``PYTHONPATH``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PYTHON_SRC), os.environ.get("PYTHONPATH", "")]),
    }
