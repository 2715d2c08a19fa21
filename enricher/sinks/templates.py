"""Optional per-sink Jinja2 templates from the config directory, checked when the sink is built.

A template replaces a sink's built-in rendering (``template: slack.json.j2`` next to the config
file). It runs in Jinja2's ``SandboxedEnvironment`` with ``StrictUndefined``: a config file is
trusted less than code, and a typo in a field name should fail loudly. Every template is rendered
once at build time with the sample notification, so a syntax error, an unknown field or (for JSON
destinations) output that is not the JSON the destination needs is a ``ConfigError`` when the
daemon starts, not a dead letter at three in the morning. E-mail HTML templates autoescape.

Template context: ``n`` (the :class:`Notification`), ``data`` (``n.to_dict()``), ``status``, the
text helpers (``title_line(n)``, ``seen_line(n)``, ``fix_steps(n)``, ``link_pairs(n)``,
``id_pairs(n)``, ...) and the filters ``mrkdwn``, ``markdown``, ``one_line``, ``clip(limit)`` and
Jinja's own ``tojson`` (use it for every value inside a JSON template).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import htmlsafe_json_dumps

from enricher.errors import ConfigError
from enricher.notification import Notification, describe_duration
from enricher.sinks import text
from enricher.sinks.sample import make_test_notification

Output = Literal["text", "json", "html"]
#: Raises ValueError when a rendered JSON value is not what the destination accepts.
Check = Callable[[Any], None]

_HELPERS: dict[str, Any] = {
    name: getattr(text, name)
    for name in (
        "title_line",
        "item_line",
        "items_lines",
        "items_count",
        "family_lines",
        "seen_line",
        "lasted_line",
        "schedule_line",
        "fix_steps",
        "id_pairs",
        "link_pairs",
        "excerpt",
        "fmt_time",
        "plain_text",
        "state_label",
        "icon",
    )
}


def _tojson(value: Any, indent: int | None = None) -> Any:
    """Jinja's ``tojson``, but an undefined value is an error naming the field, not "not serializable"."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError here
    return htmlsafe_json_dumps(value, indent=indent)


_FILTERS: dict[str, Any] = {
    "tojson": _tojson,
    "mrkdwn": text.escape_mrkdwn,
    "markdown": text.escape_markdown,
    "one_line": text.one_line,
    "clip": lambda value, limit: text.truncate(str(value), int(limit)),
}


@dataclass(frozen=True)
class TemplateSpec:
    """What a sink's template must produce: the output kind and, for JSON, a check of the value."""

    output: Output
    check: Check | None = None


TEXT = TemplateSpec("text")
HTML = TemplateSpec("html")


class RenderError(Exception):
    """A template could not render one notification; the message is safe to show."""


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=autoescape, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    env.globals.update(_HELPERS, describe_duration=describe_duration)
    env.filters.update(_FILTERS)
    return env


class SinkTemplate:
    """One compiled template and how its output is checked."""

    def __init__(self, source: str, *, output: Output, check: Check | None = None, origin: str = "") -> None:
        self.output = output
        self.check = check
        self.origin = origin
        self._template = _environment(output == "html").from_string(source)

    def render(self, n: Notification) -> str:
        try:
            return self._template.render(n=n, data=n.to_dict(), status=n.status)
        except jinja2.TemplateError as exc:
            raise RenderError(f"template {self.origin}: {type(exc).__name__}: {exc}") from exc
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise RenderError(f"template {self.origin}: {type(exc).__name__}: {exc}") from exc

    def render_json(self, n: Notification) -> Any:
        """The rendered output parsed as JSON and checked; :class:`RenderError` otherwise."""
        rendered = self.render(n)
        try:
            value = json.loads(rendered)
        except ValueError as exc:
            raise RenderError(f"template {self.origin} did not render valid JSON: {exc}") from exc
        if self.check is not None:
            try:
                self.check(value)
            except ValueError as exc:
                raise RenderError(f"template {self.origin}: {exc}") from exc
        return value


def load_template(
    path: str | None,
    config_dir: Path,
    *,
    sink: str,
    spec: TemplateSpec,
) -> SinkTemplate | None:
    """The sink's template, compiled and test-rendered, or None when the sink has none.

    ``sink`` names the sink in messages (``sinks[NAME].template``; ``check-config`` passes the index).
    """
    if path is None:
        return None
    file = Path(path) if Path(path).is_absolute() else config_dir / path
    where = f"sinks[{sink}].template"
    try:
        source = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {file}: {exc.strerror or exc}") from exc
    try:
        template = SinkTemplate(source, output=spec.output, check=spec.check, origin=file.name)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{where}: {file.name} line {exc.lineno}: {exc.message}") from exc
    sample = make_test_notification(datetime(2025, 1, 1, tzinfo=UTC))
    try:
        if spec.output == "json":
            template.render_json(sample)
        else:
            template.render(sample)
    except RenderError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    return template


def require_object(*keys: str) -> Check:
    """A check: the JSON value is an object that has at least one of ``keys`` (any when empty)."""

    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise ValueError(f"must render a JSON object, not {type(value).__name__}")
        if keys and not any(k in value for k in keys):
            raise ValueError(f"the JSON object needs one of: {', '.join(keys)}")

    return check
