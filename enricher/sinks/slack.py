"""``type: slack``: an incoming webhook message in Block Kit, with a one-line ``text`` fallback.

Layout (shared/reference/sinks.md section 2): header, a fields section (severity, code, source,
workspace, item, counts), cause, how to fix, the raw error in a code block, a context block with the
IDs and an actions block of URL buttons. Every limit (50 blocks, 150-char header, 3000-char
sections, 10 fields, 75-char button labels) is enforced before sending, with a visible marker.

Untrusted text (item names, the error sentence, IDs filled into fix steps) never reaches Slack as
markup: ``&<>`` are escaped everywhere (no ``<!channel>``, ``<@U…>`` or ``<url|label>`` injection),
every mrkdwn object is ``verbatim`` (no auto-linking, no bare ``@here``), item names travel in
``plain_text`` objects and the error sentence in a code block. The only links are the buttons and
the ``<url|label>`` pairs we build ourselves from checked http(s) URLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from enricher.config import SlackSinkConfig
from enricher.core.wording import counted
from enricher.notification import Notification
from enricher.sinks import limits, text
from enricher.sinks.base import DeliveryResult
from enricher.sinks.bounds import BOUNDS, bounded
from enricher.sinks.http import HttpPoster, check_url, destination_key, json_body, url_secrets
from enricher.sinks.templates import RenderError, TemplateSpec, load_template, require_object

_BROKEN = "the webhook is revoked or its channel is gone: create a new webhook URL"
NOTES = {403: _BROKEN, 404: _BROKEN, 410: _BROKEN, 400: "Slack rejected the message"}


def mrkdwn(raw: str, limit: int = limits.SLACK_SECTION) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text.fit(raw, limit, text.escape_mrkdwn), "verbatim": True}


def plain(raw: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text.fit(raw, limit, text.escape_mrkdwn), "emoji": True}


def labelled(label: str, raw: str, limit: int = limits.SLACK_SECTION) -> dict[str, Any]:
    """``*Label*`` then escaped text, as one verbatim mrkdwn object within ``limit``."""
    head = f"*{label}*\n"
    body = text.fit(raw, limit - len(head), text.escape_mrkdwn)
    return {"type": "mrkdwn", "text": head + body, "verbatim": True}


def code(raw: str) -> str:
    """Text for a code span or block: backticks replaced, so it cannot close the span early."""
    return raw.replace("`", "ˋ")


def fields(n: Notification) -> list[dict[str, Any]]:
    found = [
        labelled("Severity", n.severity.upper(), limits.SLACK_FIELD),
        labelled("Code", f"AADSTS{n.code}", limits.SLACK_FIELD),
        labelled("Source", n.source, limits.SLACK_FIELD),
        labelled("Seen", f"{n.count} failure{'s' if n.count != 1 else ''}", limits.SLACK_FIELD),
        labelled("First seen", text.fmt_time(n.first_seen), limits.SLACK_FIELD),
        labelled("Last seen", text.fmt_time(n.last_seen), limits.SLACK_FIELD),
    ]
    if len(n.items) == 1:
        found.append(plain(f"Workspace: {text.one_line(n.item.container_name)}", limits.SLACK_FIELD))
        item = f"{n.item.item_type.capitalize() or 'Item'}: {text.one_line(n.item.item_name)}"
        found.append(plain(item, limits.SLACK_FIELD))
    return found[: limits.SLACK_FIELDS]


def fix_text(n: Notification) -> str:
    """Numbered steps, commands in code spans; steps that do not fit are counted, not cut in half."""
    head = "*How to fix*\n"
    room = limits.SLACK_SECTION - len(head) - 40  # keeps space for the "more steps" line
    steps = text.fix_steps(n)
    lines: list[str] = []
    for index, step in enumerate(steps):
        line = f"{step.number}. {text.fit(step.text, 1000, text.escape_mrkdwn)}"
        if step.command:
            line += f"\n`{text.fit(code(text.one_line(step.command)), 600, text.escape_mrkdwn)}`"
        if len("\n".join([*lines, line])) > room:
            lines.append(f"… {len(steps) - index} more step(s) not shown")
            break
        lines.append(line)
    return head + "\n".join(lines)


def blocks(n: Notification) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"{text.icon(n)} {text.title_line(n)}", limits.SLACK_HEADER)},
        {"type": "section", "fields": fields(n)},
    ]
    if len(n.items) > 1:
        listing = "\n".join(text.items_lines(n))
        out.append(
            {
                "type": "section",
                "text": plain(f"{counted(text.items_count(n), 'item')}\n{listing}", limits.SLACK_SECTION),
            }
        )
    notes = [line for line in (text.lasted_line(n), text.schedule_line(n), text.credentials_line(n)) if line]
    notes += text.family_lines(n)
    if notes:
        out.append({"type": "section", "text": mrkdwn("\n".join(notes))})
    if n.cause or n.summary:
        out.append(
            {
                "type": "section",
                "text": labelled("Cause", text.printable("\n".join(filter(None, [n.cause, n.summary])))),
            }
        )
    if n.fixes and n.kind != "resolved":
        # fix_text escapes piece by piece (the command spans are ours) and fits the section limit.
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": fix_text(n), "verbatim": True}})
    if n.excerpt:
        head, tail = "*Error message*\n```", "```"
        quoted = text.fit(
            code(text.excerpt(n)), limits.SLACK_SECTION - len(head) - len(tail), text.escape_mrkdwn
        )
        out.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": head + quoted + tail, "verbatim": True}}
        )
    ids = [mrkdwn(f"{label}: {value}", 300) for label, value in text.id_pairs(n)]
    out.append({"type": "context", "elements": ids[: limits.SLACK_CONTEXT_ELEMENTS]})
    buttons = [
        {
            "type": "button",
            "text": plain(label, limits.SLACK_BUTTON_TEXT),
            "url": url,
            "action_id": f"link-{i}",
        }
        for i, (label, url) in enumerate(text.link_pairs(n))
        if len(url) <= limits.SLACK_BUTTON_URL
    ]
    if buttons:
        out.append({"type": "actions", "elements": buttons[: limits.SLACK_ACTIONS]})
    return out[: limits.SLACK_BLOCKS]


def payload(n: Notification) -> dict[str, Any]:
    """The whole message: ``text`` (notifications, screen readers) plus the blocks."""
    fallback = f"{text.icon(n)} {text.title_line(n)} ({n.severity}, {text.seen_line(n)})"
    return {"text": text.fit(fallback, limits.SLACK_TEXT, text.escape_mrkdwn), "blocks": blocks(n)}


def clamp(message: dict[str, Any]) -> dict[str, Any]:
    """A templated message cut to Slack's message-level limits (the template owns the rest)."""
    if isinstance(message.get("text"), str):
        message["text"] = text.truncate(message["text"], limits.SLACK_TEXT)
    if isinstance(message.get("blocks"), list):
        message["blocks"] = message["blocks"][: limits.SLACK_BLOCKS]
    return message


#: what a ``template:`` for this sink must render (checked by check-config and at start)
TEMPLATE = TemplateSpec("json", require_object("text", "blocks"))


class SlackSink:
    def __init__(self, config: SlackSinkConfig, config_dir: Path = Path(".")) -> None:
        self.name = config.name
        self.rate = config.rate_per_second
        self.send_resolved = config.send_resolved
        self._url = config.webhook_url.get_secret_value()
        check_url(self._url, sink=config.name, field="webhook_url", secret=True)
        self.destination = destination_key("slack", self._url)
        self.http = HttpPoster.for_sink(config, config_dir, url_secrets(self._url))
        self.template = load_template(config.template, config_dir, sink=config.name, spec=TEMPLATE)

    def __repr__(self) -> str:
        return f"SlackSink(name={self.name!r})"

    def render(self, n: Notification) -> dict[str, Any]:
        n = bounded(n, BOUNDS["slack"])
        return clamp(self.template.render_json(n)) if self.template is not None else payload(n)

    def send(self, notification: Notification) -> DeliveryResult:
        try:
            body = json_body(self.render(notification))
        except RenderError as exc:
            return DeliveryResult.fail(str(exc))
        return self.http.send(self._url, body, {"Content-Type": "application/json"}, note=NOTES)

    def close(self) -> None:
        self.http.close()
