"""Builds the daemon's parts from a validated Config: the one place config meets constructors.

Connectors get their HTTP client and credentials here (one of each per tenant); sinks come from the
sink registry; nothing below this module reads the config object.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from connectors.adf import ADFConnector, ADFOptions, FactoryRef
from connectors.auth import CredentialSpec, TokenProvider, make_credential
from connectors.base import Connector, Identity, NameFilter
from connectors.clouds import CLOUDS, Endpoints
from connectors.fabric import FabricConnector, FabricOptions
from connectors.graph import GraphClient
from connectors.http import AzureHttp, RetryPolicy
from connectors.pipeline_runs import Windowing
from connectors.powerbi import PowerBIConnector, PowerBIOptions
from connectors.synapse import SynapseConnector, SynapseOptions, SynapseWorkspace
from connectors.trust import verify_for
from enricher import config as cfg
from enricher.core.incidents import Policy
from enricher.errors import ConfigError
from enricher.notification import ItemRef
from enricher.store.base import Store
from enricher.wiring.expiry import CredentialWatch

#: a tenant id as a GUID (a linked service may name its tenant by domain instead)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


@dataclass(frozen=True)
class SourceJob:
    """One source of one tenant. ``name`` (``tenant/source``, the source's configured name, which is
    its type unless named) keys its cursor and heartbeat; metrics label ``tenant`` and ``source``
    separately."""

    name: str
    connector: Connector
    interval: timedelta

    @property
    def tenant(self) -> str:
        return self.name.partition("/")[0]

    @property
    def source(self) -> str:
        return self.name.partition("/")[2]


@dataclass
class Tenant:
    config: cfg.TenantConfig
    endpoints: Endpoints
    http: AzureHttp
    jobs: list[SourceJob]
    watch: CredentialWatch | None = None


def endpoints_of(tenant: cfg.TenantConfig) -> Endpoints:
    return CLOUDS[tenant.cloud].with_overrides(**tenant.endpoints.model_dump())


def credential_spec(
    tenant: cfg.TenantConfig, endpoints: Endpoints, verify: str | bool = True
) -> CredentialSpec:
    c = tenant.credential
    return CredentialSpec(
        kind=c.type,
        tenant_id=tenant.tenant_id,
        client_id=c.client_id,
        client_secret=c.client_secret.get_secret_value() if c.client_secret else None,
        certificate_path=c.certificate_path,
        certificate_password=c.certificate_password.get_secret_value() if c.certificate_password else None,
        token_file=c.token_file,
        authority=endpoints.authority,
        verify=verify if isinstance(verify, str) else None,
    )


def build_tenant(
    tenant: cfg.TenantConfig,
    sleep: Callable[[float], None],
    workers: int = 8,
    stop: threading.Event | None = None,
) -> Tenant:
    """The tenant's HTTP client, credential and connectors; ``stop`` ends every network wait."""
    endpoints = endpoints_of(tenant)
    try:
        verify = verify_for(tenant.ca_bundle, tenant.ca_bundle_mode)
    except OSError as exc:
        raise ConfigError(
            f"tenants[name={tenant.name}].ca_bundle: cannot use {tenant.ca_bundle} ({exc.filename or tenant.ca_bundle}: {exc.strerror or exc})"
        ) from exc
    policy = RetryPolicy()
    tokens = TokenProvider(
        make_credential(credential_spec(tenant, endpoints, verify), stop=stop, max_wait=policy.max_wait)
    )
    http = AzureHttp(tokens, verify=verify, policy=policy, per_host=workers, sleep=sleep, stop=stop)
    identity = Identity(tenant.name, tenant.tenant_id, tenant.credential.client_id or "managed-identity")
    jobs = [
        SourceJob(
            f"{tenant.name}/{s.source_name}",
            _connector(s, http, endpoints, identity, workers),
            s.interval,
        )
        for s in tenant.sources
        if s.enabled
    ]
    expiry = tenant.credential_expiry
    watch = (
        CredentialWatch(
            tenant.name,
            GraphClient(http, endpoints),
            tenant.credential.client_id,
            tuple(expiry.windows),
            expiry.interval,
            principals=_linked_principals(tenant, [j.connector for j in jobs]),
        )
        if expiry.enabled
        else None
    )
    return Tenant(tenant, endpoints, http, jobs, watch)


def _linked_principals(
    tenant: cfg.TenantConfig, connectors: list[Connector]
) -> Callable[[], list[tuple[str, ItemRef]]] | None:
    """The apps the tenant's ADF and Synapse linked services sign in as, each with its linked
    service as the dependent item; a principal of another tenant (a GUID not ours) is not ours."""
    readers = [c for c in connectors if isinstance(c, ADFConnector | SynapseConnector)]
    if not readers:
        return None
    ours = tenant.tenant_id.lower()

    def listed() -> list[tuple[str, ItemRef]]:
        found = []
        for connector in readers:
            for p in connector.service_principals():
                if p.tenant and _GUID.match(p.tenant) and p.tenant.lower() != ours:
                    continue
                item = ItemRef(
                    source=str(p.source),
                    container_name=p.container_name,
                    item_name=p.linked_service,
                    item_type="LinkedService",
                    item_id=p.linked_service,
                    container_id=p.container_id,
                )
                found.append((p.client_id, item))
        return found

    return listed


def _names(f: cfg.NameFilterConfig) -> NameFilter:
    return NameFilter(tuple(f.include), tuple(f.exclude))


def _connector(s: cfg.SourceConfig, http: AzureHttp, ep: Endpoints, who: Identity, workers: int) -> Connector:
    match s:
        case cfg.PowerBISource():
            options = PowerBIOptions(
                s.mode,
                _names(s.workspaces),
                s.history_top,
                s.dataflows,
                discovery_interval=s.discovery_interval,
                workers=workers,
            )
            return PowerBIConnector(http, ep, who, options, s.source_name)
        case cfg.FabricSource():
            return FabricConnector(
                http,
                ep,
                who,
                FabricOptions(tuple(s.item_types), _names(s.workspaces), s.discovery_interval, workers),
                s.source_name,
            )
        case cfg.ADFSource():
            factories = tuple(FactoryRef(f.subscription_id, f.resource_group, f.name) for f in s.factories)
            windowing = Windowing(s.overlap, s.lookback, workers=workers)
            return ADFConnector(
                http,
                ep,
                who,
                ADFOptions(
                    tuple(s.subscriptions), factories, _names(s.names), windowing, s.discovery_interval
                ),
                s.source_name,
            )
        case cfg.SynapseSource():
            spaces = tuple(
                SynapseWorkspace(w.name, w.endpoint, w.subscription_id, w.resource_group)
                for w in s.workspaces
            )
            return SynapseConnector(
                http,
                ep,
                who,
                SynapseOptions(spaces, Windowing(s.overlap, s.lookback, workers=workers)),
                s.source_name,
            )


def policy_of(c: cfg.IncidentConfig) -> Policy:
    return Policy(
        tuple(c.group_by),
        c.group_wait,
        c.group_interval,
        c.repeat_interval,
        c.flapping.changes,
        c.flapping.window,
    )


def secrets_of(config: cfg.Config) -> list[str]:
    """Every secret value in the config, so logs can scrub them."""
    found: list[str] = []

    def walk(value: object) -> None:
        if hasattr(value, "get_secret_value"):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, tuple | list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    walk(config)
    if config.state.url is not None:  # the password alone, as a driver's message could quote it
        from urllib.parse import unquote, urlsplit

        found.append(unquote(urlsplit(config.state.url.get_secret_value()).password or ""))
    return [s for s in found if s]


def state_db(config: cfg.Config) -> Path:
    return Path(config.state.path) / "state.db"


def open_store(config: cfg.Config) -> Store:
    """The configured store: PostgreSQL when ``state.url`` is set, else SQLite under ``state.path``.

    psycopg is imported only for a PostgreSQL URL, so the SQLite path starts as fast as before.
    """
    if config.state.url is not None:
        from enricher.store.postgres import PostgresStore

        return PostgresStore(postgres_conninfo(config.state))
    from enricher.store.sqlite import SQLiteStore

    return SQLiteStore(state_db(config))


def postgres_conninfo(state: cfg.StateConfig) -> str:
    """``state.url`` with ``state.password`` merged in (libpq's own merge: no encoding to get wrong)."""
    from psycopg.conninfo import make_conninfo

    assert state.url is not None
    password = state.password.get_secret_value() if state.password else None
    return make_conninfo(state.url.get_secret_value(), **({"password": password} if password else {}))


def state_where(config: cfg.Config) -> str:
    """Where the state lives, for messages (a URL without its credentials)."""
    if config.state.url is not None:
        from enricher.store.postgres import describe

        return f"PostgreSQL {describe(config.state.url.get_secret_value())}"
    return config.state.path
