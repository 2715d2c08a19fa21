"""Find AADSTS codes, and the identifiers around them, in any text. Pure; never raises on input.

Where codes hide in the wild:

* literally, ``AADSTS53003``, in refresh errors, pipeline messages and exception texts;
* as bare numbers in a token-endpoint body: ``"error_codes": [53003]`` and
  ``error_uri: .../error?code=53003``;
* as bare numbers in sign-in records (``status.errorCode``), broker logs (``server_error_code``) and
  the ``x-ms-clitelem`` header.

Texts arrive JSON-escaped several levels deep (``\\\\\\"error_codes\\\\\\":[...]``), with .NET's
``\\u0027`` quotes, HTML entities, or GUIDs broken by line wraps. Rather than trying to decode them,
every pattern tolerates those forms, so one linear pass of each regex is enough and every span
points into exactly what the caller passed in. All quantifiers are bounded or simple classes, so a
10 MB input costs time linear in its size.

Speed: patterns are written in lower case and run case-sensitively over a lower-cased copy of the
text of the same length (so spans still fit the original), each pattern runs only when a cheap
substring test says its key word is present, and context fields are looked for only near the codes
found.

A bare number is only reported under a key that means "AADSTS code": an ADF activity's
``"errorCode": "2200"`` is ADF's own code and is never read as one (it is quoted, has 4 digits and
no sign-in record around it).

Primary code rule: among the codes read from the text (inferred codes never count), the primary
one is the first by position, except that the generic wrapper code 50000 ("there was an issue
issuing the token") gives way to any other code, because when both appear the other code names the
actual cause. Inferred codes become primary only when nothing was read literally.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator

from enricher.core.signatures import NO_SIGNATURES, Signatures
from enricher.models import Detection, Finding, How, Inferred

__all__ = ["GENERIC_CODES", "NO_SIGNATURES", "Signatures", "detect"]

GENERIC_CODES = frozenset({"50000"})

# An optional quote in any of the forms quotes take after escaping: \" \\\" ' &quot; \u0022 \u0027 ...
_Q = r"""(?:\\*(?:["']|&quot;|&#0*3[49];|&#x0*2[27];|&apos;)|\\+u00(?:22|27))?"""
_SEP = r"\s*[:=]\s*"
_CODE = r"(\d{5,7})(?!\d)"
_TS = r"(\d{4}-\d\d-\d\d[ t]\d\d:\d\d:\d\d(?:\.\d{1,7})?z?)"
#: what ``(?<![a-z_])`` excluded: a key that merely ends in "errorcode" (``servererrorcode``)
_LOWER_WORD = "abcdefghijklmnopqrstuvwxyz_"


class _Rx:
    """A lowercase pattern that runs only when one of its cue words occurs in the text.

    ``not_after``: characters that must not come just before a match. Checked here rather than
    with a lookbehind, because a pattern that starts with a lookbehind loses the regex engine's
    literal-prefix search and tries every position (twice as slow on texts holding the word).
    """

    def __init__(self, pattern: str, cue: tuple[str, ...], not_after: str = "") -> None:
        self.rx = re.compile(pattern)
        self.cue = cue
        self.not_after = not_after

    def present(self, low: str) -> bool:
        for c in self.cue:  # noqa: SIM110 - a plain loop: any() over a generator costs twice as much here
            if c in low:
                return True
        return False

    def finditer(self, low: str, start: int = 0, end: int | None = None) -> Iterator[re.Match[str]]:
        if not self.present(low):
            return iter(())
        found = self.rx.finditer(low, start, len(low) if end is None else end)
        if not self.not_after:
            return found
        return (m for m in found if not m.start() or low[m.start() - 1] not in self.not_after)


# (pattern, how, needs a sign-in record nearby)
_CODE_PATTERNS: tuple[tuple[_Rx, How], ...] = (
    (_Rx(r"aadsts[ _:#-]?" + _CODE, ("aadsts",)), How.LITERAL),
    (
        _Rx(r"error_?codes" + _Q + _SEP + r"\[\s*(\d{1,9}(?:\s*,\s*\d{1,9}){0,20})\s*\]", ("codes",)),
        How.ERROR_CODES,
    ),
    (_Rx(r"error(?:\?|%3f)code(?:=|%3d)" + _CODE, ("code=", "code%3d")), How.ERROR_URI),
    # a sign-in record's status.errorCode is an unquoted number (or PowerShell's "ErrorCode : 53003")
    (_Rx(r"errorcode" + _Q + _SEP + _CODE + r"(?![\"'\\.\w])", ("errorcode",), _LOWER_WORD), How.SIGNIN),
    (_Rx(r"sign-?in error code" + _Q + r"\s*[:=]?\s*" + _Q + _CODE, ("error code",)), How.SIGNIN),
    (_Rx(r"server[_ ]?error[_ ]?code" + _Q + _SEP + _Q + _CODE, ("server",)), How.BROKER),
    (_Rx(r"x-ms-clitelem" + _Q + _SEP + _Q + r"\d,(\d{5,7}),", ("clitelem",)), How.TELEMETRY),
)
_SIGNIN_CUE = re.compile(
    r"failurereason|conditionalaccessstatus|signineventtypes|userprincipalname|createddatetime|appdisplayname",
    re.IGNORECASE,
)
_CUE_WINDOW = 800
_ORDER = {how: i for i, how in enumerate(How)}

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
    """A context field: found by locating its label words with str.find, then matching at each one."""

    def __init__(self, name: str, labels: tuple[str, ...], pattern: str) -> None:
        self.name = name
        self.labels = labels
        self.rx = re.compile(pattern)

    def scan(self, low: str, start: int, end: int) -> list[tuple[int, str]]:
        found: dict[int, str] = {}
        for label in self.labels:
            i = low.find(label, start, end)
            while i != -1:
                m = self.rx.match(low, i, end)
                if m and i not in found:
                    value = _field_value(self.name, m.group(1))
                    if value:
                        found[i] = value
                i = low.find(label, i + 1, end)
        return sorted(found.items())


_FIELDS = (
    _Field("trace_id", ("trace",), r"trace[ _]?id" + _Q + _SEP + _Q + _GUID),
    _Field("correlation_id", ("correlation",), r"correlation[ _]?id" + _Q + _SEP + _Q + _GUID),
    _Field(
        "timestamp",
        ("timestamp",),
        r"timestamp" + _Q + _SEP + _Q + _TS,
    ),
    _Field(
        "error",
        ("error",),
        r"(?<![a-z_])error(?:[_ ]?code)?" + _Q + _SEP + _Q + "(" + _OAUTH_ERRORS + r")(?![a-z_])",
    ),
    _Field("suberror", ("suberror", "sub_error"), r"sub_?error" + _Q + _SEP + _Q + r"([a-z][a-z_]{2,40})"),
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
_EXCERPT_END = re.compile(r"\\+[rn]|[\r\n]|\\+\"|&quot;|\\+u0022|trace id|\",|\"}")
_UNESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})|\\+([\"'/\\])")
_NEAR = 3000  # how far from a code its context fields may sit
_EXCERPT_SCAN = 1200  # how far the sentence a code opens is looked for
_EXCERPT_MAX = 1000  # the longest excerpt kept (sinks bound it further, per destination)
_Hit = tuple[int, str, How, tuple[int, int]]


def detect(text: str, signatures: Signatures = NO_SIGNATURES) -> Detection:
    """Every AADSTS code in ``text`` in order of first appearance, de-duplicated by code."""
    if not isinstance(text, str) or not text:
        return Detection()
    low = _lower(text)
    hits = _code_hits(low)
    literal = {hit[1] for hit in hits}
    inferred: list[Inferred] = []
    for inf in signatures.scan(low):
        if inf.code not in literal and all(i.code != inf.code for i in inferred):
            inferred.append(inf)
    if not hits:
        return Detection((), tuple(inferred), inferred[0].code if inferred else None)
    findings = _with_context(text, low, hits)
    return Detection(findings, tuple(inferred), _primary(findings))


#: The characters whose lower case is longer than one character. In Python's Unicode tables that
#: is only U+0130 (capital I with dot above: "i" plus a combining dot); tests/test_detect.py checks
#: every code point, so a new Python with more fails there instead of shifting spans.
LONGER_LOWER = "\u0130"
_LONGER_LOWER = re.compile(f"([{LONGER_LOWER}])")


#: Non-ASCII text is lower-cased in pieces of this many characters: CPython's ``str.lower`` works
#: through a buffer of 12 bytes per character, so 50 MB of random bytes took 4 GB in one piece.
#: (A final sigma at a piece's edge may lower to the other sigma: same length, no code or phrase.)
_LOWER_PIECE = 1 << 20


def _lower(text: str) -> str:
    """``text.lower()``, except that the rare characters whose lower case is longer stay as they are."""
    if text.isascii() or len(text) <= _LOWER_PIECE:
        return _lower_piece(text)
    return "".join(_lower_piece(text[i : i + _LOWER_PIECE]) for i in range(0, len(text), _LOWER_PIECE))


def _lower_piece(text: str) -> str:
    """Lower-casing the parts between the longer characters keeps the memory to a few copies of the
    text (lower-casing character by character took 875 MB for one such character in 10 MB)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    del low
    parts = _LONGER_LOWER.split(text)  # text, odd, text, odd, ..., text
    return "".join(p if i % 2 else p.lower() for i, p in enumerate(parts))


def _code_hits(low: str) -> list[_Hit]:
    """(position, code, how, span) for the first occurrence of every code."""
    raw: list[_Hit] = []
    for rx, how in _CODE_PATTERNS:
        for m in rx.finditer(low):
            if how is How.ERROR_CODES:
                numbers = [n for n in re.findall(r"\d+", m.group(1)) if 5 <= len(n) <= 7]
            elif how is How.SIGNIN and "error code" not in m.group(0):
                window = low[max(0, m.start() - _CUE_WINDOW) : m.end() + _CUE_WINDOW]
                numbers = [m.group(1)] if _SIGNIN_CUE.search(window) else []
            else:
                numbers = [m.group(1)]
            raw.extend((m.start(), n, how, m.span()) for n in numbers)
    raw.sort(key=lambda hit: (hit[0], _ORDER[hit[2]]))
    seen: set[str] = set()
    hits = []
    for hit in raw:
        if hit[1] not in seen and int(hit[1]):
            seen.add(hit[1])
            hits.append(hit)
    return hits


def _with_context(text: str, low: str, hits: list[_Hit]) -> tuple[Finding, ...]:
    trailers = [_trailer(low, i, hits) for i in range(len(hits))]
    windows = _windows([h[0] for h in hits], len(low))
    fields: dict[str, tuple[list[int], list[str]]] = {}
    for field in _FIELDS:
        if field.name in _TRAILER_FIELDS and all(trailers):
            continue
        pairs = [pair for start, end in windows for pair in field.scan(low, start, end)]
        fields[field.name] = ([p for p, _ in pairs], [v for _, v in pairs])
    findings = []
    for i, (pos, code, how, span) in enumerate(hits):
        before = hits[i - 1][0] if i else -1
        after = hits[i + 1][0] if i + 1 < len(hits) else len(text)
        # A sign-in record lists its correlationId before status.errorCode; message texts print IDs after.
        pick: Callable[..., str | None] = _record_field if how is How.SIGNIN else _nearest
        found = {name: pick(pos, before, after, *pv) for name, pv in fields.items()}
        found.update(trailers[i] or {})
        findings.append(
            Finding(code=code, how=how, span=span, excerpt=_excerpt(text, low, span, how), **found)
        )
    return tuple(findings)


def _trailer(low: str, i: int, hits: list[_Hit]) -> dict[str, str] | None:
    """The standard trailer printed after a literal code, before the next code, if there is one."""
    pos, _, how, _ = hits[i]
    if how is not How.LITERAL:
        return None
    end = min(hits[i + 1][0] if i + 1 < len(hits) else len(low), pos + 2000)
    start = low.find("trace", pos, end)
    m = _TRAILER.match(low, start, end) if start != -1 else None
    if m is None:
        return None
    return {
        name: value
        for name, raw in zip(_TRAILER_FIELDS, m.groups(), strict=True)
        if (value := _field_value(name, raw))
    }


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


def _primary(findings: tuple[Finding, ...]) -> str | None:
    specific = [f.code for f in findings if f.code not in GENERIC_CODES]
    if specific:
        return specific[0]
    return findings[0].code if findings else None
