"""The resolved world: frozen records built once from a Scenario (or derived on demand).

Scenario models hold what the YAML said (strings, offsets); these records hold what the
simulator computes with: epoch seconds, ids, schedules, and one ``Job`` per thing that runs.
Power BI datasets, dataflows, Fabric items and ADF/Synapse pipelines all share ``Job``, so the
run engine (``runs.py``) is written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from connectors.simulator.schedule import Schedule


@dataclass(frozen=True, slots=True)
class FailureWindow:
    """Runs that start in ``[start, end)`` fail where ``pattern`` (cycled by slot) says F."""

    code: int | None  # AADSTS code; None for a non-auth failure
    kind: str  # the message form, see scenario.FailureKind
    start: float | None = None  # epoch seconds; None: since history began
    end: float | None = None  # None: never recovers
    pattern: str = "F"
    target: str | None = None
    principal: str | None = None

    def covers(self, index: int, start: float) -> bool:
        if self.start is not None and start < self.start:
            return False
        if self.end is not None and start >= self.end:
            return False
        return self.pattern[index % len(self.pattern)] == "F"


class Job(NamedTuple):
    """Something that runs on a schedule; ``number`` is carried inside its run ids.

    A NamedTuple (immutable, hashable, cheap to build): the scale scenario builds thousands
    per page. Equality is by value, which the ``disabled_at`` cache relies on.
    """

    number: int
    key: int  # 64-bit seed for per-run noise
    schedule: Schedule
    duration: float  # nominal seconds of a successful run
    not_before: float  # epoch seconds: no runs before history began
    failures: tuple[FailureWindow, ...] = ()
    disable_after: int | None = None  # Power BI: consecutive failures that disable the schedule
    dedupe: bool = False  # Fabric: some runs are Deduped


@dataclass(frozen=True, slots=True)
class Secret:
    value: str
    key_id: str
    display_name: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Federated:
    issuer: str
    subject: str
    name: str


@dataclass(frozen=True, slots=True)
class AppFail:
    code: int
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class App:
    client_id: str
    name: str
    object_id: str
    tenant_id: str
    secrets: tuple[Secret, ...] = ()
    certificates: tuple[bytes, ...] = ()  # PEM, from the scenario
    federated: tuple[Federated, ...] = ()
    admin_api: bool = False
    ca_policy_read: bool = False
    application_read: bool = True
    audit_log_read: bool = True
    disabled: bool = False
    managed_identity: bool = False
    fail: AppFail | None = None


@dataclass(frozen=True, slots=True)
class Capacity:
    id: str
    name: str
    sku: str
    region: str


def is_member(members: frozenset[str] | None, client_id: str) -> bool:
    return members is None or client_id in members


class PbiWorkspace(NamedTuple):
    id: str
    name: str
    description: str
    members: frozenset[str] | None
    capacity: Capacity | None


class PbiDataset(NamedTuple):
    id: str
    name: str
    workspace: PbiWorkspace
    job: Job | None
    gateway: bool
    refreshable: bool
    configured_by: str
    created: datetime
    #: which of the tenant's shared data sources it reads (``datasources.py``); None: from its id
    source_slot: int | None = None


@dataclass(frozen=True, slots=True)
class PbiDataflow:
    id: str
    name: str
    workspace: PbiWorkspace
    job: Job | None
    configured_by: str


@dataclass(frozen=True, slots=True)
class FabricWorkspace:
    id: str
    name: str
    description: str
    members: frozenset[str] | None
    capacity: Capacity | None


@dataclass(frozen=True, slots=True)
class FabricItem:
    id: str
    name: str
    type: str
    description: str
    workspace: FabricWorkspace
    job: Job | None
    job_type: str


@dataclass(frozen=True, slots=True)
class Activity:
    name: str
    type: str
    linked_service: str


@dataclass(frozen=True, slots=True)
class Pipeline:
    name: str
    job: Job | None
    activities: tuple[Activity, ...]
    trigger: str
    parameters: tuple[tuple[str, str], ...]
    container: str  # "adf:{sub}/{rg}/{factory}" or "synapse:{workspace}" (lower case)


@dataclass(frozen=True, slots=True)
class Factory:
    name: str
    subscription_id: str
    resource_group: str
    location: str
    readers: frozenset[str]
    pipelines: tuple[Pipeline, ...]
    tenant_id: str
    #: (linked service name, client id) of linked services that sign in as a service principal
    service_principals: tuple[tuple[str, str], ...] = ()

    @property
    def arm_id(self) -> str:
        # The official example shows the name lower-cased in the id while ``name`` keeps its
        # case; clients must compare case-insensitively, so the simulator does the same.
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.DataFactory/factories/{self.name.lower()}"
        )


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    name: str
    factories: tuple[Factory, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class SynapseWorkspace:
    name: str
    pipelines: tuple[Pipeline, ...]
    #: (linked service name, client id) of linked services that sign in as a service principal
    service_principals: tuple[tuple[str, str], ...] = ()
