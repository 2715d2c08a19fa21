"""Server-rendered SVG charts: no JavaScript, no chart library, nothing fetched. Pure.

Every chart is built with ``Markup.format``, which escapes each argument, so a workspace called
``<script>`` ends up as text inside ``<text>``/``<title>``. Colours are presentation attributes
(``fill="#..."``), which a strict ``style-src`` allows. Each bar carries a ``<title>`` (the
browser's tooltip) and ``data-*`` attributes naming what it counts.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

from markupsafe import Markup

from enricher.core.wording import counted
from enricher.dashboard.stats import DayCount, GroupCount

#: Okabe and Ito's palette, distinguishable with the common colour-vision deficiencies; grey is
#: "other codes". A code keeps its colour in every view (``code_colour``), whatever its rank.
PALETTE = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#d55e00",
    "#56b4e9",
    "#cc79a7",
    "#f0e442",
    "#000000",
)
OTHER_COLOUR = "#8c8c8c"
#: Codes an admin sees most get a colour of their own; any other code hashes onto the palette.
PINNED = {"53003": 0, "7000222": 1, "50076": 2, "700082": 3, "7000215": 4, "700016": 5, "50000": 6}
OTHER = "other"
SOURCE_COLOURS = {
    "powerbi": "#e69f00",
    "fabric": "#009e73",
    "adf": "#0072b2",
    "synapse": "#cc79a7",
    "self": OTHER_COLOUR,
}
_FONT = 12
#: Each chart is drawn twice, for narrow and for wide screens, each at 1:1 scale where it is shown
#: (the style sheet picks one), so its text is never scaled below 11 px.
NARROW, WIDE = 340, 1000


def code_colour(code: str) -> str:
    """The same colour for a code on every page and in every filter."""
    if code == OTHER:
        return OTHER_COLOUR
    index = PINNED.get(code)
    return PALETTE[index if index is not None else zlib.crc32(code.encode()) % len(PALETTE)]


def code_colours(codes: Sequence[str]) -> dict[str, str]:
    """The first seven codes (most failures first) are drawn in their own colour, the rest as ``other``."""
    colours = {code: code_colour(code) for code in codes[:7]}
    if len(codes) > 7:
        colours[OTHER] = OTHER_COLOUR
    return colours


def failures_per_day(days: Sequence[DayCount], colours: dict[str, str], width: int = WIDE) -> Markup:
    """Stacked bars: one per day, one segment per code."""
    height, left, bottom, top = 240, 40, 24, 10
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = _nice(max((d.total for d in days), default=0))
    band = plot_w / max(1, len(days))
    parts = [_open("failures-per-day", width, height, "Failures per day by code")]
    parts += _y_axis(peak, left, top, plot_w, plot_h)
    every = max(1, math.ceil(len(days) / max(2, width // 110)))
    for n, day in enumerate(days):
        x = left + n * band + band * 0.15
        y = float(top + plot_h)
        for code, count in _grouped(day.codes, colours):
            h = plot_h * count / peak
            y -= h
            parts.append(
                Markup(
                    '<rect class="seg" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" '
                    'data-day="{}" data-code="{}" data-count="{}"><title>{}: {} {} failure{}</title></rect>'
                ).format(
                    x, y, band * 0.7, h, colours.get(code, OTHER_COLOUR), day.day.isoformat(), code, count,
                    day.day.isoformat(), count, _code_label(code), "" if count == 1 else "s",
                )
            )  # fmt: skip
        if n % every == 0:
            parts.append(
                Markup('<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>').format(
                    x + band * 0.35, height - 8, day.day.strftime("%m-%d")
                )
            )
    if not any(d.total for d in days):
        parts.append(_empty(width, top + plot_h / 2, "No failures in this range"))
    return _close(parts)


def horizontal_bars(
    name: str,
    rows: Sequence[GroupCount],
    colours: dict[str, str] | None = None,
    label: str = "",
    width: int = WIDE,
) -> Markup:
    """One bar per row (failures), longest first; ``colours`` maps a row's source to its colour."""
    row_h, left = 24, min(300, width * 2 // 5)
    height = max(1, len(rows)) * row_h + 8
    peak = max((r.failures for r in rows), default=0) or 1
    parts = [_open(name, width, height, label)]
    for n, row in enumerate(rows):
        y = 4 + n * row_h
        w = (width - left - 60) * row.failures / peak
        fill = (colours or {}).get(row.source, PALETTE[0])
        parts.append(
            Markup(
                '<text x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="bar" x="{}" y="{}" width="{:.1f}" height="{}" fill="{}" data-name="{}" '
                'data-count="{}"><title>{}: {}, {} ({} open)</title></rect>'
                '<text x="{:.1f}" y="{}">{}</text>'
            ).format(
                left - 6, y + 15, _clip(row.label, max(8, left // 8)),
                left, y + 3, max(w, 1.0), row_h - 8, fill, row.name,
                row.failures, row.label, counted(row.failures, "failure"),
                counted(row.incidents, "incident"), row.open,
                left + max(w, 1.0) + 6, y + 15, row.failures,
            )
        )  # fmt: skip
    if not rows:
        parts.append(_empty(width, 20, "Nothing in this range"))
    return _close(parts)


def resolve_histogram(buckets: Sequence[tuple[str, int]], width: int = WIDE) -> Markup:
    """How long resolved incidents stayed open, bucketed."""
    height, left, bottom, top = 170, 40, 24, 10
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = _nice(max((n for _, n in buckets), default=0))
    band = plot_w / max(1, len(buckets))
    parts = [_open("time-to-resolve", width, height, "Time to resolve")]
    parts += _y_axis(peak, left, top, plot_w, plot_h)
    for i, (label, count) in enumerate(buckets):
        x = left + i * band + band * 0.2
        h = plot_h * count / peak
        parts.append(
            Markup(
                '<rect class="bar" x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}" '
                'data-name="{}" data-count="{}"><title>{}: {} incidents</title></rect>'
                '<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>'
            ).format(
                x, top + plot_h - h, band * 0.6, h, PALETTE[0], label, count, label, count,
                x + band * 0.3, height - 8, label,
            )
        )  # fmt: skip
    if not any(n for _, n in buckets):
        parts.append(_empty(width, top + plot_h / 2, "No incident resolved in this range"))
    return _close(parts)


def swatch(colour: str) -> Markup:
    """A small square for a legend."""
    return Markup(
        '<svg class="swatch" width="12" height="12" aria-hidden="true">'
        '<rect width="12" height="12" rx="2" fill="{}"/></svg>'
    ).format(colour)


def _grouped(codes: dict[str, int], colours: dict[str, str]) -> list[tuple[str, int]]:
    own = [(code, n) for code, n in codes.items() if code in colours]
    rest = sum(n for code, n in codes.items() if code not in colours)
    return sorted(own, key=lambda cn: list(colours).index(cn[0])) + ([(OTHER, rest)] if rest else [])


def _y_axis(peak: int, left: int, top: int, plot_w: int, plot_h: int) -> list[Markup]:
    out = []
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        out.append(
            Markup(
                '<line class="grid" x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}"/>'
                '<text x="{}" y="{:.1f}" text-anchor="end">{}</text>'
            ).format(left, left + plot_w, y, y, left - 6, y + 4, f"{value:g}")
        )
    return out


def _nice(value: int) -> int:
    """A round axis maximum at or above ``value`` (at least 4, so ticks are whole numbers)."""
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 1.2, 1.6, 2, 2.4, 3.2, 4, 5, 6, 8, 10):
        top = int(step * magnitude)
        if top >= value and top % 4 == 0:
            return top
    return int(math.ceil(value / 4) * 4)


def _code_label(code: str) -> str:
    return "other codes" if code == OTHER else f"AADSTS{code}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(name: str, width: int, height: int, label: str) -> Markup:
    return Markup(
        '<svg class="chart {}" data-chart="{}" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{} (the numbers are in the table below)" font-size="{}" xmlns="http://www.w3.org/2000/svg">'
    ).format("narrow" if width <= NARROW else "wide", name, width, height, width, height, label, _FONT)


def _empty(width: int, y: float, text: str) -> Markup:
    return Markup('<text class="empty" x="{}" y="{:.1f}" text-anchor="middle">{}</text>').format(
        width / 2, y, text
    )


def _close(parts: list[Markup]) -> Markup:
    return Markup("").join(parts) + Markup("</svg>")
