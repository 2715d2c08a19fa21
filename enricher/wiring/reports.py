"""What a poll and a cycle report: counts, errors and notes per source, and the notifications queued."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.records import RunRecord
from enricher.models import Alert
from enricher.notification import Notification


@dataclass
class PollReport:
    source: str
    records: int = 0
    new: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    auth_error: str | None = None
    #: problems first seen in this poll that are not errors (a refused optional call)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.auth_error is None


@dataclass(frozen=True, slots=True)
class ReadRun:
    """One run as the poll read it: what incidents and the schedule streak need of it."""

    rec: RunRecord
    alert: Alert | None  # set when the failure makes or feeds an incident
    streak: int | None
    schedule_on: bool
    failure: bool  # a failure with an AADSTS code, whatever its severity


@dataclass
class CycleReport:
    polls: list[PollReport] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.polls)
