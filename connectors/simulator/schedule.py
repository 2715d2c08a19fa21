"""Schedules as arithmetic: slot ``index`` <-> UTC instant, without building lists of runs.

A slot index is stable for the life of the world (it counts from the Unix epoch), so run ids,
trace ids and pass/fail patterns derived from it never shift when the clock moves or when a
client asks for a different window.

* ``every`` schedules: slot ``k`` starts at ``k * every + offset`` seconds after the epoch.
* daily ``times`` schedules: slot ``day * len(times) + i`` starts at ``times[i]`` on that day;
  with ``days`` set, slots on other weekdays do not exist (``valid`` is False).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

DAY = 86_400
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass(frozen=True, slots=True)
class Schedule:
    every: int = 0  # seconds; 0 for a daily schedule
    offset: int = 0
    times: tuple[int, ...] = ()  # seconds of the day, sorted (daily schedule)
    days: frozenset[int] | None = None  # weekdays (Monday = 0); None: every day

    def slot(self, index: int) -> int:
        """Epoch seconds at which slot ``index`` is due."""
        if self.every:
            return index * self.every + self.offset
        day, i = divmod(index, len(self.times))
        return day * DAY + self.times[i]

    def valid(self, index: int) -> bool:
        if self.days is None or self.every:
            return True
        day = index // len(self.times)
        return (day + _EPOCH_WEEKDAY) % 7 in self.days

    def last_index(self, t: float) -> int:
        """The largest index whose slot is at or before ``t`` (ignoring ``days``)."""
        if self.every:
            return math.floor((t - self.offset) / self.every)
        day = math.floor(t / DAY)
        return day * len(self.times) + bisect.bisect_right(self.times, t - day * DAY) - 1

    def first_index(self, t: float) -> int:
        """The smallest index whose slot is at or after ``t`` (ignoring ``days``)."""
        index = self.last_index(t)
        return index if self.slot(index) >= t else index + 1

    def indexes(self, t0: float, t1: float) -> Iterator[int]:
        """Valid indexes whose slots fall in ``[t0, t1]``, oldest first."""
        for index in range(self.first_index(t0), self.last_index(t1) + 1):
            if self.valid(index):
                yield index

    def indexes_from(self, t0: float) -> Iterator[int]:
        """Valid indexes whose slots are at or after ``t0``, oldest first, without end."""
        for index in itertools.count(self.first_index(t0)):
            if self.valid(index):
                yield index

    def indexes_desc(self, t: float, stop: float) -> Iterator[int]:
        """Valid indexes with slots in ``[stop, t]``, newest first."""
        index = self.last_index(t)
        while self.slot(index) >= stop:
            if self.valid(index):
                yield index
            index -= 1

    def count(self, t0: float, t1: float) -> int:
        if self.every or self.days is None:
            return max(0, self.last_index(t1) - self.first_index(t0) + 1)
        return sum(1 for _ in self.indexes(t0, t1))

    def per_day(self) -> float:
        if self.every:
            return DAY / self.every
        days = 7 if self.days is None else len(self.days)
        return len(self.times) * days / 7

    def times_of_day(self) -> list[str]:
        """The ``HH:MM`` list Power BI shows in ``refreshSchedule.times``."""
        seconds = self.times or tuple(
            sorted({(self.offset + k * self.every) % DAY for k in range(max(1, DAY // self.every))})
        )
        return [f"{s // 3600:02d}:{s % 3600 // 60:02d}" for s in seconds]

    def weekday_names(self) -> list[str]:
        days = range(7) if self.days is None else sorted(self.days)
        return [WEEKDAYS[d] for d in days]
