"""Terminal rendering of knowledge-base entries and detections. Pure: returns strings.

Colour is a parameter (the caller decides from ``isatty`` and ``NO_COLOR``), so tests compare
plain text and users get colour only where it renders.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

from enricher.core.commands import CONTEXT_FAMILY, ITEM_COMMANDS, whole_command
from enricher.core.kb_schema import CONTEXTS, Entry
from enricher.core.placeholders import fill_command, fill_step
from enricher.models import Detection

_SEVERITY_COLOUR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "37"}
CONTEXT_LABEL = {
    "powerbi": "Power BI",
    "gateway": "On-premises data gateway",
    "fabric": "Microsoft Fabric",
    "adf": "Azure Data Factory",
    "synapse": "Azure Synapse",
    "databricks": "Azure Databricks",
}


class Style:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text

    def heading(self, text: str) -> str:
        return self.paint(text, "1")

    def severity(self, severity: str) -> str:
        return self.paint(severity.upper(), _SEVERITY_COLOUR.get(severity, "0"))

    def dim(self, text: str) -> str:
        return self.paint(text, "2")


#: the widest a paragraph gets, even on a wide terminal (longer lines are hard to read)
MAX_WIDTH = 100


def _fill(text: str, width: int, first: str, rest: str) -> str:
    """Wrap prose; URLs and other long tokens stay whole so they can still be copied."""
    return textwrap.fill(
        " ".join(text.split()),
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _steps(steps: Iterable[tuple[str, list[str]]], style: Style, width: int) -> list[str]:
    lines = []
    for n, (step, commands) in enumerate(steps, 1):
        lines.append(_fill(step, width, f"  {n}. ", "     "))
        # a command is never wrapped: it is copied
        lines += [style.dim(f"     $ {command}") for command in commands]
    return lines


def _variants(command: str | None, context: str | None) -> list[str]:
    """The command as written; an item-type command as the context's variant, or every variant
    labelled with its item type when no context is given."""
    whole = whole_command(command) if command else None
    if whole is None:
        return [command] if command else []
    variants = ITEM_COMMANDS[whole]
    if context is not None:
        family = CONTEXT_FAMILY.get(context)
        return [variants[family]] if family in variants else []
    return [f"[{family}] {text}" for family, text in variants.items()]


def entry_text(
    entry: Entry,
    style: Style,
    *,
    context: str | None = None,
    known: bool = True,
    values: Mapping[str, str] | None = None,
    width: int = MAX_WIDTH,
) -> str:
    """A complete explanation of one entry, steps first: the reader came to fix something.

    ``values`` fill the steps' placeholders (what the error text told us); an unknown one never
    shows raw (see ``enricher.core.placeholders``). With ``context`` only that product's section is
    shown, right after the steps; ``width`` is the terminal's.
    """
    width = max(40, min(width, MAX_WIDTH))
    known_values = {"code": entry.code, **(values or {})}
    head = f"AADSTS{entry.code}" + (f"  {entry.name}" if entry.name else "")
    lines = [style.heading(head), style.heading(_fill(entry.title, width, "", ""))]
    flags = [
        f"severity {style.severity(entry.severity)}",
        f"category {entry.category}",
        f"transient {'yes' if entry.transient else 'no'}",
        f"needs a user {'yes' if entry.needs_user else 'no'}",
    ]
    lines.append(_fill(" | ".join(flags), width, "  ", "  "))
    if not known:
        lines.append(style.paint("  Not in the knowledge base: generic guidance follows.", "33"))
    steps = (
        (
            fill_step(f.step, known_values),
            [fill_command(c, known_values) for c in _variants(f.command, context)],
        )
        for f in entry.fixes
    )
    lines += ["", style.heading("How to fix"), *_steps(steps, style, width)]
    if context:
        lines += _context_section(entry, context, style, width)
    lines += ["", style.heading("What it means"), _fill(entry.summary, width, "  ", "  ")]
    lines.append(style.dim(_fill(f"Why {entry.severity}: {entry.severity_reason}", width, "  ", "  ")))
    lines += ["", style.heading("Likely causes")]
    lines += [_fill(c, width, "  - ", "    ") for c in entry.causes]
    if not context:
        for ctx in CONTEXTS:
            if entry.contexts.get(ctx):
                lines += _context_section(entry, ctx, style, width)
    lines += _faq_section(entry, style, width)
    if entry.related:
        lines += ["", _fill("Related: " + ", ".join(f"AADSTS{c}" for c in entry.related), width, "", "  ")]
    lines += ["", "Docs:", *[f"  {link}" for link in entry.docs]]
    return "\n".join(lines)


def _faq_section(entry: Entry, style: Style, width: int) -> list[str]:
    if not entry.faq:
        return []
    lines = ["", style.heading("Questions admins ask")]
    for item in entry.faq:
        lines += [_fill(item.question, width, "  Q: ", "     "), _fill(item.answer, width, "  A: ", "     ")]
    return lines


def _context_section(entry: Entry, context: str, style: Style, width: int) -> list[str]:
    label = CONTEXT_LABEL.get(context, context)
    note = entry.contexts.get(context)  # type: ignore[call-overload]
    text = note or f"The knowledge base has nothing specific to {label} for this code; the steps above apply."
    return ["", style.heading(f"In {label}"), _fill(text, width, "  ", "  ")]


def detection_text(detection: Detection, style: Style) -> str:
    """One line per code found, with how it was found and the IDs next to it."""
    if not detection:
        return "No AADSTS code found."
    lines = []
    for f in detection.findings:
        mark = " (primary)" if f.code == detection.primary else ""
        lines.append(style.heading(f"AADSTS{f.code}{mark}") + style.dim(f"  found as {f.how} at {f.span[0]}"))
        ids = [
            (label, value)
            for label, value in (
                ("trace id", f.trace_id),
                ("correlation id", f.correlation_id),
                ("timestamp", f.timestamp),
                ("error", f.error),
                ("suberror", f.suberror),
                ("app", f.client_id),
            )
            if value
        ]
        for label, value in ids:
            lines.append(f"  {label:<15}{value}")
    for inf in detection.inferred:
        mark = " (primary)" if inf.code == detection.primary and not detection.findings else ""
        lines.append(style.heading(f"AADSTS{inf.code} inferred{mark}") + style.dim(f'  from "{inf.phrase}"'))
    return "\n".join(lines)
