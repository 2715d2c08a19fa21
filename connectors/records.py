"""Plain typed records that connectors yield: one per run of a refresh, job or pipeline.

This module is the vocabulary shared by the connectors and the enricher core. It holds data only:
no I/O, no imports from ``enricher``. Every API's own status words are mapped to one small
:class:`RunStatus` here, so the core never has to know that Power BI says ``Unknown`` for a refresh
that is still running or that Fabric says ``Deduped`` for a skipped job.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


class Source(StrEnum):
    """Where a run record came from. ``self`` is the daemon's own sign-in to an API; ``pushed`` an
    alert another system pushed to us that names none of the sources above."""

    POWERBI = "powerbi"
    POWERBI_DATAFLOW = "powerbi_dataflow"
    FABRIC = "fabric"
    ADF = "adf"
    SYNAPSE = "synapse"
    SELF = "self"
    PUSHED = "pushed"


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    RUNNING = "running"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


#: Each API's status words (compared case-insensitively) -> our status. Unknown words map to RUNNING,
#: so a run with a status we have never seen is revisited rather than judged.
STATUS_WORDS: dict[str, RunStatus] = {
    # Power BI refreshes: Unknown means "still running or unknown".
    "completed": RunStatus.SUCCEEDED,
    "failed": RunStatus.FAILED,
    "unknown": RunStatus.RUNNING,
    "disabled": RunStatus.SKIPPED,
    "cancelled": RunStatus.CANCELLED,
    # Power BI dataflow transactions (status strings are not documented)
    "success": RunStatus.SUCCEEDED,
    "succeeded": RunStatus.SUCCEEDED,
    "inprogress": RunStatus.RUNNING,
    "queued": RunStatus.RUNNING,
    "notstarted": RunStatus.RUNNING,
    "canceling": RunStatus.RUNNING,
    "deduped": RunStatus.SKIPPED,
    "canceled": RunStatus.CANCELLED,
}

TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.SKIPPED})


def status_from_word(word: str | None) -> RunStatus:
    return STATUS_WORDS.get((word or "").replace(" ", "").lower(), RunStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run of one item, as read from an API.

    ``container`` is the workspace (Power BI, Fabric, Synapse) or the data factory; ``item`` is the
    dataset, dataflow, Fabric item or pipeline. ``error_text`` is the raw text the API gave for the
    failure, untouched: detection works on exactly what the source said. ``unattended`` is true for
    scheduled or trigger-started runs, which can never answer an MFA or consent prompt.
    """

    source: Source
    tenant: str
    container_id: str
    container_name: str
    item_id: str
    item_name: str
    item_type: str
    run_id: str
    status: RunStatus
    raw_status: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    unattended: bool = True
    error_text: str = ""
    error_code: str = ""
    #: Source-specific identifiers and facts: subscription_id, resource_group, activity_name,
    #: linked_service, refresh_type, schedule_enabled, tenant_id, client_id, ... Read-only.
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def item_key(self) -> str:
        """Identity of the item across runs (what auto-resolve matches on)."""
        return f"{self.tenant}/{self.source}/{self.container_id}/{self.item_id}"


@functools.lru_cache(maxsize=4096)
def _frozen(items: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    return MappingProxyType(dict(items))


def shared_extra(**values: str) -> Mapping[str, str]:
    """An ``extra`` mapping shared by every record with the same values: a tenant-wide poll makes
    100,000 records that mostly differ in nothing but their ids, and one shared read-only mapping
    each instead of 100,000 dicts keeps a poller's memory flat."""
    return _frozen(tuple(sorted((k, v) for k, v in values.items() if v)))
