"""``type: console``: one readable block per notification on a stream, or one JSON line (``format: json``).

The JSON line is a contract (the demo's ``--json`` output and scripts read it): at least
``incident, status, kind, severity, code, source, item, workspace, title, count, id``. Text from
outside is stripped of control characters first, so an error message cannot move the cursor or
recolour the terminal. Colour only with ``color: always``, or ``auto`` on a TTY without NO_COLOR.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any, TextIO

from enricher.config import ConsoleSinkConfig
from enricher.core.render import Style
from enricher.notification import Notification
from enricher.sinks import text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.templates import TEXT, RenderError, load_template

EXCERPT = 500
WIDTH = 100  # long sentences wrap; commands and URLs never do, so they still copy and paste


def json_line(n: Notification) -> dict[str, Any]:
    """The ``--json`` contract: one flat object per notification (plus ``signin`` once found)."""
    line = {
        "id": n.id,
        "incident": n.incident_id,
        "status": n.status,
        "kind": n.kind,
        "severity": n.severity,
        "code": n.code,
        "category": n.category,
        "source": n.source,
        "item": n.item.item_name if n.items else "",
        "workspace": n.item.container_name if n.items else "",
        "items": len(n.items),
        "title": n.title,
        "count": n.count,
        "first_seen": n.first_seen.isoformat(),
        "last_seen": n.last_seen.isoformat(),
        "correlation_id": n.correlation_id,
        "trace_id": n.trace_id,
    }
    if n.signin is not None:
        line["signin"] = n.signin
    if n.app_credentials is not None:
        line["app_credentials"] = n.app_credentials
    if n.credential is not None:  # credential_expiry: the app, the credential and every dependent item
        line |= {
            "app_id": n.app_id,
            "app_name": n.app_name,
            "credential": dataclasses.asdict(n.credential),
            "days_left": n.days_left,
            "items": [
                {"name": i.item_name, "type": i.item_type, "workspace": i.container_name, "source": i.source}
                for i in n.items
            ],
        }
    return line


def text_block(n: Notification, style: Style) -> str:
    """Severity, title, items, when, cause, numbered fixes with commands, error, links, IDs."""
    head = f"{text.state_label(n)} {style.severity(n.severity)} {style.heading(text.one_line(n.title))}"
    lines = [head]

    def row(label: str, value: str, wrap: bool = True) -> None:
        head = f"  {style.dim(label.ljust(9))} "
        body = (
            textwrap.wrap(value, WIDTH - 12, break_long_words=False, break_on_hyphens=False)
            if wrap
            else [value]
        )
        lines.append(head + (body[0] if body else ""))
        lines.extend(" " * 12 + more for more in body[1:])

    for item in text.items_lines(n):
        row("Item", item)
    row("Seen", text.seen_line(n))
    for extra in (
        text.lasted_line(n),
        text.schedule_line(n),
        text.credentials_line(n),
        *text.family_lines(n),
    ):
        if extra:
            row("", extra)
    if n.cause:
        row("Cause", text.one_line(n.cause))
    if n.fixes and n.kind != "resolved":
        lines.append(f"  {style.dim('Fix')}")
        for step in text.fix_steps(n):
            lines.extend(
                textwrap.wrap(
                    step.text,
                    WIDTH,
                    initial_indent=f"    {step.number}. ",
                    subsequent_indent=" " * 7,
                    break_on_hyphens=False,
                )
            )
            if step.command:
                lines.append(style.dim(f"       $ {text.one_line(step.command)}"))
    if n.excerpt:
        row("Error", text.one_line(text.excerpt(n, EXCERPT)))
    for label, url in text.link_pairs(n):
        row("Link", f"{label}: {url}", wrap=False)
    row("IDs", " · ".join(f"{label} {value}" for label, value in text.id_pairs(n)))
    return "\n".join(lines) + "\n"


class ConsoleSink:
    def __init__(
        self, config: ConsoleSinkConfig, config_dir: Path = Path("."), *, stream: TextIO | None = None
    ) -> None:
        self.name = config.name
        self.rate = 1000.0
        self.send_resolved = config.send_resolved
        self.format = config.format
        self.stream = stream if stream is not None else sys.stdout
        self.style = Style(self._colour(config.color))
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEXT)
        self._lock = threading.Lock()

    def _colour(self, setting: str) -> bool:
        if setting != "auto":
            return setting == "always"
        isatty = getattr(self.stream, "isatty", None)
        return "NO_COLOR" not in os.environ and bool(isatty and isatty())

    def render(self, n: Notification) -> str:
        n = bounded(n, BOUNDS["console"])
        if self.template is not None:
            return text.printable(self.template.render(n))
        if self.format == "json":
            return json.dumps(json_line(n), ensure_ascii=False) + "\n"
        return text_block(n, self.style) + "\n"

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            rendered = self.render(notification)
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        try:
            with self._lock:
                self.stream.write(rendered)
                self.stream.flush()
        except (OSError, ValueError) as exc:
            return DeliveryResult.fail(f"cannot write to the console: {type(exc).__name__}")
        return DeliveryResult.success("written")

    def close(self) -> None:
        """Nothing to release: the stream belongs to the caller."""
