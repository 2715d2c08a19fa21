"""The cyclic garbage collector held while one large poll builds what it keeps.

A first poll of 10,000 failures builds about a million objects (runs, alerts, incidents and their
dicts) that all stay alive until it has saved them; meanwhile CPython's cyclic collector walks the
growing heap again and again (6 to 7% of that poll, measured with ``bench/incidents.py``) and
frees nothing, because what the poll drops is freed by reference counting. Small polls, the
steady state, are left alone.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Runs in one poll from which the collector is held.
LARGE = 1_000


@contextmanager
def held_for(runs: int) -> Iterator[None]:
    """Hold the collector for a poll of ``runs`` runs if that is large; it runs again afterwards
    (if it was running: another thread's large poll, or the program, may have held it already)."""
    if runs < LARGE or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
