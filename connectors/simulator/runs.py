"""The run engine: which runs of a job exist at a given instant, and how each one went.

Runs are never stored. A run is a pure function of (job, slot index): its start is the slot
plus a few seconds of jitter, its duration is the job's nominal duration +-25% (a failure ends
after 8-60 s, as an authentication error does), and it failed if a failure window covers it.
At instant ``now`` a run exists if it has started; it is running until its planned end.

Power BI's rule "a schedule is disabled after 4 consecutive failed scheduled refreshes" is
modelled by ``disabled_at``: the end of the 4th consecutive failure, computed once per job (it
does not depend on ``now``); no run starts after it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import NamedTuple

from connectors.simulator.ids import fast_uuid, indexed_uuid, mix64, salt
from connectors.simulator.model import FailureWindow, Job

_RUN_INDEX_BITS = 28


class Run(NamedTuple):
    """One run. A NamedTuple because pages of the scale scenario create tens of thousands."""

    job: Job
    slot: int  # the schedule slot this run belongs to
    start: float  # epoch seconds
    end: float  # planned end, epoch seconds
    failure: FailureWindow | None
    deduped: bool
    noise: int  # 64 bits of per-run randomness

    def running(self, now: float) -> bool:
        return now < self.end

    def uid(self, seed: int, purpose: str) -> str:
        """A run id that carries (job number, slot index), so it can be looked up again."""
        number = (self.job.number << _RUN_INDEX_BITS) | (self.slot & ((1 << _RUN_INDEX_BITS) - 1))
        return indexed_uuid(number, seed, purpose, self.job.key)

    def guid(self, seed: int, purpose: str) -> str:
        """A deterministic id of this run for ``purpose`` (trace, correlation, request...)."""
        return fast_uuid(self.job.key ^ salt(seed, purpose), self.slot)

    def fail_time(self) -> float:
        """When the sign-in failed: a second before the run gave up."""
        return self.end - 1.0 - (self.noise >> 50) % 1000 / 1000


def decode_run_uid(number: int) -> tuple[int, int]:
    """(job number, slot index low bits) from the number inside a run id."""
    return number >> _RUN_INDEX_BITS, number & ((1 << _RUN_INDEX_BITS) - 1)


def run_at(job: Job, index: int) -> Run:
    noise = mix64(job.key ^ (index * 0x9E3779B97F4A7C15))
    start = job.schedule.slot(index) + 0.4 + (noise % 19_000) / 1000 + (noise >> 40) % 997 / 1e6
    failure = next((w for w in job.failures if w.covers(index, start)), None)
    deduped = job.dedupe and failure is None and (noise >> 20) % 23 == 0
    if failure is not None:
        duration = 8.0 + (noise >> 24) % 52_000 / 1000
    elif deduped:
        duration = 0.1 + (noise >> 24) % 200 / 1000
    else:
        duration = job.duration * (0.75 + ((noise >> 24) % 50_000) / 100_000)
    return Run(job, index, start, start + duration, failure, deduped, noise)


def disabled_at(job: Job) -> float | None:
    """End of the ``disable_after``-th consecutive failed run (None: the schedule stays on)."""
    if job.disable_after is None or not job.failures:
        return None
    return _disabled_at(job, job.disable_after)


@functools.lru_cache(maxsize=65_536)
def _disabled_at(job: Job, disable_after: int) -> float | None:
    best: float | None = None
    for window in job.failures:
        begin = job.not_before if window.start is None else max(job.not_before, window.start)
        # A pattern repeats, so if no streak shows up within one period plus the streak
        # length, none ever will.
        limit = len(window.pattern) + disable_after
        streak = 0
        for scanned, index in enumerate(job.schedule.indexes_from(begin)):
            run = run_at(job, index)
            if scanned > limit or (window.end is not None and run.start >= window.end):
                break
            streak = streak + 1 if run.failure is not None else 0
            if streak >= disable_after:
                best = run.end if best is None else min(best, run.end)
                break
    return best


def _exists(job: Job, run: Run, now: float) -> bool:
    if run.start > now or run.start < job.not_before:
        return False
    cut = disabled_at(job)
    return cut is None or run.start <= cut


def runs_between(job: Job, since: float, until: float, now: float) -> list[Run]:
    """Runs that started in ``[since, until]`` and by ``now``, oldest first."""
    upper = min(until, now)
    out: list[Run] = []
    for index in job.schedule.indexes(max(since, job.not_before) - 30, upper):
        run = run_at(job, index)
        if since <= run.start <= upper and _exists(job, run, now):
            out.append(run)
    return out


def latest_runs(job: Job, now: float, limit: int, since: float | None = None) -> list[Run]:
    """Up to ``limit`` runs started by ``now`` (and after ``since``), newest first."""
    floor = job.not_before if since is None else max(since, job.not_before)
    cut = disabled_at(job)
    top = now if cut is None else min(now, cut)
    out: list[Run] = []
    for index in job.schedule.indexes_desc(top, floor - 30):
        if len(out) >= limit:
            break
        run = run_at(job, index)
        if run.start >= floor and _exists(job, run, now):
            out.append(run)
    return out


def last_run(job: Job, now: float) -> Run | None:
    """The newest run started by ``now`` (``latest_runs(job, now, 1)``, minus the overhead)."""
    cut = disabled_at(job)
    top = now if cut is None else min(now, cut)
    for index in job.schedule.indexes_desc(top, job.not_before - 30):
        run = run_at(job, index)
        if job.not_before <= run.start <= top:
            return run
    return None


def first_run(job: Job, since: float) -> Run:
    """The first run due at or after ``since`` (it may not have started yet)."""
    return run_at(job, next(job.schedule.indexes_from(max(since, job.not_before))))


def iter_failed(job: Job, since: float, until: float, now: float) -> Iterator[Run]:
    """Failed runs that ended in ``[since, until]`` by ``now`` (for the sign-in log)."""
    if not job.failures:
        return
    for run in runs_between(job, since - 120, until, now):
        if run.failure is not None and not run.running(now) and since <= run.fail_time() <= until:
            yield run
