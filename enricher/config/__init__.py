"""The configuration model: one YAML file, validated once, no dict travels past the loader.

Strict models (``extra="forbid"``) so a typo fails loudly; secrets are ``SecretStr`` so they never
print; sinks and sources are discriminated unions on ``type:``. Loading (``load_config``) substitutes
``${VAR}``, ``${VAR:-default}`` and ``${file:/path}`` in string values, then validates, and turns
any problem into one ``ConfigError`` line that names the path: ``sinks[2].webhook_url: ...``.
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from enricher.config.base import (
    MAX_DURATION,
    Credential,
    Duration,
    Interval,
    NameFilterConfig,
    Pattern,
    Port,
    Rate,
    Severity,
    Strict,
    Timestamp,
    TimeZone,
    check_base_url,
    check_listen,
    check_not_empty,
    check_pattern,
    check_positive,
    check_resend,
    check_timezone,
    parse_duration,
    parse_timestamp,
)
from enricher.config.policy import (
    LABEL_NAMES,
    FlappingConfig,
    IncidentConfig,
    InhibitRule,
    Label,
    LabelName,
    MaintenanceWindow,
    Match,
    Matcher,
    MatcherText,
    RouteConfig,
    SilenceConfig,
    Weekday,
    check_matcher,
    parse_matcher,
)
from enricher.config.sinks import (
    AlertmanagerSinkConfig,
    ConsoleSinkConfig,
    EmailSinkConfig,
    JsonlSinkConfig,
    OtelSinkConfig,
    PagerDutySinkConfig,
    SinkBase,
    SinkConfig,
    SlackSinkConfig,
    TeamsSinkConfig,
    WebhookSinkConfig,
)
from enricher.config.tenants import (
    ADFSource,
    CredentialConfig,
    CredentialExpiryConfig,
    EndpointOverrides,
    FabricSource,
    FactoryConfig,
    PowerBISource,
    SigninLookupConfig,
    SourceBase,
    SourceConfig,
    SynapseSource,
    SynapseWorkspaceConfig,
    TenantConfig,
)


class DeliveryConfig(Strict):
    max_age: Interval = timedelta(hours=24)
    base_delay: Duration = timedelta(seconds=2)
    max_delay: Duration = timedelta(minutes=10)
    interval: Interval = timedelta(seconds=2)


class HealthConfig(Strict):
    listen: Annotated[str, AfterValidator(check_listen)] = "127.0.0.1:9464"
    #: The dashboard's address as people open it (``https://aadsts.example.com``, behind a proxy).
    #: Set: every incident notification links to its page ``{external_url}/incidents/{id}`` (a
    #: parent's page lists all its items), and alertmanager sinks without their own use it.
    external_url: Annotated[str | None, AfterValidator(check_base_url)] = None
    ready_after: Interval = timedelta(minutes=15)
    basic_user: str | None = None
    basic_password: Credential | None = None
    bearer_token: Credential | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> HealthConfig:
        """A user without a password (or the reverse) would silently leave the endpoints open."""
        if (self.basic_user is None) != (self.basic_password is None):
            raise ValueError("basic_user and basic_password go together")
        if self.basic_user is not None and not self.basic_user.strip():
            raise ValueError("basic_user: is empty; set a value or leave the setting out")
        return self


class IngestConfig(Strict):
    """``POST /api/v1/ingest/{azure-monitor|alertmanager|grafana}`` on the health port: alerts other
    systems push. Those with an AADSTS code become failures like polled ones; the rest are counted
    (``aadsts_enricher_ingested_total{outcome="other"}``) and dropped, or forwarded unchanged to
    webhook sinks (``other: forward``)."""

    enabled: bool = False
    #: The tenant an alert belongs to when nothing in it (a ``tenant`` label, an ADF subscription
    #: or Synapse workspace of a configured source) names one; empty: the first tenant.
    tenant: str | None = None
    #: Accepted as ``?token=`` for senders that cannot set an ``Authorization`` header (Azure
    #: Monitor action group webhooks); the header (``health`` credentials) works as well.
    token: SecretStr | None = None
    #: Largest request body in bytes (Azure Monitor caps a common-schema alert at 256 KB).
    max_body: int = Field(default=1_048_576, ge=1024)
    #: Sustained requests per second; beyond it (and a burst of ``burst``) we answer 503 with
    #: Retry-After, which Alertmanager, Grafana and Azure Monitor all retry.
    rate_per_second: float = Field(default=50.0, gt=0)
    burst: int = Field(default=200, ge=1)
    #: Alerts without an AADSTS code: ``drop`` (counted only) or ``forward`` (posted unchanged to
    #: the webhook sinks named in ``forward_to``, so the sender can point all its alerts at us).
    other: Literal["drop", "forward"] = "drop"
    #: Names of ``type: webhook`` sinks that receive the other alerts' bodies as they came.
    forward_to: tuple[str, ...] = ()
    #: Azure Monitor log search alerts without the results in the body: read them from the alert's
    #: results link (Log Analytics query API) with the tenant's credential. Off: the dimensions only.
    fetch_search_results: bool = False


class StateConfig(Strict):
    #: The SQLite state directory (``state.db``, ``state.lock``) when no ``url`` is set.
    path: str = "./.data"
    #: A PostgreSQL database instead of SQLite, shared by several replicas:
    #: ``postgresql://USER:${PGPASSWORD}@HOST:5432/DB?sslmode=verify-full``. Kept secret (it may
    #: hold a password); ``check-config`` parses it, ``run`` says in one line if it cannot connect.
    #: Empty means unset, so one file serves both: ``url: ${AADSTS_STATE_URL:-}``.
    url: SecretStr | None = None
    #: The database password apart from ``url``, so it needs no percent-encoding (a ``/`` or ``@``
    #: in a generated password would break the URL): ``${PGPASSWORD}`` or ``${file:/run/secrets/pg}``.
    password: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        text = value.get_secret_value().strip() if value is not None else ""
        if not text:  # unset, or ``${AADSTS_STATE_URL:-}`` left empty: SQLite under ``path``
            return None
        from urllib.parse import urlsplit

        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018  # a port that is no number raises here
        except ValueError as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must start with postgresql:// (only PostgreSQL is supported)")
        if not parts.path.strip("/") and "dbname=" not in parts.query:
            raise ValueError("names no database (postgresql://HOST/DATABASE)")
        return value


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
    inhibit_rules: tuple[InhibitRule, ...] = ()
    delivery: DeliveryConfig = DeliveryConfig()
    health: HealthConfig = HealthConfig()
    ingest: IngestConfig = IngestConfig()
    state: StateConfig = StateConfig()
    log: LogConfig = LogConfig()
    knowledge_dir: str | None = None
    min_severity: Severity = "info"

    @model_validator(mode="after")
    def _names_resolve(self) -> Config:
        """Names are unique and every sink a route names exists; messages start with the path."""
        for section, names in (
            ("tenants", [t.name for t in self.tenants]),
            ("sinks", [s.name for s in self.sinks]),
            ("maintenance", [w.name for w in self.maintenance]),
        ):
            for i, name in enumerate(names):
                if name in names[:i]:
                    raise ValueError(f"{section}[{i}].name: {name!r} is used twice; names must be unique")
        sinks = [s.name for s in self.sinks]
        wanted = [(f"routes[{i}].sinks", n) for i, r in enumerate(self.routes) for n in r.sinks]
        for where, name in [*wanted, *(("default_sinks", n) for n in self.default_sinks)]:
            if name not in sinks:
                close = difflib.get_close_matches(name, sinks, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ValueError(f"{where}: no sink named {name!r} ({hint}known: {', '.join(sinks)})")
        return self

    @model_validator(mode="after")
    def _ingest_is_closed(self) -> Config:
        """An open ingest endpoint would let anyone on the network raise alerts."""
        i, h = self.ingest, self.health
        if i.enabled and not (i.token or h.bearer_token or h.basic_user):
            raise ValueError(
                "ingest.enabled: needs ingest.token, health.bearer_token or health.basic_user/basic_password"
            )
        if i.tenant is not None and i.tenant not in [t.name for t in self.tenants]:
            raise ValueError(f"ingest.tenant: no tenant named {i.tenant!r}")
        if i.other == "forward" and not i.forward_to:
            raise ValueError("ingest.forward_to: 'other: forward' needs at least one webhook sink here")
        types = {s.name: s.type for s in self.sinks}
        for n, name in enumerate(i.forward_to):
            if name not in types:
                raise ValueError(f"ingest.forward_to[{n}]: no sink named {name!r}")
            if types[name] != "webhook":
                raise ValueError(
                    f"ingest.forward_to[{n}]: {name!r} is a {types[name]} sink; alerts are forwarded "
                    "unchanged, which only a webhook sink can carry"
                )
        return self

    @property
    def fallback_sinks(self) -> tuple[str, ...]:
        """Where a notification no route matches goes: default_sinks, else every sink."""
        return self.default_sinks or tuple(s.name for s in self.sinks)


__all__ = [
    "LABEL_NAMES",
    "MAX_DURATION",
    "ADFSource",
    "AlertmanagerSinkConfig",
    "Config",
    "ConsoleSinkConfig",
    "Credential",
    "CredentialConfig",
    "CredentialExpiryConfig",
    "DeliveryConfig",
    "Duration",
    "EmailSinkConfig",
    "EndpointOverrides",
    "FabricSource",
    "FactoryConfig",
    "FlappingConfig",
    "HealthConfig",
    "IncidentConfig",
    "IngestConfig",
    "InhibitRule",
    "Interval",
    "JsonlSinkConfig",
    "Label",
    "LabelName",
    "LogConfig",
    "MaintenanceWindow",
    "Match",
    "Matcher",
    "MatcherText",
    "NameFilterConfig",
    "OtelSinkConfig",
    "PagerDutySinkConfig",
    "Pattern",
    "Port",
    "PowerBISource",
    "Rate",
    "RouteConfig",
    "Severity",
    "SigninLookupConfig",
    "SilenceConfig",
    "SinkBase",
    "SinkConfig",
    "SlackSinkConfig",
    "SourceBase",
    "SourceConfig",
    "StateConfig",
    "Strict",
    "SynapseSource",
    "SynapseWorkspaceConfig",
    "TeamsSinkConfig",
    "TenantConfig",
    "TimeZone",
    "Timestamp",
    "WebhookSinkConfig",
    "Weekday",
    "check_base_url",
    "check_listen",
    "check_matcher",
    "check_not_empty",
    "check_pattern",
    "check_positive",
    "check_resend",
    "check_timezone",
    "parse_duration",
    "parse_matcher",
    "parse_timestamp",
]
