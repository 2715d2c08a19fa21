"""The kill loop, small: a real daemon process killed with ``kill -9`` at random moments loses nothing.

``make bench-killloop`` runs the long version (30 kills) and prints the duplicate figures the
README quotes; this one runs three kills so the suite keeps the guarantee honest.
"""

from __future__ import annotations

from pathlib import Path

from bench.killloop import run


def test_kill_9_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    outcome = run(kills=3, count=40, seed=7, folder=tmp_path)
    assert outcome.expected["steady"] >= 40 and outcome.expected["flaky"] >= 40
    assert outcome.lost == {"steady": 0, "flaky": 0}, (tmp_path / "daemon.log").read_text()[-3000:]
    assert outcome.dup_keyed == {"steady": 0, "flaky": 0}  # a repeat always carries the same webhook-id
