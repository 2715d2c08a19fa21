"""The prose of ``docs/configuration.md`` that the config model cannot supply: the introduction,
and descriptions of fields that carry neither a ``description`` nor a ``#:`` comment in enricher/config/."""

from __future__ import annotations

#: Descriptions of fields that carry neither a ``description`` nor a ``#:`` comment in enricher/config/,
#: keyed ``ClassName.field`` (tests/test_docs.py fails on a key that names no field).
NOTES: dict[str, str] = {
    "Config.tenants": "The Entra tenants to watch, each with its own credential and sources.",
    "Config.sinks": "Where notifications go. Names must be unique.",
    "Config.routes": "Tried in order; the first match wins unless it says `continue: true`.",
    "Config.default_sinks": "Where notifications that no route matched go; empty: every sink.",
    "Config.incidents": "How failures become incidents and how often they are repeated.",
    "Config.silences": "Mute matching notifications until a time (also: `aadsts-enricher silence add`).",
    "Config.maintenance": "Recurring windows: matching notifications are held, then sent if still true.",
    "Config.inhibit_rules": "While an incident matching a rule's source is open, notifications matching "
    "its target are held, then sent if still true (Alertmanager's `inhibit_rules`).",
    "Config.delivery": "Retries and dead-lettering of notifications.",
    "Config.health": "The HTTP endpoints `/healthz`, `/readyz`, `/metrics` and the dashboard.",
    "Config.state": "Where the SQLite state (`state.db`) lives.",
    "Config.ingest": "Alerts pushed to us by Azure Monitor, Alertmanager or Grafana (off by default).",
    "IngestConfig.enabled": "Serve the ingest endpoints (needs a credential: `token` or the health server's).",
    "Config.log": "The daemon's own log lines.",
    "Config.knowledge_dir": "A directory of YAML entries overriding the built-in knowledge base "
    "(relative to the config file).",
    "Config.min_severity": "Ignore failures below this severity.",
    "TenantConfig.name": "Short label used in alerts, metrics and state.",
    "TenantConfig.tenant_id": "The directory (tenant) ID, a GUID or a verified domain.",
    "TenantConfig.cloud": "Sets every endpoint: the public cloud, US Government or China (21Vianet).",
    "TenantConfig.endpoints": "Per-API URL overrides (a simulator, a private endpoint); empty for Azure.",
    "TenantConfig.credential": "How the daemon itself signs in (always through azure-identity).",
    "TenantConfig.sources": "What to poll in this tenant.",
    "TenantConfig.signin_lookup": "Find the sign-in event behind Conditional Access, MFA, device and "
    'account failures in the Graph sign-in log (README "Name the cause"; permissions in '
    "docs/azure-setup.md).",
    "TenantConfig.ca_bundle": "A PEM file of CA certificates to trust for this tenant's Entra and API "
    "calls (a TLS-inspecting proxy, the simulator), relative to the working directory. How it "
    "combines with the default trust is `ca_bundle_mode`.",
    "TenantConfig.ca_bundle_mode": "`add`: trust the default CAs (`REQUESTS_CA_BUNDLE` when set, "
    "certifi's bundle, the system store) plus `ca_bundle`; `replace`: trust `ca_bundle` alone.",
    "TenantConfig.credential_expiry": "Warn before the client secrets and certificates of the daemon's "
    "app and of every app seen in failures expire (needs Graph `Application.Read.All`).",
    "CredentialExpiryConfig.enabled": "`false`: never ask Graph for credential end dates.",
    "CredentialExpiryConfig.windows": "Days before the end date at which to warn, once each; the "
    "smallest window reached sets the severity (1: critical, 7: high, 14: medium, more: low).",
    "CredentialExpiryConfig.interval": "How often Graph is asked for the end dates.",
    "CredentialConfig.type": "`client_secret` and `workload_identity` need `client_id` plus "
    "`client_secret` / `token_file`; `certificate` needs `client_id` and `certificate_path`; "
    "`managed_identity` takes an optional `client_id` (user-assigned); `default` is "
    "DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI).",
    "CredentialConfig.client_id": "The app (client) ID of the registration the daemon signs in as.",
    "CredentialConfig.client_secret": "The client secret's value (not its ID).",
    "CredentialConfig.certificate_path": "PEM file holding the private key and the certificate.",
    "CredentialConfig.certificate_password": "Password of the PEM's private key, if any.",
    "CredentialConfig.token_file": "The federated token file (AKS sets AZURE_FEDERATED_TOKEN_FILE).",
    "EndpointOverrides.authority": "Entra ID authority (token endpoint host).",
    "EndpointOverrides.powerbi": "Power BI REST base URL.",
    "EndpointOverrides.fabric": "Fabric REST base URL.",
    "EndpointOverrides.arm": "Azure Resource Manager base URL (Data Factory, subscriptions).",
    "EndpointOverrides.graph": "Microsoft Graph base URL.",
    "EndpointOverrides.synapse": "Synapse development endpoint; `{workspace}` is replaced.",
    "EndpointOverrides.log_analytics": "Log Analytics query API base URL (the only host an Azure Monitor "
    "results link is followed to, with `ingest.fetch_search_results`).",
    "SourceBase.name": "Names the source within its tenant; defaults to its `type`. Cursor, heartbeat, "
    "logs and metrics are keyed by it, so two sources of one type (Power BI admin and workspace mode) "
    "need different names: a duplicate is a config error.",
    "SourceBase.interval": "How often to poll.",
    "SourceBase.enabled": "`false` keeps the source in the file but never polls it.",
    "PowerBISource.type": "Semantic-model refreshes and dataflow transactions.",
    "PowerBISource.mode": "`admin`: tenant-wide through the read-only admin APIs; `workspace`: only "
    "workspaces the app is a member of.",
    "PowerBISource.workspaces": "Filter by workspace name.",
    "PowerBISource.dataflows": "Also list dataflows and read their transactions (status only: Power BI "
    "gives no error text); `false` makes no dataflow call at all.",
    "PowerBISource.history_top": "Refreshes read per dataset when a history is needed.",
    "PowerBISource.discovery_interval": "How often workspaces and datasets are listed "
    "(admin APIs are metered per hour).",
    "FabricSource.type": "Job instances of Fabric items.",
    "FabricSource.workspaces": "Filter by workspace name.",
    "FabricSource.item_types": "Which item types' jobs to read.",
    "FabricSource.discovery_interval": "How often workspaces and items are listed.",
    "ADFSource.type": "Azure Data Factory pipeline and activity runs.",
    "ADFSource.subscriptions": "Subscription IDs to search for factories; empty: every subscription "
    "the app can see.",
    "ADFSource.factories": "Exactly these factories instead of discovering them.",
    "ADFSource.names": "Filter discovered factories by name.",
    "ADFSource.overlap": "Each query window starts this much before the last one ended.",
    "ADFSource.lookback": "How far back the first poll looks.",
    "ADFSource.discovery_interval": "How often factories are listed.",
    "FactoryConfig.subscription_id": "Subscription of the factory.",
    "FactoryConfig.resource_group": "Resource group of the factory.",
    "FactoryConfig.name": "Factory name.",
    "SynapseSource.type": "Synapse pipeline and activity runs.",
    "SynapseSource.workspaces": "The Synapse workspaces to poll.",
    "SynapseSource.overlap": "Each query window starts this much before the last one ended.",
    "SynapseSource.lookback": "How far back the first poll looks.",
    "SynapseWorkspaceConfig.name": "Workspace name.",
    "SynapseWorkspaceConfig.endpoint": "Development endpoint; default `https://{name}.dev.azuresynapse.net`.",
    "SynapseWorkspaceConfig.subscription_id": "Only used for portal links.",
    "SynapseWorkspaceConfig.resource_group": "Only used for portal links.",
    "NameFilterConfig.include": "Names to keep; empty: all.",
    "NameFilterConfig.exclude": "Names to drop (applied after `include`).",
    "SinkBase.name": "The sink's name, used by routes and `default_sinks`.",
    "SinkBase.send_resolved": 'Also send "resolved" messages.',
    "SinkBase.timeout": "Network timeout.",
    "ConsoleSinkConfig.type": "Human-readable blocks (or JSON lines) on stdout.",
    "ConsoleSinkConfig.color": "`auto`: colour only on a terminal without NO_COLOR.",
    "ConsoleSinkConfig.format": "`json`: one JSON line per notification.",
    "JsonlSinkConfig.type": "One JSON line per notification appended to a file.",
    "JsonlSinkConfig.path": "The file (relative to the working directory).",
    "SlackSinkConfig.type": "Slack incoming webhook (Slack app > Incoming Webhooks).",
    "SlackSinkConfig.webhook_url": "The incoming-webhook URL.",
    "SlackSinkConfig.rate_per_second": "Pace of messages per webhook URL, shared by sinks that use the same one (Slack allows about 1 per second).",
    "TeamsSinkConfig.type": 'Teams Workflows "Send webhook alerts to a channel".',
    "TeamsSinkConfig.webhook_url": "The workflow's HTTP POST URL.",
    "TeamsSinkConfig.rate_per_second": "Pace of messages.",
    "PagerDutySinkConfig.type": "PagerDuty Events API v2.",
    "PagerDutySinkConfig.routing_key": "The integration (routing) key.",
    "PagerDutySinkConfig.url": "Events API endpoint (the EU service region has its own).",
    "PagerDutySinkConfig.rate_per_minute": "Pace of events per routing key, shared by sinks that use the same key.",
    "WebhookSinkConfig.type": "JSON POST with Standard Webhooks signatures (or CloudEvents).",
    "WebhookSinkConfig.url": "Where to POST.",
    "WebhookSinkConfig.cloudevents": "Send CloudEvents 1.0 in structured mode.",
    "WebhookSinkConfig.headers": "Extra request headers (values are secrets).",
    "WebhookSinkConfig.rate_per_second": "Pace of requests per URL, shared by sinks that use the same one.",
    "EmailSinkConfig.type": "E-mail over SMTP.",
    "EmailSinkConfig.host": "SMTP server.",
    "EmailSinkConfig.port": "SMTP port (587 for STARTTLS, 465 for implicit TLS).",
    "EmailSinkConfig.security": "`starttls`, `tls` (implicit) or `none`.",
    "EmailSinkConfig.username": "SMTP user, if the server needs a login.",
    "EmailSinkConfig.password": "SMTP password.",
    "EmailSinkConfig.sender": "The From address.",
    "EmailSinkConfig.recipients": "The To addresses.",
    "EmailSinkConfig.ca_bundle": "Extra CA bundle to trust for the SMTP server.",
    "EmailSinkConfig.rate_per_second": "Pace of messages.",
    "OtelSinkConfig.type": "OTLP logs (one per notification) and metrics.",
    "OtelSinkConfig.protocol": "`http/protobuf` or `grpc`; default from OTEL_EXPORTER_OTLP_PROTOCOL.",
    "OtelSinkConfig.headers": "Extra OTLP headers (values are secrets).",
    "OtelSinkConfig.insecure": "gRPC without TLS.",
    "AlertmanagerSinkConfig.type": "Prometheus Alertmanager API v2 (`POST /api/v2/alerts`); alerts "
    "still firing are posted again every `resend_interval`.",
    "AlertmanagerSinkConfig.headers": "Extra request headers, e.g. `Authorization` for a proxy in "
    "front of Alertmanager (values are secrets).",
    "AlertmanagerSinkConfig.ca_bundle": "Extra CA bundle to trust for the Alertmanagers.",
    "AlertmanagerSinkConfig.rate_per_second": "Pace of posts, shared by sinks that post to the same URLs.",
    "IncidentConfig.group_by": "What makes one incident.",
    "IncidentConfig.group_wait": "Wait this long before the first message, so a burst becomes one message.",
    "IncidentConfig.group_interval": "After a message for a code went out, wait this long before the next batch.",
    "IncidentConfig.repeat_interval": "Remind about incidents still open this often.",
    "IncidentConfig.flapping": "When an incident counts as flapping (one message, then quiet).",
    "FlappingConfig.changes": "This many open/resolve changes ...",
    "FlappingConfig.window": "... within this window make an incident flapping.",
    "Match.severity": "Severities.",
    "Match.category": "Knowledge-base categories (e.g. `conditional_access`).",
    "Match.code": "AADSTS codes without the prefix (e.g. `53003`).",
    "Match.source": "`powerbi`, `fabric`, `adf`, `synapse` or `self`.",
    "Match.tenant": "Tenant names.",
    "Match.workspace": "Workspace, factory or Synapse workspace names.",
    "Match.item": "Dataset, dataflow, pipeline or item names.",
    "RouteConfig.match": "Which notifications the route takes; empty: all.",
    "RouteConfig.sinks": "Sink names.",
    "SilenceConfig.match": "Which notifications are muted.",
    "SilenceConfig.ends_at": "When the silence ends (ISO 8601 with a time zone).",
    "SilenceConfig.comment": "Why (shown by `silence list`).",
    "MaintenanceWindow.name": "Label of the window.",
    "MaintenanceWindow.timezone": "IANA time zone of `start` and `end`.",
    "MaintenanceWindow.weekdays": "Days on which the window opens.",
    "MaintenanceWindow.start": "Start time, `HH:MM`.",
    "MaintenanceWindow.end": "End time, `HH:MM` (`24:00` allowed).",
    "MaintenanceWindow.match": "Which notifications it holds; empty: all.",
    "InhibitRule.source_matchers": "Matchers an open incident must all meet to hold others back, "
    'written as Alertmanager does: `label="value"`, `label!="value"`, `label=~"regex"`, '
    '`label!~"regex"` (a regex matches the whole value). Labels: severity, category, code, '
    "source, tenant, workspace, item.",
    "InhibitRule.target_matchers": "Matchers a notification must all meet to be held.",
    "InhibitRule.equal": "Labels whose values the source incident and the notification must share "
    "(`tenant`: one tenant's outage holds only that tenant's alerts).",
    "DeliveryConfig.max_age": "Give up (dead letter) on a notification this old.",
    "DeliveryConfig.base_delay": "Retry backoff: base * 2^attempts, with jitter ...",
    "DeliveryConfig.max_delay": "... capped here, never sooner than the destination's Retry-After.",
    "DeliveryConfig.interval": "How often due notifications are written to the outbox; an idle sink worker also looks again this often.",
    "HealthConfig.listen": "`host:port`; `0.0.0.0:9464` in a container.",
    "HealthConfig.ready_after": "`/readyz` fails when no poll succeeded for this long.",
    "HealthConfig.basic_user": "Protect everything but `/healthz` with basic auth ...",
    "HealthConfig.basic_password": "... and this password.",
    "HealthConfig.bearer_token": "... or with a bearer token.",
    "StateConfig.path": "Directory of `state.db`; `/var/lib/aadsts-enricher` in the container.",
    "LogConfig.level": "Lowest level written.",
    "LogConfig.format": "`auto`: JSON when stderr is not a terminal.",
}

INTRO = """\
# Configuration reference

<!-- Generated by `make docs` (python -m enricher.config_doc) from enricher/config/. Do not edit:
     tests/test_docs.py fails when this file and the model differ. -->

One YAML file. `config/example.yaml` annotates every option; `config/container.yaml` is the
image's default.

**Validation.** `aadsts-enricher check-config --config FILE` validates the file and summarises what
would run; `run`, `once`, `silence` and a [reload](#reload) read the file through the same checks,
so none of them starts on a file `check-config` refuses (`test-sink` checks the file and builds only
the sink it tests, so one broken sink does not stop a test of another). Checked, besides types,
values and required settings: unknown keys (with a "did you mean" for a near miss), unique names
(tenants, sinks, maintenance windows), that every sink a route or `default_sinks` names exists,
IANA time zones, that every `re:` pattern compiles, `inhibit_rules` matchers (label, operator, quoting, regex), silence `ends_at` times (ISO 8601 with a zone),
`health.listen` (`HOST:PORT`) and `basic_user` with `basic_password`; then each tenant's
credential is built as at start (certificate, token and CA bundle files must exist, a certificate
must parse), each sink is built (a `template:` must load and render a sample notification, CA
bundle files must exist) and `knowledge_dir` must load. A problem is one line naming the setting
and exit code 2, e.g. `routes[2].match.workspace[0]: 're:(unclosed' is not a valid regular expression: ...` or
`sinks[1].webhok_url: unknown setting (did you mean 'webhook_url'?)`. Signing in and reaching
the APIs and destinations are only tried when the daemon runs: use `once` and `test-sink` for those.

- **Substitution** (in any string value, after YAML parsing): `${VAR}` (an environment variable,
  required), `${VAR:-default}`, `${file:/path}` (a file's content, trimmed: Kubernetes and Docker
  secrets), at most 64 KB.
- **Durations**: a number of seconds or `500ms`, `30s`, `5m`, `4h`, `1d`, from 0 to 366 days;
  intervals, timeouts, `delivery.max_age`, `health.ready_after` and `flapping.window` must be more
  than 0. Rates (`rate_per_second`, `rate_per_minute`) must be more than 0 and finite, ports 1-65535.
- **Bounds on the file**: at most 1 MB, and at most 100,000 values once YAML aliases are expanded
  (a few hundred bytes of nested aliases can otherwise expand to billions).
- **Credentials that protect something cannot be empty**: `health.bearer_token: "${T:-}"` with `T`
  unset, an empty `basic_password` or `basic_user` is an error, not an open endpoint.
- **Name filters and match values**: globs (`Finance*`) or regular expressions written `re:...`.
- **Unknown keys are errors**, so a typo fails loudly instead of being ignored.
- Secrets are never logged or shown by `check-config`.

## Reload

`run` re-reads its config file on SIGHUP (`kill -HUP PID`, `docker kill -s HUP NAME`) or on
`POST /-/reload` to the health address (with `health.basic_user`/`basic_password` or
`health.bearer_token` when set, like every endpoint but `/healthz`; it answers 200
`{"status": "reloading"}`, or 400 with `{"error": "..."}` naming the setting). The new file goes
through the checks above; if they pass, the daemon builds the new sinks, connectors and store,
then stops the old ones as on SIGTERM (running polls finish their transaction) and starts again
with the new config: every source is polled at once, and the health endpoints move if
`health.listen` changed. Metrics carry over (counters keep counting); incidents, the outbox and
the silences added with `silence add` live in the state database and are untouched. A file that fails a check is refused with one log line
(`reload refused, the running config stays`, with the reason) and the running config stays.

```sh
kill -HUP "$(pgrep -f 'aadsts-enricher run')"
curl -fsS -X POST -H "Authorization: Bearer $HEALTH_TOKEN" http://127.0.0.1:9464/-/reload
```

## Minimal file


```yaml
tenants:
  - name: contoso
    tenant_id: ${AZURE_TENANT_ID}
    credential:
      type: client_secret
      client_id: ${AZURE_CLIENT_ID}
      client_secret: ${AZURE_CLIENT_SECRET}
    sources:
      - {type: powerbi, mode: admin}
sinks:
  - name: slack
    type: slack
    webhook_url: "${SLACK_WEBHOOK_URL}"   # quoted or not: the same string
```

Inside braces or brackets (`{type: slack, webhook_url: "${SLACK_WEBHOOK_URL}"}`) a `${...}` value
must be quoted, because YAML reads the braces as structure.
"""
