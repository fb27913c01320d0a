"""Where judgecal keeps its state (journal, sessions, calibrations, holdout ledger)."""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that moves every store at once.
STATE_DIR_ENV = "JUDGECAL_STATE_DIR"


def default_state_dir() -> Path:
    """``$JUDGECAL_STATE_DIR`` or ``.judgecal`` in the working directory.

    The default of the journal, the sessions' store and an experiment's ``[state] dir``
    (an experiment file that names a directory keeps it).
    """
    return Path(os.environ.get(STATE_DIR_ENV, ".judgecal"))
