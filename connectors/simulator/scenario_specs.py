"""The parts of a scenario tenant: schedules, failures, apps and their credentials, estates.

Strict pydantic models (unknown keys are errors). Durations are strings such as ``15m`` or
``1h30m``; instants are signed offsets from the clock start such as ``-2h`` or ``+30m``; both
are checked here and converted once, when the world is built (``build.py``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.simulator.timefmt import parse_duration, parse_offset

_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_PATTERN = re.compile(r"^[FS]+$")
GUID_PATTERN = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")

Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FailureKind = Literal[
    "oauth",  # Power BI / Fabric: DMTS_OAuthTokenRefreshFailedError + AADSTS text
    "gateway",  # Power BI: gateway data-source error carrying the AADSTS text
    "details",  # Power BI: AADSTS text deep in error.pbi.error.details[].detail.value
    "processing",  # Power BI: the blank-values model error (no AADSTS; a negative)
    "credentials",  # Power BI: ModelRefreshFailed_CredentialsNotSpecified (no text; a negative)
    "linked_service",  # ADF/Synapse: connector error wrapping an MsalServiceException
    "web_token",  # ADF/Synapse: Web activity with the token endpoint's JSON escaped in the text
    "sql",  # ADF/Synapse: SqlFailedToConnect without AADSTS (a negative)
    "notebook",  # Fabric: notebook failure text with the AADSTS text inside
    "generic",  # Fabric: JobInstanceStatusFailed / "Job instance failed without detail error"
    "status_only",  # dataflows: a failed transaction has no text at all
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _offset(value: str) -> str:
    parse_offset(value)
    return value


DurationText = Annotated[str, AfterValidator(_duration)]  # "15m", "2h", "1d"
OffsetText = Annotated[str, AfterValidator(_offset)]  # "-2h", "+30m" (from the clock start)


class ScheduleSpec(Strict):
    """``every: 15m`` (+ ``offset``) or daily ``times: ["05:30"]`` (UTC, optional ``days``)."""

    every: DurationText | None = None
    offset: DurationText = "0m"
    times: list[str] | None = None
    days: list[Weekday] | None = None

    @field_validator("times")
    @classmethod
    def _times(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            if not _TIME_OF_DAY.match(item):
                raise ValueError(f"time of day must be HH:MM (UTC), got {item!r}")
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleSpec:
        if (self.every is None) == (self.times is None):
            raise ValueError("a schedule has exactly one of 'every' or 'times'")
        if self.every is not None and parse_duration(self.every).total_seconds() < 60:
            raise ValueError("'every' must be at least 1m")
        if self.times is not None and not self.times:
            raise ValueError("'times' must not be empty")
        return self


class FailureSpec(Strict):
    """When an item's runs fail, with which AADSTS code (None: a non-auth failure) and text."""

    code: int | None = None
    from_: OffsetText | None = Field(default=None, alias="from")  # None: since history began
    until: OffsetText | None = None  # None: never recovers
    kind: FailureKind | None = None  # None: the usual form for the item's source
    pattern: str | None = None  # e.g. "FFS": fail, fail, succeed, cycling over schedule slots
    target: str | None = None  # ADF/Synapse: the failing activity (default: the last with a linked service)
    principal: str | None = None  # the user or app id named in the text / sign-in log

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None and not _PATTERN.match(value):
            raise ValueError("pattern is a string of F (fail) and S (succeed), e.g. 'FFS'")
        return value


class SecretSpec(Strict):
    value: str
    display_name: str = "default"
    key_id: str | None = None
    start: OffsetText = "-30d"
    end: OffsetText = "+365d"


class CertificateSpec(Strict):
    """A public certificate registered on the app (PEM text or a path to a PEM file)."""

    pem: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _one(self) -> CertificateSpec:
        if (self.pem is None) == (self.path is None):
            raise ValueError("a certificate has exactly one of 'pem' or 'path'")
        return self


class FederatedSpec(Strict):
    issuer: str
    subject: str
    name: str = "default"


class AppFailSpec(Strict):
    """Force an AADSTS code on the token endpoint for this app between two offsets."""

    code: int
    from_: OffsetText | None = Field(default=None, alias="from")
    until: OffsetText | None = None


class AppSpec(Strict):
    name: str
    client_id: str
    secrets: list[SecretSpec] = []
    certificates: list[CertificateSpec] = []
    federated: list[FederatedSpec] = []
    admin_api: bool = False
    ca_policy_read: bool = False
    #: holds Graph ``Application.Read.All`` (reads other apps' credential end dates)
    application_read: bool = True
    audit_log_read: bool = True  # False: Graph sign-ins answer 403 Authorization_RequestDenied
    disabled: bool = False
    managed_identity: bool = False
    fail: AppFailSpec | None = None

    @field_validator("client_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        if not GUID_PATTERN.match(value):
            raise ValueError(f"client_id must be a GUID, got {value!r}")
        return value.lower()


class JobSpec(Strict):
    """Fields shared by everything that runs on a schedule."""

    name: str
    id: str | None = None
    schedule: ScheduleSpec | None = None  # None: never runs
    duration: DurationText = "3m"
    failure: FailureSpec | None = None


class DatasetSpec(JobSpec):
    gateway: bool = False
    refreshable: bool = True
    configured_by: str | None = None


class DataflowSpec(JobSpec):
    configured_by: str | None = None


class CapacitySpec(Strict):
    name: str
    id: str | None = None
    sku: str = "F64"
    region: str = "West Europe"


class PbiWorkspaceSpec(Strict):
    name: str
    id: str | None = None
    description: str = ""
    members: list[str] | None = None  # client ids; None: every app of the tenant
    capacity: str | None = None  # a capacity name; None: shared capacity
    datasets: list[DatasetSpec] = []
    dataflows: list[DataflowSpec] = []


class PowerBISpec(Strict):
    capacities: list[CapacitySpec] = []
    workspaces: list[PbiWorkspaceSpec] = []


class FabricItemSpec(JobSpec):
    type: str
    description: str = ""
    job_type: str | None = None  # default from the item type (Pipeline, RunNotebook, ...)


class FabricWorkspaceSpec(Strict):
    name: str
    id: str | None = None
    description: str = ""
    members: list[str] | None = None
    capacity: str | None = None
    items: list[FabricItemSpec] = []


class ActivitySpec(Strict):
    name: str
    type: str = "Copy"
    linked_service: str = ""


class PipelineSpec(JobSpec):
    activities: list[ActivitySpec] = Field(min_length=1)
    trigger: str | None = None
    parameters: dict[str, str] = {}


class FactorySpec(Strict):
    name: str
    location: str = "West Europe"
    readers: list[str] = []  # client ids holding only the Reader role here
    pipelines: list[PipelineSpec] = []
    #: linked service name -> the client id it signs in with (a service principal linked service)
    service_principals: dict[str, str] = {}


class ResourceGroupSpec(Strict):
    name: str
    factories: list[FactorySpec] = []


class SubscriptionSpec(Strict):
    name: str
    id: str | None = None
    resource_groups: list[ResourceGroupSpec] = []


class SynapseWorkspaceSpec(Strict):
    name: str
    pipelines: list[PipelineSpec] = []
    #: linked service name -> the client id it signs in with (a service principal linked service)
    service_principals: dict[str, str] = {}


class SignInNoiseSpec(Strict):
    """Background sign-ins unrelated to any run: successes and a few ordinary failures."""

    successes_per_hour: float = Field(default=12.0, ge=0)
    failures_per_hour: float = Field(default=0.5, ge=0)
    failure_codes: list[int] = [50126]
    #: seconds between a sign-in and its appearance in the log (Entra needs minutes in reality)
    delay_seconds: float = Field(default=0.0, ge=0)
    #: sign-in requests allowed per 10 s per app (Graph reporting allows 5); 0: no throttling
    rate_per_10s: int = Field(default=0, ge=0)


class GenerateSpec(Strict):
    """A large synthetic estate: everything is derived from indexes, nothing is stored."""

    workspaces: int = Field(default=0, ge=0, le=200_000)
    datasets: int = Field(default=0, ge=0, le=500_000)
    pipelines: int = Field(default=0, ge=0, le=100_000)
    pipelines_per_factory: int = Field(default=100, ge=1)
    capacities: int = Field(default=10, ge=1)
    refreshable_ratio: float = Field(default=0.9, ge=0, le=1)
    failure_rate: float = Field(default=0.002, ge=0, le=1)
    codes: dict[int, float] = {53003: 1.0}  # AADSTS code -> weight
    failing_since: OffsetText = "-6h"
    members: list[str] | None = None
    #: distinct broken things behind the failing items of one code (apps, data sources, linked services)
    causes_per_code: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _shape(self) -> GenerateSpec:
        if self.datasets and not self.workspaces:
            raise ValueError("generated datasets need generated workspaces")
        if not self.codes or any(w <= 0 for w in self.codes.values()):
            raise ValueError("codes maps AADSTS codes to positive weights")
        return self
