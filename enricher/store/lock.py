"""One daemon per state directory: an exclusive lock on ``state.lock`` beside ``state.db``.

Two daemons on one SQLite file both polled and both delivered (71 of 91 notifications arrived
twice). SQLite's own locking serialises writes, not work, so ``run`` and ``once`` take an
exclusive ``flock`` first and hold it until the process ends (the kernel drops it on exit, even
after ``kill -9``, so a crash never leaves a stale lock). Other commands (``silence``, ``health``)
do not take it: they only read or add a row.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from enricher.errors import ConfigError


def lock_state(directory: Path, setting: str = "state.path") -> IO[str]:
    """The open, locked file (keep it referenced), or a ConfigError naming the holder's pid."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = (directory / "state.lock").open("a+", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot use {directory}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ConfigError(
            f"{setting}: {directory} is in use by another aadsts-enricher (pid {holder}); "
            "one daemon per state directory"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
