"""A config the daemon accepts is a config that runs: the checks that need files, done up front.

The config model (``enricher.config``) checks everything that is in the file itself: types, names,
time zones, regular expressions, times. What depends on other files is checked here, by doing what
the daemon does at start without starting it: each tenant's credential is built (certificate,
token and CA files exist; a certificate parses), each sink is built (templates load and render the
sample notification, CA bundles exist) and the knowledge-base overrides load. ``check-config``,
``run``, ``once``, ``silence`` and a reload all load their config through :func:`load_checked`,
so none of them accepts a file that another would refuse (``test-sink`` builds only its one sink).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from connectors.auth import make_credential
from enricher.config import Config, TenantConfig
from enricher.config_load import load_config
from enricher.core.knowledge import load_knowledge
from enricher.errors import ConfigError, KnowledgeError
from enricher.sinks.registry import check_sinks
from enricher.wiring.build import credential_spec, endpoints_of, secrets_of


def load_checked(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """The validated config at ``path``, or a one-line ConfigError naming the setting."""
    config = load_config(path, environ)
    check_files(config, Path(path).resolve().parent)
    return config


def check_files(config: Config, config_dir: Path) -> None:
    for i, tenant in enumerate(config.tenants):
        check_tenant(tenant, f"tenants[{i}]")
    check_sinks(config, config_dir)
    check_state(config)
    if config.knowledge_dir:
        try:
            load_knowledge([Path(config_dir, config.knowledge_dir)])
        except KnowledgeError as exc:
            raise ConfigError(f"knowledge_dir: {' '.join(str(exc).split())}") from exc


def check_state(config: Config) -> None:
    """A PostgreSQL URL parses as libpq parses it (options and all); connecting is left to ``run``."""
    if config.state.url is None:
        return
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from enricher.wiring.build import postgres_conninfo

    try:
        conninfo_to_dict(postgres_conninfo(config.state))
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        for secret in secrets_of(config):  # libpq quotes the part it could not read
            reason = reason.replace(secret, "***")
        raise ConfigError(f"state.url: not a usable PostgreSQL URL: {reason}") from None


def check_tenant(tenant: TenantConfig, where: str) -> None:
    """Files the tenant names exist, and its credential can be built (a certificate is parsed).

    Paths are used as written, so a relative one is relative to the working directory, as at run
    time. Building a credential contacts nobody; signing in is left to ``once``.
    """
    files = {
        "credential.certificate_path": tenant.credential.certificate_path,
        "credential.token_file": tenant.credential.token_file,
        "ca_bundle": tenant.ca_bundle,
    }
    for name, value in files.items():
        if value is not None and not Path(value).is_file():
            raise ConfigError(f"{where}.{name}: no such file: {value}")
    try:
        make_credential(credential_spec(tenant, endpoints_of(tenant)))
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"{where}.credential: cannot be used: {reason}") from exc
