"""Filling ``{placeholders}`` in fix steps and commands, so a reader never sees one raw. Pure.

A value is often unknown: ``explain`` has no run at all, and many error texts carry no correlation
ID. The knowledge base is therefore written so each step reads well either way:

* in a step's prose a placeholder sits in a parenthetical, ``Open the failed sign-in (correlation
  ID {correlation_id})``; when a value in it is unknown the whole parenthetical is left out;
* inside a URL or path (right after ``/`` or ``=``), and anywhere in a command, an unknown value
  becomes ``<correlation-id>``, the way the knowledge base already marks what the admin types in.

``step_problem`` checks that rule (tests/test_placeholders.py runs it over the built-in entries). A
local override that breaks it still loads: its loose placeholder shows as ``<name>``, never raw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

PLACEHOLDER_RX = re.compile(r"\{([a-z][a-z0-9_]*)\}")
_PARENTHETICAL = re.compile(r" ?\(([^()]*)\)")
_IN_URL = re.compile(r"[/=]\{[a-z][a-z0-9_]*\}")


def fill_command(text: str, values: Mapping[str, str]) -> str:
    """Known values in; an unknown one becomes ``<name-with-hyphens>`` for the admin to supply."""
    if "{" not in text:
        return text
    return PLACEHOLDER_RX.sub(lambda m: values.get(m.group(1)) or f"<{m.group(1).replace('_', '-')}>", text)


def fill_step(text: str, values: Mapping[str, str]) -> str:
    """Known values in; a parenthetical holding an unknown one is dropped, URLs get ``<name>``."""
    if "{" not in text:
        return text

    def parenthetical(match: re.Match[str]) -> str:
        names = PLACEHOLDER_RX.findall(match.group(1))
        return "" if any(not values.get(name) for name in names) else match.group(0)

    return fill_command(_PARENTHETICAL.sub(parenthetical, text), values)


def step_problem(text: str) -> str | None:
    """Why a step would read badly without its values, or None."""
    outside = _IN_URL.sub("", _PARENTHETICAL.sub("", text))
    loose = PLACEHOLDER_RX.findall(outside)
    if loose:
        return (
            f"placeholder {{{loose[0]}}} must sit in a parenthetical, e.g. '(ID {{{loose[0]}}})', or inside "
            "a URL, so the step still reads well when the value is unknown"
        )
    return None
