"""The configuration model: one YAML file, validated once, no dict travels past the loader.

Strict models (``extra="forbid"``) so a typo fails loudly; secrets are ``SecretStr`` so they never
print; sinks and sources are discriminated unions on ``type:``. Loading (``load_config``) substitutes
``${VAR}``, ``${VAR:-default}`` and ``${file:/path}`` in string values, then validates, and turns
any problem into one ``ConfigError`` line that names the path: ``sinks[2].webhook_url: ...``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> Any:
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 4h, 1d)")
        return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Severity = Literal["critical", "high", "medium", "low", "info"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NameFilterConfig(Strict):
    """Globs (``Finance*``) or regular expressions written ``re:...``."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


# -- sources ------------------------------------------------------------------------------------


class SourceBase(Strict):
    interval: Duration = timedelta(minutes=5)
    enabled: bool = True


class PowerBISource(SourceBase):
    type: Literal["powerbi"]
    mode: Literal["admin", "workspace"] = "admin"
    workspaces: NameFilterConfig = NameFilterConfig()
    dataflows: bool = True
    history_top: int = Field(default=10, ge=1, le=60)
    discovery_interval: Duration = timedelta(hours=1)


class FabricSource(SourceBase):
    type: Literal["fabric"]
    workspaces: NameFilterConfig = NameFilterConfig()
    item_types: tuple[str, ...] = ("DataPipeline", "Notebook", "SparkJobDefinition", "Dataflow", "CopyJob")
    discovery_interval: Duration = timedelta(hours=1)


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
    discovery_interval: Duration = timedelta(hours=1)


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


class TenantConfig(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    tenant_id: str
    cloud: Literal["public", "usgovernment", "china"] = "public"
    endpoints: EndpointOverrides = EndpointOverrides()
    credential: CredentialConfig
    #: Extra CA bundle to trust for this tenant's APIs (a TLS-inspecting proxy, the simulator).
    ca_bundle: str | None = None
    sources: tuple[SourceConfig, ...] = Field(min_length=1)


# -- sinks --------------------------------------------------------------------------------------


class SinkBase(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    send_resolved: bool = True
    #: A Jinja2 template file (relative to the config file) replacing the built-in rendering.
    template: str | None = None
    timeout: Duration = timedelta(seconds=15)


class ConsoleSinkConfig(SinkBase):
    type: Literal["console"]
    color: Literal["auto", "always", "never"] = "auto"
    format: Literal["text", "json"] = "text"


class JsonlSinkConfig(SinkBase):
    type: Literal["jsonl"]
    path: str


class SlackSinkConfig(SinkBase):
    type: Literal["slack"]
    webhook_url: SecretStr
    rate_per_second: float = 1.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None


class TeamsSinkConfig(SinkBase):
    type: Literal["teams"]
    webhook_url: SecretStr
    rate_per_second: float = 2.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None


class PagerDutySinkConfig(SinkBase):
    type: Literal["pagerduty"]
    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    rate_per_minute: float = 120.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None


class WebhookSinkConfig(SinkBase):
    type: Literal["webhook"]
    url: str
    #: Standard Webhooks signing secret (``whsec_...``); unsigned when absent.
    secret: SecretStr | None = None
    cloudevents: bool = False
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    rate_per_second: float = 50.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None
    #: CloudEvents ``source`` attribute (a URI-reference naming this producer).
    cloudevents_source: str = "/aadsts-enricher"


class EmailSinkConfig(SinkBase):
    type: Literal["email"]
    host: str
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)
    ca_bundle: str | None = None
    rate_per_second: float = 2.0


class OtelSinkConfig(SinkBase):
    type: Literal["otel"]
    #: Defaults come from the standard OTEL_EXPORTER_OTLP_* variables.
    endpoint: str | None = None
    protocol: Literal["http/protobuf", "grpc"] | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    insecure: bool = False
    #: How often metrics are exported (logs go out with every notification).
    metric_interval: Duration = timedelta(seconds=60)


SinkConfig = Annotated[
    ConsoleSinkConfig
    | JsonlSinkConfig
    | SlackSinkConfig
    | TeamsSinkConfig
    | PagerDutySinkConfig
    | WebhookSinkConfig
    | EmailSinkConfig
    | OtelSinkConfig,
    Field(discriminator="type"),
]


# -- incidents, routing, silences -----------------------------------------------------------------

Label = Literal["tenant", "source", "container", "item", "code"]


class FlappingConfig(Strict):
    changes: int = Field(default=4, ge=2)
    window: Duration = timedelta(hours=1)


class IncidentConfig(Strict):
    group_by: tuple[Label, ...] = ("tenant", "source", "item", "code")
    group_wait: Duration = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)
    flapping: FlappingConfig = FlappingConfig()


class Match(Strict):
    """Each field is one value or a list; strings are globs or ``re:...``. All given fields must match."""

    severity: tuple[Severity, ...] | None = None
    category: tuple[str, ...] | None = None
    code: tuple[str, ...] | None = None
    source: tuple[str, ...] | None = None
    tenant: tuple[str, ...] | None = None
    workspace: tuple[str, ...] | None = None
    item: tuple[str, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _listify(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)] for k, v in data.items()
            }
        return data


class RouteConfig(Strict):
    match: Match = Match()
    sinks: tuple[str, ...] = Field(min_length=1)
    #: Keep looking at later routes after this one matched.
    continue_: bool = Field(default=False, alias="continue")


class SilenceConfig(Strict):
    match: Match
    ends_at: str
    comment: str = ""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class MaintenanceWindow(Strict):
    name: str
    timezone: str = "UTC"
    weekdays: tuple[Weekday, ...] = _WEEKDAYS
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    match: Match = Match()


class DeliveryConfig(Strict):
    max_age: Duration = timedelta(hours=24)
    base_delay: Duration = timedelta(seconds=2)
    max_delay: Duration = timedelta(minutes=10)
    interval: Duration = timedelta(seconds=2)


class HealthConfig(Strict):
    listen: str = "127.0.0.1:9464"
    ready_after: Duration = timedelta(minutes=15)
    basic_user: str | None = None
    basic_password: SecretStr | None = None
    bearer_token: SecretStr | None = None


class StateConfig(Strict):
    path: str = "./.data"


class LogConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "text"] = "auto"


class Config(Strict):
    tenants: tuple[TenantConfig, ...] = Field(min_length=1)
    sinks: tuple[SinkConfig, ...] = Field(min_length=1)
    routes: tuple[RouteConfig, ...] = ()
    default_sinks: tuple[str, ...] = ()
    incidents: IncidentConfig = IncidentConfig()
    silences: tuple[SilenceConfig, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    delivery: DeliveryConfig = DeliveryConfig()
    health: HealthConfig = HealthConfig()
    state: StateConfig = StateConfig()
    log: LogConfig = LogConfig()
    knowledge_dir: str | None = None
    min_severity: Severity = "info"

    @model_validator(mode="after")
    def _names_resolve(self) -> Config:
        names = [s.name for s in self.sinks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"sink names must be unique: {', '.join(duplicates)}")
        for i, route in enumerate(self.routes):
            for sink in route.sinks:
                if sink not in names:
                    raise ValueError(f"routes[{i}].sinks: no sink named {sink!r} (known: {', '.join(names)})")
        for sink in self.default_sinks:
            if sink not in names:
                raise ValueError(f"default_sinks: no sink named {sink!r} (known: {', '.join(names)})")
        tenants = [t.name for t in self.tenants]
        if len(set(tenants)) != len(tenants):
            raise ValueError("tenant names must be unique")
        return self

    @property
    def fallback_sinks(self) -> tuple[str, ...]:
        """Where a notification no route matches goes: default_sinks, else every sink."""
        return self.default_sinks or tuple(s.name for s in self.sinks)
