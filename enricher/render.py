"""Terminal rendering of knowledge-base entries and detections. Pure: returns strings.

Colour is a parameter (the caller decides from ``isatty`` and ``NO_COLOR``), so tests compare
plain text and users get colour only where it renders.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from enricher.kb_schema import CONTEXTS, Entry
from enricher.models import Detection

_SEVERITY_COLOUR = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "37"}
_CONTEXT_LABEL = {
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


def _wrap(text: str, indent: str = "  ", width: int = 96) -> str:
    return textwrap.fill(" ".join(text.split()), width=width, initial_indent=indent, subsequent_indent=indent)


def _bullets(items: Iterable[str], indent: str = "  ") -> list[str]:
    return [
        textwrap.fill(" ".join(i.split()), 96, initial_indent=f"{indent}- ", subsequent_indent=f"{indent}  ")
        for i in items
    ]


def _steps(steps: Iterable[tuple[str, str | None]], style: Style) -> list[str]:
    lines = []
    for n, (step, command) in enumerate(steps, 1):
        lines.append(
            textwrap.fill(" ".join(step.split()), 96, initial_indent=f"  {n}. ", subsequent_indent="     ")
        )
        if command:
            lines.append(style.dim(f"     $ {command}"))
    return lines


def entry_text(entry: Entry, style: Style, *, context: str | None = None, known: bool = True) -> str:
    """A complete, readable explanation of one knowledge-base entry."""
    head = f"AADSTS{entry.code}" + (f"  {entry.name}" if entry.name else "")
    lines = [style.heading(head), style.heading(entry.title)]
    flags = [
        f"severity {style.severity(entry.severity)}",
        f"category {entry.category}",
        f"transient {'yes' if entry.transient else 'no'}",
        f"needs a user {'yes' if entry.needs_user else 'no'}",
    ]
    lines.append("  " + " | ".join(flags))
    if not known:
        lines.append(style.paint("  Not in the knowledge base: generic guidance follows.", "33"))
    lines += ["", style.heading("What it means"), _wrap(entry.summary)]
    lines.append(style.dim(_wrap(f"Why {entry.severity}: {entry.severity_reason}")))
    lines += ["", style.heading("Likely causes"), *_bullets(entry.causes)]
    lines += ["", style.heading("How to fix"), *_steps(((f.step, f.command) for f in entry.fixes), style)]
    contexts = [context] if context else [c for c in CONTEXTS if c in entry.contexts]
    for ctx in contexts:
        note = entry.contexts.get(ctx)  # type: ignore[call-overload]
        if note:
            lines += ["", style.heading(f"In {_CONTEXT_LABEL.get(ctx, ctx)}"), _wrap(note)]
    if entry.related:
        lines += ["", "Related: " + ", ".join(f"AADSTS{c}" for c in entry.related)]
    lines += ["", "Docs:", *[f"  {link}" for link in entry.docs]]
    return "\n".join(lines)


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
