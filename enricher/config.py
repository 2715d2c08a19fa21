"""The configuration model: one YAML file, validated once, no dict travels past the loader.

Strict models (``extra="forbid"``) so a typo fails loudly; secrets are ``SecretStr`` so they never
print; sinks and sources are discriminated unions on ``type:``. Loading (``load_config``) substitutes
``${VAR}``, ``${VAR:-default}`` and ``${file:/path}`` in string values, then validates, and turns
any problem into one ``ConfigError`` line that names the path: ``sinks[2].webhook_url: ...``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, None: 1}
#: The longest duration any setting takes. Longer values are mistakes (``1e300``, ``.inf``) that
#: would overflow a timedelta or make a wait that never ends.
MAX_DURATION = timedelta(days=366)


def parse_duration(value: Any) -> Any:
    """Seconds or ``30s``/``5m``/``4h``/``1d``, from zero to 366 days: a negative interval made the
    scheduler spin on one core, and ``1e300`` or ``.inf`` overflowed with a traceback."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 4h, 1d)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (e.g. 30s, 5m, 4h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        return value
    if not 0 <= seconds <= MAX_DURATION.total_seconds():  # also false for NaN
        raise ValueError(f"{value!r} is out of range: give 0 to {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def check_positive(value: timedelta) -> timedelta:
    """An interval or a timeout of zero would run its job in a tight loop (or never wait at all)."""
    if value <= timedelta(0):
        raise ValueError("must be more than 0 (e.g. 30s, 5m)")
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
#: A period something runs on, or a timeout: more than zero.
Interval = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(check_positive)]
#: Sends per second (or minute) to one destination: positive and finite (0 would never send).
Rate = Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
Port = Annotated[int, Field(ge=1, le=65535)]


def check_not_empty(value: SecretStr | None) -> SecretStr | None:
    """An empty credential (``${T:-}`` with T unset) would leave what it protects open."""
    if value is not None and not value.get_secret_value().strip():
        raise ValueError("is empty; set a value or leave the setting out")
    return value


Credential = Annotated[SecretStr, AfterValidator(check_not_empty)]


def check_pattern(pattern: str) -> str:
    """A ``re:...`` value must compile here, not in the middle of a cycle; globs cannot be wrong."""
    if pattern.startswith("re:"):
        try:
            re.compile(pattern[3:])
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


def check_timezone(name: str) -> str:
    """An IANA zone that exists on this machine (or in the tzdata package); suggests the closest name."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, available_timezones(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else " (an IANA name such as 'Europe/Amsterdam')"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name


def parse_timestamp(value: Any) -> Any:
    """ISO 8601 with a time zone; YAML may already have made a datetime of an unquoted value."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time (e.g. 2030-01-01T00:00:00Z)") from None
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError("give a time zone, e.g. 2030-01-01T00:00:00Z or 2030-01-01T01:00:00+01:00")
    return value


def check_listen(value: str) -> str:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6), port 0-65535: the health server binds it at start."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535 or (":" in host and not host.startswith("[")):
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:9464, 0.0.0.0:9464, [::1]:9464)")
    return value


def check_base_url(value: str | None) -> str | None:
    """An address people open in a browser: http(s), a host, no query; kept without a final ``/``."""
    if value is None or not value.strip():
        return None
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        parts.port  # noqa: B018  # a port that is no number raises here
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// address with a host")
    if parts.query or parts.fragment:
        raise ValueError("a base address takes no ?query or #fragment")
    return value.strip().rstrip("/")


def check_resend(value: timedelta) -> timedelta:
    """Alertmanager re-posting: far above a busy loop, and a missed post or two must not end an alert."""
    if not timedelta(seconds=5) <= value <= timedelta(minutes=15):
        raise ValueError("must be between 5s and 15m (default 60s)")
    return value


Pattern = Annotated[str, AfterValidator(check_pattern)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
#: An ISO 8601 time with a time zone (a naive time would be compared with UTC at run time and fail).
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
Severity = Literal["critical", "high", "medium", "low", "info"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NameFilterConfig(Strict):
    """Globs (``Finance*``) or regular expressions written ``re:...``."""

    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()


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


# -- sinks --------------------------------------------------------------------------------------


class SinkBase(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    send_resolved: bool = True
    #: A Jinja2 template file (relative to the config file) replacing the built-in rendering.
    template: str | None = None
    timeout: Interval = timedelta(seconds=15)


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
    rate_per_second: Rate = 1.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None


class TeamsSinkConfig(SinkBase):
    type: Literal["teams"]
    webhook_url: SecretStr
    rate_per_second: Rate = 2.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None


class PagerDutySinkConfig(SinkBase):
    type: Literal["pagerduty"]
    routing_key: SecretStr
    url: str = "https://events.pagerduty.com/v2/enqueue"
    rate_per_minute: Rate = 120.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None


class WebhookSinkConfig(SinkBase):
    type: Literal["webhook"]
    url: str
    #: Standard Webhooks signing secret (``whsec_...``); unsigned when absent.
    secret: SecretStr | None = None
    cloudevents: bool = False
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    rate_per_second: Rate = 50.0
    #: Extra CA bundle (relative to the working directory) to trust for this destination (a TLS-inspecting proxy).
    ca_bundle: str | None = None
    #: CloudEvents ``source`` attribute (a URI-reference naming this producer).
    cloudevents_source: str = "/aadsts-enricher"


class EmailSinkConfig(SinkBase):
    type: Literal["email"]
    host: str
    port: Port = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)
    ca_bundle: str | None = None
    rate_per_second: Rate = 2.0


class OtelSinkConfig(SinkBase):
    type: Literal["otel"]
    #: Defaults come from the standard OTEL_EXPORTER_OTLP_* variables.
    endpoint: str | None = None
    protocol: Literal["http/protobuf", "grpc"] | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    insecure: bool = False
    #: How often metrics are exported (logs go out with every notification).
    metric_interval: Interval = timedelta(seconds=60)


class AlertmanagerSinkConfig(SinkBase):
    type: Literal["alertmanager"]
    #: Base URL of every Alertmanager of the cluster (``/api/v2/alerts`` is appended). Alertmanager
    #: asks clients to post to each peer, not through a load balancer.
    urls: tuple[str, ...] = Field(min_length=1)
    #: How often alerts still firing are posted again. Each post says ``endsAt`` = now + 4 x this,
    #: so Alertmanager keeps the alert firing between posts and lets it end on its own if we stop.
    resend_interval: Annotated[Duration, AfterValidator(check_resend)] = timedelta(seconds=60)
    #: Our own base URL as users reach it (the dashboard): ``generatorURL`` is
    #: ``{external_url}/incidents/{id}`` and ``runbook_url`` ``{external_url}/codes/{code}``.
    #: Empty: ``health.external_url``, else ``http://`` + ``health.listen``.
    external_url: Annotated[str | None, AfterValidator(check_base_url)] = None
    #: Labels added to every alert (e.g. ``env: prod``); ours win on a clash.
    labels: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    ca_bundle: str | None = None
    rate_per_second: float = 20.0


SinkConfig = Annotated[
    ConsoleSinkConfig
    | JsonlSinkConfig
    | SlackSinkConfig
    | TeamsSinkConfig
    | PagerDutySinkConfig
    | WebhookSinkConfig
    | EmailSinkConfig
    | OtelSinkConfig
    | AlertmanagerSinkConfig,
    Field(discriminator="type"),
]


# -- incidents, routing, silences -----------------------------------------------------------------

Label = Literal["tenant", "source", "container", "item", "code"]


class FlappingConfig(Strict):
    changes: int = Field(default=4, ge=2)
    window: Interval = timedelta(hours=1)


class IncidentConfig(Strict):
    group_by: tuple[Label, ...] = ("tenant", "source", "item", "code")
    group_wait: Duration = timedelta(seconds=30)
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)
    flapping: FlappingConfig = FlappingConfig()


class Match(Strict):
    """Each field is one value or a list; strings are globs or ``re:...``. All given fields must match."""

    severity: tuple[Severity, ...] | None = None
    category: tuple[Pattern, ...] | None = None
    code: tuple[Pattern, ...] | None = None
    source: tuple[Pattern, ...] | None = None
    tenant: tuple[Pattern, ...] | None = None
    workspace: tuple[Pattern, ...] | None = None
    item: tuple[Pattern, ...] | None = None

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
    ends_at: Timestamp
    comment: str = ""


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class MaintenanceWindow(Strict):
    name: str
    timezone: TimeZone = "UTC"
    weekdays: tuple[Weekday, ...] = _WEEKDAYS
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    match: Match = Match()


#: The labels a notification carries (``notification.labels_of``): what matchers may name.
LabelName = Literal["severity", "category", "code", "source", "tenant", "workspace", "item"]
LABEL_NAMES: tuple[str, ...] = LabelName.__args__  # type: ignore[attr-defined]
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


@dataclass(frozen=True, slots=True)
class Matcher:
    """One Alertmanager matcher, parsed: ``label``, ``op`` (``=``, ``!=``, ``=~``, ``!~``), ``value``."""

    label: str
    op: str
    value: str


def parse_matcher(text: str) -> Matcher:
    """``severity="critical"``, ``code=~"53.*"``, ``workspace!="Sandbox"``, as Alertmanager writes
    them (the value quoted or bare). A regular expression must match the whole value, as in
    Alertmanager; a ``code`` compared with ``=``/``!=`` may carry the ``AADSTS`` prefix."""
    m = _MATCHER.match(text)
    if m is None:
        raise ValueError(f'{text!r} is not a matcher (e.g. severity="critical", code=~"53.*")')
    label, op, raw = m.groups()
    if label not in LABEL_NAMES:
        close = difflib.get_close_matches(label, LABEL_NAMES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{text!r}: no label {label!r} ({hint}labels: {', '.join(LABEL_NAMES)})")
    value = _unquote(text, raw)
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: not a regular expression ({exc})") from None
    elif label == "code" and value.lower().startswith("aadsts"):
        value = value[6:]
    return Matcher(label, op, value)


def _unquote(text: str, raw: str) -> str:
    if not raw.startswith('"'):
        if '"' in raw:
            raise ValueError(f"{text!r}: a quote inside an unquoted value")
        return raw
    if len(raw) < 2 or not raw.endswith('"'):
        raise ValueError(f"{text!r}: the value's closing quote is missing")
    out, chars = [], iter(raw[1:-1])
    for ch in chars:
        if ch == '"':
            raise ValueError(f"{text!r}: an unescaped quote inside the value")
        if ch == "\\":
            nxt = next(chars, "")
            if nxt not in _ESCAPES:
                raise ValueError(f"{text!r}: unknown escape \\{nxt}")
            out.append(_ESCAPES[nxt])
        else:
            out.append(ch)
    return "".join(out)


def check_matcher(text: str) -> str:
    parse_matcher(text)
    return text


MatcherText = Annotated[str, AfterValidator(check_matcher)]


class InhibitRule(Strict):
    """Alertmanager's shape: while an open incident matches every ``source_matchers`` entry, a
    notification matching every ``target_matchers`` entry is held back, if both have the same value
    for each ``equal`` label. A notification matching both sides is never held by one that does too."""

    source_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    target_matchers: tuple[MatcherText, ...] = Field(min_length=1)
    equal: tuple[LabelName, ...] = ()


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
