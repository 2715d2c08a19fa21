"""Tenants and what is polled in each: credentials, endpoints, sources, and the Graph look-ups
(sign-in cause, credential expiry)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from enricher.config.base import (
    Duration,
    Interval,
    NameFilterConfig,
    Strict,
)

# -- sources ------------------------------------------------------------------------------------


class SourceBase(Strict):
    #: Names this source within its tenant (defaults to its type): the cursor, heartbeat, logs and
    #: metrics are keyed by it, so two sources of one type need two names.
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    interval: Interval = timedelta(minutes=5)
    enabled: bool = True

    @property
    def source_name(self) -> str:
        return self.name or str(getattr(self, "type", ""))


class PowerBISource(SourceBase):
    type: Literal["powerbi"]
    mode: Literal["admin", "workspace"] = "admin"
    workspaces: NameFilterConfig = NameFilterConfig()
    dataflows: bool = True
    history_top: int = Field(default=10, ge=1, le=60)
    discovery_interval: Interval = timedelta(hours=1)


class FabricSource(SourceBase):
    type: Literal["fabric"]
    workspaces: NameFilterConfig = NameFilterConfig()
    item_types: tuple[str, ...] = ("DataPipeline", "Notebook", "SparkJobDefinition", "Dataflow", "CopyJob")
    discovery_interval: Interval = timedelta(hours=1)


class FactoryConfig(Strict):
    subscription_id: str
    resource_group: str
    name: str


class ADFSource(SourceBase):
    type: Literal["adf"]
    subscriptions: tuple[str, ...] = ()
    factories: tuple[FactoryConfig, ...] = ()
    names: NameFilterConfig = NameFilterConfig()
    overlap: Duration = timedelta(minutes=10)
    lookback: Duration = timedelta(hours=24)
    discovery_interval: Interval = timedelta(hours=1)


class SynapseWorkspaceConfig(Strict):
    name: str
    endpoint: str | None = None
    subscription_id: str = ""
    resource_group: str = ""


class SynapseSource(SourceBase):
    type: Literal["synapse"]
    workspaces: tuple[SynapseWorkspaceConfig, ...] = Field(min_length=1)
    overlap: Duration = timedelta(minutes=10)
    lookback: Duration = timedelta(hours=24)


SourceConfig = Annotated[
    PowerBISource | FabricSource | ADFSource | SynapseSource, Field(discriminator="type")
]


# -- tenants ------------------------------------------------------------------------------------


class CredentialConfig(Strict):
    type: Literal["client_secret", "certificate", "managed_identity", "workload_identity", "default"]
    client_id: str | None = None
    client_secret: SecretStr | None = None
    certificate_path: str | None = None
    certificate_password: SecretStr | None = None
    token_file: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> CredentialConfig:
        needs = {
            "client_secret": ("client_id", "client_secret"),
            "certificate": ("client_id", "certificate_path"),
            "workload_identity": ("client_id", "token_file"),
        }.get(self.type, ())
        missing = [n for n in needs if not getattr(self, n)]
        if missing:
            raise ValueError(f"type {self.type} needs {', '.join(missing)}")
        return self


class EndpointOverrides(Strict):
    authority: str | None = None
    powerbi: str | None = None
    fabric: str | None = None
    arm: str | None = None
    graph: str | None = None
    synapse: str | None = None
    log_analytics: str | None = None


class SigninLookupConfig(Strict):
    """Find the sign-in event behind Conditional Access, MFA, device and account failures in the
    Graph sign-in log: the incident learns the policy, grant controls, IP address, location, device
    and account, and gets one ``update`` notification ("cause found") when the event turns up after
    the first alert. Needs AuditLog.Read.All, Policy.Read.All and an Entra ID P1/P2 licence
    (docs/azure-setup.md); without them the tenant gets one ``self`` notice saying what is missing.

    ```yaml
    tenants:
      - name: contoso
        tenant_id: 72f988bf-0000-0000-0000-000000000000
        credential: {type: default}
        sources: [{type: powerbi}]
        signin_lookup:
          enabled: true
          window: 45m          # a sign-in not in the log 45 minutes after the failure is given up
          max_per_cycle: 5
    sinks: [{name: screen, type: console}]
    ```
    """

    #: off by default because it needs the extra permissions and licence above
    enabled: bool = False
    #: keep asking this long after the failure: Entra writes sign-ins minutes late
    window: Duration = timedelta(minutes=30)
    #: Graph requests per cycle at most (Graph allows 5 per 10 s per app and tenant)
    max_per_cycle: int = Field(default=5, ge=1, le=50)

    @field_validator("window")
    @classmethod
    def _window_length(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=1):
            raise ValueError("must be between 1m and 24h")
        return value


class CredentialExpiryConfig(Strict):
    """The credential expiry forecast (Graph ``Application.Read.All``)."""

    enabled: bool = True
    #: days before the end date at which to warn, each once; the smallest one reached decides severity
    windows: tuple[int, ...] = Field(default=(30, 14, 7, 1), min_length=1)
    #: how often Graph is asked (end dates change only when someone adds or removes a credential)
    interval: Duration = timedelta(hours=6)

    @model_validator(mode="after")
    def _windows(self) -> CredentialExpiryConfig:
        bad = [w for w in self.windows if not 1 <= w <= 365]
        if bad:
            raise ValueError(f"windows: each window is a whole number of days from 1 to 365, not {bad[0]}")
        if len(set(self.windows)) != len(self.windows):
            raise ValueError("windows: a window is listed twice")
        return self


class TenantConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    tenant_id: str
    cloud: Literal["public", "usgovernment", "china"] = "public"
    endpoints: EndpointOverrides = EndpointOverrides()
    credential: CredentialConfig
    #: Extra CA bundle to trust for this tenant's APIs (a TLS-inspecting proxy, the simulator).
    ca_bundle: str | None = None
    #: ``add``: trust the default CAs plus ``ca_bundle``; ``replace``: trust ``ca_bundle`` alone.
    ca_bundle_mode: Literal["add", "replace"] = "add"

    sources: tuple[SourceConfig, ...] = Field(min_length=1)
    signin_lookup: SigninLookupConfig = SigninLookupConfig()
    credential_expiry: CredentialExpiryConfig = CredentialExpiryConfig()

    @model_validator(mode="after")
    def _unique_sources(self) -> TenantConfig:
        seen: dict[str, int] = {}
        for i, source in enumerate(self.sources):
            name = source.source_name
            if name in seen:
                raise ValueError(
                    f"sources[{i}].name: duplicate source name {name!r} (sources[{seen[name]}] has it); "
                    "give each source of one type its own 'name'"
                )
            seen[name] = i
        return self
