"""The identifiers around each code a text holds, and the sentence the code opens. Pure.

``detect`` finds the codes; this finds, for each, the trace and correlation IDs, the timestamp,
the OAuth ``error`` and ``suberror`` and the client (app) ID printed near it, and the excerpt a
human would read. Entra's standard trailer (``Trace ID: .. Correlation ID: .. Timestamp: ..``)
after a literal code is read in one match; other fields are looked for only within ``_NEAR``
characters of a code, by locating their label words with ``str.find`` and matching there.
Patterns are lower case and run over the lower-cased text (same length, so spans fit the original).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from enricher.models import Finding, How

# An optional quote in any of the forms quotes take after escaping: \" \\\" ' &quot; \u0022 \u0027 ...
QUOTE = r"""(?:\\*(?:["']|&quot;|&#0*3[49];|&#x0*2[27];|&apos;)|\\+u00(?:22|27))?"""
SEP = r"\s*[:=]\s*"
_Q, _SEP = QUOTE, SEP
_TS = r"(\d{4}-\d\d-\d\d[ t]\d\d:\d\d:\d\d(?:\.\d{1,7})?z?)"
#: (position, code, how, span) of a code's first occurrence
Hit = tuple[int, str, How, tuple[int, int]]

_OAUTH_ERRORS = (
    "invalid_request|invalid_grant|unauthorized_client|invalid_client|unsupported_grant_type|"
    "invalid_resource|interaction_required|temporarily_unavailable|invalid_scope|invalid_tenant|"
    "access_denied|server_error|consent_required|login_required|unsupported_response_type|"
    "authorization_pending|expired_token|slow_down|invalid_dpop_proof|unsupported_token_type"
)
# A GUID that a line wrap (real or escaped) may have broken anywhere; exactly 32 hex digits, so the
# match never runs on into the next word.
_WRAP = r"(?:[ \t]*(?:\r?\n|(?:\\+[rn])+)[ \t]*)?"
_HEX = r"(?:[0-9a-f]" + _WRAP + ")"
_STRICT_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_GUID = "(" + _STRICT_GUID + "|" + "-".join(f"{_HEX}{{{n}}}{_WRAP}" for n in (8, 4, 4, 4, 11)) + "[0-9a-f])"


class _Field:
    """A context field, found by locating its label words with ``str.find`` and matching at each.

    A field with one label that starts every match and cannot occur again inside one (``flat``) is
    found by one ``finditer`` instead: the regex engine's literal search does the finding, with no
    Python step per label occurrence. ``not_after``: characters that must not come just before a
    match, checked here because a leading lookbehind would cost the engine its literal search.
    """

    def __init__(
        self, name: str, labels: tuple[str, ...], pattern: str, flat: bool = False, not_after: str = ""
    ) -> None:
        assert not flat or len(labels) == 1, "flat fields have one label"
        assert not any(a != b and b.startswith(a) for a in labels for b in labels), "labels start apart"
        self.name = name
        self.labels = labels
        self.rx = re.compile(pattern)
        self.flat = flat
        self.not_after = not_after

    def scan(self, low: str, start: int, end: int) -> list[tuple[int, str]]:
        """(position, value) of every match between ``start`` and ``end``, in text order."""
        name = self.name
        found: list[tuple[int, str]] = []
        if self.flat:
            not_after = self.not_after
            for m in self.rx.finditer(low, start, end):
                i = m.start()
                if not (not_after and i and low[i - 1] in not_after) and (
                    value := _field_value(name, m.group(1))
                ):
                    found.append((i, value))
            return found
        match = self.rx.match
        for label in self.labels:
            i = low.find(label, start, end)
            while i != -1:
                at = match(low, i, end)
                if at and (value := _field_value(name, at.group(1))):
                    found.append((i, value))
                i = low.find(label, i + 1, end)
        if len(self.labels) > 1:  # each label's positions come in order; no two labels start alike
            found.sort()
        return found


_FIELDS = (
    _Field("trace_id", ("trace",), r"trace[ _]?id" + _Q + _SEP + _Q + _GUID, flat=True),
    _Field("correlation_id", ("correlation",), r"correlation[ _]?id" + _Q + _SEP + _Q + _GUID, flat=True),
    _Field("timestamp", ("timestamp",), r"timestamp" + _Q + _SEP + _Q + _TS, flat=True),
    _Field(
        "error",
        ("error",),
        r"error(?:[_ ]?code)?" + _Q + _SEP + _Q + "(" + _OAUTH_ERRORS + r")(?![a-z_])",
        flat=True,  # "error" inside a match is only the tail of "server_error", never a match's start
        not_after="abcdefghijklmnopqrstuvwxyz_",
    ),
    # not flat: a sub-error's value may itself read "suberror: ..."
    _Field("suberror", ("sub",), r"sub_?error" + _Q + _SEP + _Q + r"([a-z][a-z_]{2,40})"),
    _Field(
        "client_id",
        ("app", "client"),
        r"(?:(?<![a-z])app(?:lication)?(?:\s+with\s+identifier)?|client[_ ]?id|app[_ ]?id|application\s+id)"
        + _Q
        + r"\s*[:=]?\s*"
        + _Q
        + _GUID,
    ),
)
#: the fields Entra's trailer does not give
_OTHER_FIELDS = tuple(
    field for field in _FIELDS if field.name not in ("trace_id", "correlation_id", "timestamp")
)
_GAP = r"(?:\s|\\+[rn]|,){0,8}"
# Entra's standard trailer, "Trace ID: ..\r\nCorrelation ID: ..\r\nTimestamp: ..", in one match:
# the common case, so the three fields need no separate scans.
_TRAILER = re.compile(
    r"trace[ _]?id"
    + _Q
    + _SEP
    + _Q
    + _GUID
    + _GAP
    + r"correlation[ _]?id"
    + _Q
    + _SEP
    + _Q
    + _GUID
    + _GAP
    + r"timestamp"
    + _Q
    + _SEP
    + _Q
    + _TS
)
_TRAILER_FIELDS = ("trace_id", "correlation_id", "timestamp")
_BREAKS = re.compile(r"\s+|\\+[rn]")
# Each branch starts with a literal character, so the regex engine skips to the next candidate
# character instead of trying every branch at every position (four times faster); the same
# matches as ``\\+[rn]|[\r\n]|\\+\"|&quot;|\\+u0022|trace id|\",|\"}``.
_EXCERPT_END = re.compile(r"\\\\*[rn]|\r|\n|\\\\*\"|&quot;|\\\\*u0022|trace id|\",|\"}")
_UNESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})|\\+([\"'/\\])")
_NEAR = 3000  # how far from a code its context fields may sit
_EXCERPT_SCAN = 1200  # how far the sentence a code opens is looked for
_EXCERPT_MAX = 1000  # the longest excerpt kept (sinks bound it further, per destination)


def with_context(text: str, low: str, hits: list[Hit]) -> tuple[Finding, ...]:
    """A finding per hit, with the values found near it and its excerpt."""
    if len(hits) == 1:
        return (_only(text, low, hits),)
    trailers = [_trailer(low, i, hits) for i in range(len(hits))]
    skip = all(trailers)  # every code has its trailer: no separate trace, correlation, time scans
    windows = _windows([h[0] for h in hits], len(low))
    # per field: the (position, value) pairs in the windows; a field found nowhere is simply absent
    fields: dict[str, list[tuple[int, str]]] = {}
    for field in _FIELDS:
        if skip and field.name in _TRAILER_FIELDS:
            continue
        if len(windows) == 1:
            pairs = field.scan(low, *windows[0])
        else:
            pairs = [pair for start, end in windows for pair in field.scan(low, start, end)]
        if pairs:
            fields[field.name] = pairs
    findings = []
    last = len(hits) - 1
    for i, (pos, code, how, span) in enumerate(hits):
        trailer = trailers[i]
        found: dict[str, str | None] = {**trailer} if trailer else {}
        if fields:
            before = hits[i - 1][0] if i else -1
            after = hits[i + 1][0] if i < last else len(text)
            # A sign-in record lists its correlationId before status.errorCode; message texts print IDs after.
            pick: Callable[..., str | None] = _record_field if how is How.SIGNIN else _nearest
            found = {
                **{
                    name: pick(pos, before, after, [p for p, _ in pv], [v for _, v in pv])
                    for name, pv in fields.items()
                },
                **found,
            }
        findings.append(Finding(code, how, span, _excerpt(text, low, span, how), **found))
    return tuple(findings)


def _only(text: str, low: str, hits: list[Hit]) -> Finding:
    """``with_context`` for the one code most messages hold: one window, no neighbours."""
    pos, code, how, span = hits[0]
    trailer = _trailer(low, 0, hits)
    start, end = max(0, pos - _NEAR), min(len(low), pos + _NEAR)
    pick: Callable[..., str | None] = _record_field if how is How.SIGNIN else _nearest
    found: dict[str, str | None] = {}
    for field in _OTHER_FIELDS if trailer else _FIELDS:
        pairs = field.scan(low, start, end)
        if len(pairs) == 1:  # the window is within _NEAR of the code: both rules pick its one value
            found[field.name] = pairs[0][1]
        elif pairs:
            found[field.name] = pick(pos, -1, len(text), [p for p, _ in pairs], [v for _, v in pairs])
    if trailer:
        found.update(trailer)
    return Finding(code, how, span, _excerpt(text, low, span, how), **found)


def _trailer(low: str, i: int, hits: list[Hit]) -> dict[str, str] | None:
    """The standard trailer printed after a literal code, before the next code, if there is one."""
    pos, _, how, _ = hits[i]
    if how is not How.LITERAL:
        return None
    end = min(hits[i + 1][0] if i + 1 < len(hits) else len(low), pos + 2000)
    start = low.find("trace", pos, end)
    m = _TRAILER.match(low, start, end) if start != -1 else None
    if m is None:
        return None
    trace, correlation, stamp = m.groups()  # ``_field_value`` of each, written out (every message)
    found = {}
    if trace := trace if len(trace) == 36 else _BREAKS.sub("", trace).lower():
        found["trace_id"] = trace
    if correlation := correlation if len(correlation) == 36 else _BREAKS.sub("", correlation).lower():
        found["correlation_id"] = correlation
    if stamp := stamp.upper().replace(" ", "T", 1):
        found["timestamp"] = stamp
    return found


def _windows(positions: list[int], size: int) -> list[tuple[int, int]]:
    """Merged ranges within _NEAR of any code: the only places context fields are looked for."""
    merged: list[tuple[int, int]] = []
    for pos in positions:
        start, end = max(0, pos - _NEAR), min(size, pos + _NEAR)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _field_value(name: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    if name in ("trace_id", "correlation_id", "client_id"):
        # a GUID without line breaks is exactly 36 characters (and already lower case): the usual case
        return raw if len(raw) == 36 else _BREAKS.sub("", raw).lower()
    if name == "timestamp":
        return raw.upper().replace(" ", "T", 1)
    return raw.lower()


def _nearest(pos: int, before: int, after: int, positions: list[int], values: list[str]) -> str | None:
    """The first value inside this finding's own segment, else the closest one just before it."""
    i = bisect.bisect_left(positions, pos)
    if i < len(positions) and positions[i] < after:
        return values[i]
    if i > 0 and pos - positions[i - 1] <= _NEAR:
        return values[i - 1]
    return None


def _record_field(pos: int, before: int, after: int, positions: list[int], values: list[str]) -> str | None:
    """The closest value before the code but after the previous code, else the first one after it."""
    i = bisect.bisect_left(positions, pos)
    if i > 0 and positions[i - 1] > before and pos - positions[i - 1] <= _NEAR:
        return values[i - 1]
    if i < len(positions) and positions[i] < after:
        return values[i]
    return None


def _excerpt(text: str, low: str, span: tuple[int, int], how: How) -> str:
    """The sentence the code opens, unescaped: what a human would read in the original message."""
    if how is not How.LITERAL:
        return text[span[0] : span[1]]
    cut = _EXCERPT_END.search(low, span[1], span[0] + _EXCERPT_SCAN)
    snippet = text[span[0] : cut.start() if cut else span[0] + _EXCERPT_SCAN]
    if "\\" in snippet:
        snippet = _UNESCAPE.sub(_unescape_one, snippet)
    if "&" in snippet:
        import html  # rarely needed; its entity table is a tenth of this module's import time

        snippet = html.unescape(snippet)
    return _clip(" ".join(snippet.split()), _EXCERPT_MAX)


def _clip(sentence: str, limit: int) -> str:
    """A long sentence ends at the last whole word that fits, with a visible mark, never mid-word:
    Entra's reason often comes last ("... to the wrong tenant")."""
    if len(sentence) <= limit:
        return sentence
    keep = sentence[: limit - 1]
    if not sentence[limit - 1].isspace() and keep.rfind(" ") >= limit // 2:
        keep = keep[: keep.rfind(" ")]
    return keep.rstrip() + "…"


def _unescape_one(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 16)) if m.group(1) else m.group(2)
