"""Text pieces every sink shares: the wording of a notification, limits with a marker, escaping.

Wording lives here so Slack, Teams, e-mail and the console say the same thing in the same order:
title line, item, "first seen / count / last seen", cause, numbered fix steps, links, IDs, and on a
resolved notification how long it lasted. Escaping lives here because most of a notification is
text from outside (item names from the APIs, the raw error sentence): each destination's markup
characters are neutralised by the one function for that markup, and tests feed them hostile input.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from enricher.core.wording import counted
from enricher.notification import ItemRef, Notification, describe_duration
from enricher.sinks import limits

# C0 and C1 controls except tab and newline: ANSI escapes, carriage returns, bells.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"([\\*_\[\]])")
_URL_UNSAFE = {" ": "%20", '"': "%22", "<": "%3C", ">": "%3E", "|": "%7C", "`": "%60"}

ICONS = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
STATES = {"firing": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED", "flapping": "FLAPPING"}


def printable(text: str) -> str:
    """``text`` without control characters (a terminal escape in an error message stays inert)."""
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """``text`` on one line: every run of whitespace becomes one space."""
    return _SPACE.sub(" ", printable(text)).strip()


def truncate(text: str, limit: int, marker: str = limits.MARKER) -> str:
    """At most ``limit`` characters; a shortened text ends on a word boundary with a visible marker."""
    if len(text) <= limit:
        return text
    if limit <= len(marker):
        return text[:limit]
    keep = text[: limit - len(marker)]
    if not text[len(keep)].isspace():  # the cut falls inside a word: end at the word before it
        space = max(keep.rfind(" "), keep.rfind("\n"), keep.rfind("\t"))
        if space >= len(keep) // 2:  # a name without spaces is cut where it must be
            keep = keep[:space]
    return keep.rstrip() + marker


def escape_mrkdwn(text: str) -> str:
    """Slack mrkdwn: ``&<>`` become entities, so ``<!channel>``, ``<@U1>`` and ``<url|label>`` stay text.

    Bare ``@channel``/``@here`` get a zero-width space after the ``@`` so no client broadcasts them.
    """
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u200b\\1", escaped)


def escape_markdown(text: str) -> str:
    """Teams TextBlock markdown: a backslash before ``\\ * _ [ ]``, the characters of the subset
    TextBlocks render (emphasis and ``[label](url)`` links; no HTML, no code spans). Escaping more
    would litter the text, since some Teams clients show backslashes they do not need."""
    return _MARKDOWN.sub(r"\\\1", text)


def escape_html(text: str) -> str:
    return html.escape(text, quote=True)


def safe_url(url: str) -> str | None:
    """``url`` if it is an http(s) URL that cannot break out of link markup, else None."""
    url = url.strip()
    if not url or _CONTROL.search(url) or "\n" in url or "\t" in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    for char, code in _URL_UNSAFE.items():
        url = url.replace(char, code)
    return url


def fmt_time(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def state_label(n: Notification) -> str:
    return "TEST" if n.kind == "test" else STATES.get(n.kind, n.kind.upper())


def icon(n: Notification) -> str:
    if n.kind == "resolved":
        return "✅"
    if n.kind == "test":
        return "🧪"
    return ICONS.get(n.severity, "⚪")


def title_line(n: Notification) -> str:
    """``RESOLVED · AADSTS53003: Blocked by Conditional Access - Sales`` (one line, printable).

    A test notification's title already says ``[TEST]``, so it is used as it is."""
    if n.kind == "test":
        return one_line(n.title)
    return f"{state_label(n)} · {one_line(n.title)}"


def item_line(item: ItemRef) -> str:
    """``Sales (dataset) in Finance · powerbi``."""
    kind = f" ({one_line(item.item_type)})" if item.item_type else ""
    where = f" in {one_line(item.container_name)}" if item.container_name else ""
    return f"{one_line(item.item_name)}{kind}{where} · {item.source}"


def items_count(n: Notification) -> int:
    """How many items the message is about: a parent lists 20 of its failing children."""
    if n.children is not None and n.children_failing:
        return max(n.children_failing, len(n.items))
    return len(n.items)


def items_lines(n: Notification, limit: int = limits.ITEMS_LISTED) -> list[str]:
    lines = [item_line(i) for i in n.items[:limit]]
    shown = min(len(n.items), limit)
    if items_count(n) > shown:
        lines.append(f"… and {items_count(n) - shown} more")
    return lines


def family_lines(n: Notification, recovered: int = 5) -> list[str]:
    """A parent's family beyond the item list: where the failing items are, how many still fail,
    and which recovered when (the latest ``recovered``). Nothing for a message about one item."""
    if n.children is None:
        return []
    lines = []
    by_place = sorted(n.children_by_container.items(), key=lambda kv: (-kv[1], kv[0]))
    if by_place and n.kind != "resolved":
        shown = ", ".join(f"{one_line(name) or '(none)'} {count}" for name, count in by_place[:10])
        more = f", and {len(by_place) - 10} more" if len(by_place) > 10 else ""
        lines.append(f"Failing per workspace or factory: {shown}{more}")
    if n.children_failing is not None and n.kind != "resolved" and n.children_failing < n.children:
        lines.append(f"Still failing: {n.children_failing} of {counted(n.children, 'item')}")
    if n.recovered:
        latest = n.recovered[-recovered:]
        said = ", ".join(f"{one_line(r.get('item', ''))} {_when(r.get('at', ''))}" for r in latest)
        earlier = f" ({len(n.recovered) - len(latest)} earlier)" if len(n.recovered) > len(latest) else ""
        lines.append(f"Recovered: {said}{earlier}")
    return lines


def _when(at: str) -> str:
    try:
        return fmt_time(datetime.fromisoformat(at))
    except ValueError:
        return one_line(at)


def seen_line(n: Notification) -> str:
    if n.credential is not None:  # a forecast: nothing has failed yet
        return f"checked {fmt_time(n.created_at)} · ends {n.credential.expires_at.replace('T', ' ')[:16]} UTC"
    times = counted(n.count, "failure")
    return f"first seen {fmt_time(n.first_seen)} · {times} · last seen {fmt_time(n.last_seen)}"


def lasted_line(n: Notification) -> str | None:
    if n.kind != "resolved":
        return None
    if n.duration is None:
        return "Resolved: the last run succeeded."
    return f"Resolved: the last run succeeded; the problem lasted {describe_duration(n.duration)}."


def schedule_line(n: Notification) -> str | None:
    """Power BI disables a refresh schedule after repeated failures: say how close that is."""
    if n.schedule_failures_left is None or n.kind == "resolved":
        return None
    streak = counted(n.consecutive_failures, "consecutive failure") if n.consecutive_failures else "Failures"
    if n.schedule_failures_left == 0:
        return f"{streak}: Power BI has disabled the refresh schedule."
    return f"{streak}: Power BI disables the schedule after {n.schedule_failures_left} more."


@dataclass(frozen=True)
class Step:
    number: int
    text: str
    command: str | None


def credentials_line(n: Notification) -> str | None:
    """Which of the app's credentials expired, or which exist (7000222, 700027, 7000215)."""
    facts = n.app_credentials
    return one_line(str(facts.get("note") or "")) or None if facts else None


def fix_steps(n: Notification) -> list[Step]:
    return [
        Step(i, truncate(one_line(f.step), limits.STEP), printable(f.command).strip() if f.command else None)
        for i, f in enumerate(n.fixes, 1)
    ]


def id_pairs(n: Notification) -> list[tuple[str, str]]:
    """The identifiers a support case needs, in the order they are asked for."""
    pairs = [
        ("Correlation ID", n.correlation_id),
        ("Trace ID", n.trace_id),
        ("Error time", n.error_timestamp),
        ("Incident", n.incident_id),
        ("Notification", n.id),
    ]
    return [(label, one_line(value)) for label, value in pairs if value]


def link_pairs(n: Notification) -> list[tuple[str, str]]:
    """(label, url) for the notification's links and the items' own pages; unsafe URLs dropped."""
    found: list[tuple[str, str]] = []
    candidates = [(link.label, link.url) for link in n.links]
    candidates += [(f"Open {i.item_name}", i.url) for i in n.items[: limits.ITEMS_LISTED] if i.url]
    for label, url in candidates:
        safe = safe_url(url)
        if safe and safe not in {u for _, u in found}:
            found.append((one_line(label) or safe, safe))
    return found


def excerpt(n: Notification, limit: int = limits.EXCERPT) -> str:
    return truncate(printable(n.excerpt).strip(), limit)


def plain_text(n: Notification) -> str:
    """The whole notification as plain text (e-mail text part, fallbacks): no markup at all."""
    lines = [title_line(n), f"Severity: {n.severity}", ""]
    lines += [f"Item: {line}" for line in items_lines(n)]
    lines.append(seen_line(n).capitalize())
    for extra in (lasted_line(n), schedule_line(n), credentials_line(n), *family_lines(n)):
        if extra:
            lines.append(extra)
    if n.cause:
        lines += ["", f"Cause: {one_line(n.cause)}"]
    if n.summary:
        lines.append(one_line(n.summary))
    if n.fixes and n.kind != "resolved":
        lines += ["", "How to fix:"]
        for step in fix_steps(n):
            lines.append(f"  {step.number}. {step.text}")
            if step.command:
                lines.append(f"     $ {step.command}")
    if n.excerpt:
        lines += ["", "Error message:", excerpt(n)]
    links = link_pairs(n)
    if links:
        lines += ["", "Links:", *(f"  {label}: {url}" for label, url in links)]
    lines += ["", *(f"{label}: {value}" for label, value in id_pairs(n))]
    return "\n".join(lines) + "\n"


def fit(raw: str, limit: int, escape: Callable[[str], str]) -> str:
    """``escape(raw)`` within ``limit`` characters: the raw text is shortened (with the marker) until
    its escaped form fits, so an entity like ``&amp;`` is never cut in half."""
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    # truncate(raw, k) keeps the marker for every k above the marker's length, and its escaped
    # length grows with k there: binary search for the largest k that fits.
    low, high = len(limits.MARKER) + 1, min(limit, len(raw) - 1)
    if low > high or len(escape(truncate(raw, low))) > limit:
        return escaped[:limit]  # a limit too small for the marker: a hard cut is all that fits
    while low < high:
        mid = (low + high + 1) // 2
        if len(escape(truncate(raw, mid))) <= limit:
            low = mid
        else:
            high = mid - 1
    return escape(truncate(raw, low))
