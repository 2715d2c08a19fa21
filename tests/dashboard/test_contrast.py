"""Every text colour the style sheet declares, against every background it can sit on: 4.5:1.

The browser test (test_layout.py) measures what one store's pages render; this one reads
``static/dashboard.css`` itself, so a colour used only in a state no test store shows (an error
line, an empty list, a badge of a severity with no incident) is held to the same bound. A rule that
sets both a text colour (``color`` or, in SVG, ``fill`` on ``text``) and a background is checked
against that background; a rule that sets only the text colour against every background the
sheet gives a text area; a badge background against the badge's text colour.
"""

from __future__ import annotations

import re
from importlib import resources

import pytest

CSS = resources.files("enricher.dashboard").joinpath("static/dashboard.css").read_text()
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")


def declarations() -> list[tuple[str, dict[str, str]]]:
    body = re.sub(r"/\*.*?\*/", "", CSS, flags=re.S)
    body = re.sub(r"@media[^{]*\{", "", body)  # rules inside a media query are rules too
    out = []
    for selector, block in _RULE.findall(body):
        props = {}
        for decl in block.split(";"):
            name, _, value = decl.partition(":")
            if value.strip():
                props[name.strip()] = value.strip()
        out.append((" ".join(selector.split()), props))
    return out


VARIABLES = next(props for sel, props in declarations() if sel == ":root")


def colour(value: str) -> str | None:
    """``#rgb``/``#rrggbb`` or ``var(--x)`` resolved; None for anything else (``inherit``, ...)."""
    found = re.search(r"var\((--[\w-]+)\)|(#[0-9a-fA-F]{3,6})\b", value)
    if not found:
        return None
    raw = VARIABLES[found.group(1)] if found.group(1) else found.group(2)
    raw = raw.lstrip("#")
    return "#" + ("".join(c * 2 for c in raw) if len(raw) == 3 else raw).lower()


def contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        rgb = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every text colour the sheet can show."""
    rules = declarations()
    text_areas = {
        c
        for sel, props in rules
        if "background" in props and not re.search(r"badge|dot|::before|button", sel)
        if (c := colour(props["background"]))
    }
    out = []
    for sel, props in rules:
        fg = colour(props.get("color", "")) or (colour(props.get("fill", "")) if "text" in sel else None)
        bg = colour(props.get("background", ""))
        if "badge" in sel and bg and not fg:
            fg = colour(next(p["color"] for s, p in rules if s == ".badge"))
        if fg is None or "::before" in sel:
            continue
        for back in [bg] if bg else sorted(text_areas):
            out.append((sel, fg, back))
    return out


def test_the_sheet_is_read() -> None:
    found = pairs()
    assert len(found) > 60 and {"--fg", "--muted", "--link", "--high", "--medium"} <= set(VARIABLES)
    assert any(sel == ".badge.sev-high" for sel, _, _ in found)


@pytest.mark.parametrize(("selector", "fg", "bg"), pairs())
def test_text_colour_has_contrast(selector: str, fg: str, bg: str) -> None:
    assert contrast(fg, bg) >= 4.5, f"{selector}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"
