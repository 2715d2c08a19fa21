"""Destinations: one model per sink type, a discriminated union on ``type:``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
)

from enricher.config.base import (
    Duration,
    Interval,
    Port,
    Rate,
    Strict,
    check_base_url,
    check_resend,
)

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
