"""``type: teams``: an Adaptive Card 1.4 posted to a Teams Workflows webhook.

Office 365 connectors are retired, so only the Workflows envelope is sent: ``{"type": "message",
"attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
"content": card}]}``; the template flow fails on a bare card. The whole envelope must stay under
28 KB: a Workflow answers 202 before it finds out a card is too big, so the limit is enforced here
by shortening the longest texts (with a marker) until the UTF-8 JSON fits. Any 2xx is success.

TextBlocks render a markdown subset, so untrusted text is backslash-escaped; only ``Action.OpenUrl``
buttons with checked http(s) URLs carry links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enricher.config import TeamsSinkConfig
from enricher.core.wording import counted
from enricher.notification import Notification
from enricher.sinks import limits, text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import HttpPoster, check_url, destination_key, json_body, url_secrets
from enricher.sinks.templates import RenderError, TemplateSpec, load_template

CARD = "application/vnd.microsoft.card.adaptive"
NOTES = {404: "the Workflow is deleted or turned off", 401: "the Workflow needs a different trigger setting"}
_COLOURS = {"critical": "Attention", "high": "Attention", "medium": "Warning"}


def block(raw: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text.escape_markdown(raw), "wrap": True, **style}


def heading(label: str) -> dict[str, Any]:
    return {"type": "TextBlock", "text": f"**{label}**", "wrap": True, "spacing": "Medium"}


def facts(n: Notification) -> list[dict[str, str]]:
    pairs = [
        ("Severity", n.severity.upper()),
        ("Code", f"AADSTS{n.code}"),
        ("Source", n.source),
    ]
    if len(n.items) == 1:
        pairs += [
            ("Workspace", n.item.container_name),
            (n.item.item_type.capitalize() or "Item", n.item.item_name),
        ]
    pairs += [
        ("Failures", str(n.count)),
        ("First seen", text.fmt_time(n.first_seen)),
        ("Last seen", text.fmt_time(n.last_seen)),
    ]
    return [
        {
            "title": text.escape_markdown(text.one_line(label)),
            "value": text.escape_markdown(text.one_line(value)),
        }
        for label, value in pairs
    ]


def card(n: Notification) -> dict[str, Any]:
    colour = "Good" if n.kind == "resolved" else _COLOURS.get(n.severity, "Default")
    title = f"{text.icon(n)} {text.title_line(n)}"
    body: list[dict[str, Any]] = [
        block(title, weight="Bolder", size="Large", color=colour),
        {"type": "FactSet", "facts": facts(n)},
    ]
    if len(n.items) > 1:
        body += [heading(counted(text.items_count(n), "item")), block("\n\n".join(text.items_lines(n)))]
    for note in (text.lasted_line(n), text.schedule_line(n), *text.family_lines(n)):
        if note:
            body.append(block(note, weight="Bolder"))
    if n.cause or n.summary:
        body += [heading("Cause"), block(" ".join(text.one_line(t) for t in (n.cause, n.summary) if t))]
    if n.fixes and n.kind != "resolved":
        body.append(heading("How to fix"))
        for step in text.fix_steps(n):
            body.append(block(f"{step.number}. {step.text}"))
            if step.command:
                body.append(block(text.one_line(step.command), fontType="Monospace", spacing="None"))
    if n.excerpt:
        body += [heading("Error message"), block(text.excerpt(n), fontType="Monospace", isSubtle=True)]
    ids = [{"title": label, "value": text.escape_markdown(value)} for label, value in text.id_pairs(n)]
    body.append({"type": "FactSet", "facts": ids, "spacing": "Medium"})
    actions = [
        {"type": "Action.OpenUrl", "title": label, "url": url}
        for label, url in text.link_pairs(n)[: limits.TEAMS_ACTIONS]
    ]
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
        "actions": actions,
    }


def envelope(content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": CARD, "contentUrl": None, "content": content}]}


def _texts(node: Any) -> list[tuple[dict[str, Any], str]]:
    """Every (object, key) holding displayed text in a card: TextBlock ``text`` and fact ``value``."""
    found: list[tuple[dict[str, Any], str]] = []
    if isinstance(node, dict):
        for key in ("text", "value", "title"):
            if isinstance(node.get(key), str) and node.get("type") not in {"Action.OpenUrl"}:
                found.append((node, key))
        for value in node.values():
            found += _texts(value)
    elif isinstance(node, list):
        for value in node:
            found += _texts(value)
    return found


def shrink(message: dict[str, Any], limit: int = limits.TEAMS_BYTES) -> dict[str, Any]:
    """Shorten the longest texts (with the marker) until the JSON envelope is at most ``limit`` bytes."""
    for _ in range(500):
        over = len(json_body(message)) - limit
        if over <= 0:
            return message
        holder, key = max(_texts(message), key=lambda hk: len(hk[0][hk[1]]), default=(None, ""))
        if holder is None or len(holder[key]) <= 2 * len(limits.MARKER):
            break
        current = holder[key]
        holder[key] = text.truncate(
            current, max(len(limits.MARKER), min(len(current) // 2, len(current) - over))
        )
    content = message["attachments"][0]["content"]
    body = content.get("body") if isinstance(content.get("body"), list) else []
    dropped = False
    while len(body) > 1 and len(json_body(message)) > limit - 200:
        body.pop()
        dropped = True
    if dropped:
        body.append(block(limits.MARKER))
    if len(json_body(message)) > limit:
        content["actions"] = []
    return message


def check_message(value: object) -> None:
    """A template renders either the bare AdaptiveCard or the whole message envelope."""
    if not isinstance(value, dict):
        raise ValueError("a Teams template must render a JSON object")
    if value.get("type") == "AdaptiveCard":
        return
    attachments = value.get("attachments")
    if value.get("type") != "message" or not isinstance(attachments, list) or not attachments:
        raise ValueError("a Teams template must render an AdaptiveCard or a message with attachments")
    if not isinstance(attachments[0], dict) or not isinstance(attachments[0].get("content"), dict):
        raise ValueError("attachments[0].content must be the AdaptiveCard object")


#: what a ``template:`` for this sink must render (checked by check-config and at start)
TEMPLATE = TemplateSpec("json", check_message)


class TeamsSink:
    def __init__(self, config: TeamsSinkConfig, config_dir: Path = Path(".")) -> None:
        self.name = config.name
        self.rate = config.rate_per_second
        self.send_resolved = config.send_resolved
        self._url = config.webhook_url.get_secret_value()
        check_url(self._url, sink=config.name, field="webhook_url", secret=True)
        self.destination = destination_key("teams", self._url)
        self.http = HttpPoster.for_sink(config, config_dir, url_secrets(self._url))
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEMPLATE)

    def __repr__(self) -> str:
        return f"TeamsSink(name={self.name!r})"

    def render(self, n: Notification) -> dict[str, Any]:
        n = bounded(n, BOUNDS["teams"])
        if self.template is None:
            return shrink(envelope(card(n)))
        value = self.template.render_json(n)
        return shrink(envelope(value) if value.get("type") == "AdaptiveCard" else value)

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            body = json_body(self.render(notification))
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        return self.http.send(self._url, body, {"Content-Type": "application/json"}, note=NOTES)

    def close(self) -> None:
        self.http.close()
