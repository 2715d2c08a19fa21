"""The one place that turns sink config into sink objects: one ``match`` over the config classes.

No discovery and no naming conventions: a new sink type is a config class, a module and one
``case`` here. The OpenTelemetry sink is imported only when configured, because the SDK is slow to
import and most installations do not use it. ``build_sinks`` builds all or nothing: when one sink
fails to build, the ones already built are closed and the ``ConfigError`` propagates.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from enricher import config as cfg
from enricher.sinks.alertmanager import AlertmanagerSink
from enricher.sinks.base import Sink
from enricher.sinks.console import ConsoleSink
from enricher.sinks.email import EmailSink
from enricher.sinks.jsonl import JsonlSink
from enricher.sinks.pagerduty import PagerDutySink
from enricher.sinks.slack import SlackSink
from enricher.sinks.teams import TeamsSink
from enricher.sinks.templates import TEXT, load_template
from enricher.sinks.webhook import WebhookSink

Stats = Callable[[], Mapping[str, Any]]


def build_sink(
    config: cfg.SinkConfig,
    config_dir: Path,
    *,
    stream: TextIO | None = None,
    stats: Stats | None = None,
    external_url: str = "http://127.0.0.1:9464",
    state_dir: Path | None = None,
) -> Sink:
    """The sink for one config entry. ``stream`` is for console sinks, ``stats`` for otel,
    ``external_url`` (our own address) and ``state_dir`` (its re-post list) for alertmanager."""
    match config:
        case cfg.ConsoleSinkConfig():
            return ConsoleSink(config, config_dir, stream=stream)
        case cfg.JsonlSinkConfig():
            return JsonlSink(config, config_dir)
        case cfg.SlackSinkConfig():
            return SlackSink(config, config_dir)
        case cfg.TeamsSinkConfig():
            return TeamsSink(config, config_dir)
        case cfg.PagerDutySinkConfig():
            return PagerDutySink(config, config_dir)
        case cfg.WebhookSinkConfig():
            return WebhookSink(config, config_dir)
        case cfg.EmailSinkConfig():
            return EmailSink(config, config_dir)
        case cfg.AlertmanagerSinkConfig():
            return AlertmanagerSink(config, config_dir, external_url=external_url, state_dir=state_dir)
        case cfg.OtelSinkConfig():
            from enricher.sinks.otel import OtelSink

            return OtelSink(config, config_dir, stats=stats)
    raise TypeError(f"no sink for {type(config).__name__}")  # pragma: no cover - the union is exhaustive


def own_url(listen: str) -> str:
    """Our address for links in alerts when no ``external_url`` is set: ``health.listen``, with a
    wildcard host replaced by this machine's name (``0.0.0.0`` is not an address anyone can open)."""
    host, _, port = listen.rpartition(":")
    if host in ("0.0.0.0", "[::]", ""):
        host = socket.getfqdn()
    return f"http://{host}:{port}"


def build_sinks(
    config: cfg.Config,
    config_dir: Path,
    *,
    stream: TextIO | None = None,
    stats: Stats | None = None,
) -> dict[str, Sink]:
    """Every configured sink by name, in config order."""
    built: dict[str, Sink] = {}
    ours = config.health.external_url or own_url(config.health.listen)
    state = Path(config.state.path)
    try:
        for sink_config in config.sinks:
            built[sink_config.name] = build_sink(
                sink_config, config_dir, stream=stream, stats=stats, external_url=ours, state_dir=state
            )
    except BaseException:
        for sink in built.values():
            sink.close()
        raise
    return built


def check_sinks(config: cfg.Config, config_dir: Path) -> None:
    """Everything building the sinks would find wrong, found now: templates render, CA files exist.

    Every sink but OpenTelemetry is built and closed again (their constructors touch no network);
    the OTel sink starts exporter threads when built, so only its template is checked.
    """
    for sink_config in config.sinks:
        if isinstance(sink_config, cfg.OtelSinkConfig):
            load_template(sink_config.template, config_dir, sink=sink_config.name, spec=TEXT)
        else:
            build_sink(sink_config, config_dir, stream=io.StringIO()).close()
