"""Find AADSTS codes, and the identifiers around them, in any text. Pure; never raises on input.

Where codes hide in the wild:

* literally, ``AADSTS53003``, in refresh errors, pipeline messages and exception texts;
* as bare numbers in a token-endpoint body: ``"error_codes": [53003]`` and
  ``error_uri: .../error?code=53003``;
* as bare numbers in sign-in records (``status.errorCode``), broker logs (``server_error_code``) and
  the ``x-ms-clitelem`` header.

Texts arrive JSON-escaped several levels deep (``\\\\\\"error_codes\\\\\\":[...]``), with .NET's
``\\u0027`` quotes, HTML entities, or GUIDs broken by line wraps. Rather than trying to decode them,
every pattern tolerates those forms, so one linear pass of each regex over the original text is
enough and every span points into exactly what the caller passed in. All quantifiers are bounded or
possessive-free simple classes, so a 10 MB input costs time linear in its size.

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
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass

from enricher.models import Detection, Finding, How, Inferred

GENERIC_CODES = frozenset({"50000"})

# An optional quote in any of the forms quotes take after escaping: \" \\\" ' &quot; \u0022 \u0027 ...
_Q = r"""(?:\\*["']|&quot;|&#0*3[49];|&#x0*2[27];|&apos;|\\*u00(?:22|27))?"""
_SEP = r"""\s*[:=]\s*"""
_CODE = r"(\d{5,7})(?![\d])"

_LITERAL = re.compile(r"AADSTS[ _:#-]?" + _CODE, re.IGNORECASE)
_ERROR_CODES = re.compile(r"error_?codes" + _Q + _SEP + r"\[\s*(\d{1,9}(?:\s*,\s*\d{1,9}){0,20})\s*\]", re.I)
_ERROR_URI = re.compile(r"error(?:\?|%3F)code(?:=|%3D)" + _CODE, re.IGNORECASE)
# A sign-in record's status.errorCode is an unquoted JSON number (or PowerShell "ErrorCode : 53003").
_SIGNIN = re.compile(r"(?<![A-Za-z_])errorCode" + _Q + r"\s*[:=]\s*" + _CODE + r"(?![\"'\\.\w])", re.I)
_SIGNIN_PORTAL = re.compile(r"sign-?in error code" + _Q + r"\s*[:=]?\s*" + _Q + _CODE, re.IGNORECASE)
_SIGNIN_CUE = re.compile(
    r"failureReason|conditionalAccessStatus|signInEventTypes|userPrincipalName|createdDateTime|appDisplayName",
    re.IGNORECASE,
)
_BROKER = re.compile(r"server[_ ]?error[_ ]?code" + _Q + _SEP + _Q + _CODE, re.IGNORECASE)
_TELEMETRY = re.compile(r"x-ms-clitelem" + _Q + _SEP + _Q + r"\d,(\d{5,7}),", re.IGNORECASE)

_OAUTH_ERRORS = (
    "invalid_request|invalid_grant|unauthorized_client|invalid_client|unsupported_grant_type|"
    "invalid_resource|interaction_required|temporarily_unavailable|invalid_scope|invalid_tenant|"
    "access_denied|server_error|consent_required|login_required|unsupported_response_type|"
    "authorization_pending|expired_token|slow_down|invalid_dpop_proof|unsupported_token_type"
)
# A GUID that a line wrap (real or escaped) may have broken anywhere; exactly 32 hex digits, so the
# match never runs on into the next word.
_WRAP = r"(?:[ \t]*(?:\r?\n|(?:\\+[rn])+)[ \t]*)?"
_HEX = r"(?:[0-9a-fA-F]" + _WRAP + ")"
_GUID_HEAD = "(" + "-".join(_HEX + "{%d}" % n + _WRAP for n in (8, 4, 4, 4, 11)) + "[0-9a-fA-F])"
# One pass collects every context field; the group name says which field matched.
_CONTEXT = re.compile(
    r"(?P<trace>trace[ _]?id" + _Q + _SEP + _Q + _GUID_HEAD + r")"
    r"|(?P<corr>correlation[ _]?id" + _Q + _SEP + _Q + _GUID_HEAD + r")"
    r"|(?P<ts>timestamp" + _Q + _SEP + _Q + r"(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{1,7})?Z?))"
    r"|(?P<err>(?<![A-Za-z_])error(?:[_ ]?code)?" + _Q + _SEP + _Q + r"(" + _OAUTH_ERRORS + r")(?![a-z_]))"
    r"|(?P<sub>sub_?error" + _Q + _SEP + _Q + r"([a-z][a-z_]{2,40}))"
    r"|(?P<client>(?:(?<![A-Za-z])app(?:lication)?(?:\s+with\s+identifier)?|client[_ ]?id|app[_ ]?id"
    r"|application\s+id)" + _Q + r"\s*[:=]?\s*" + _Q + _GUID_HEAD + r")",
    re.IGNORECASE,
)
_GROUP_FIELD = {
    "trace": "trace_id",
    "corr": "correlation_id",
    "ts": "timestamp",
    "err": "error",
    "sub": "suberror",
    "client": "client_id",
}
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_BREAKS = re.compile(r"\s+|\\+[rn]")
_EXCERPT_END = re.compile(r"\\+[rn]|[\r\n]|\\+\"|&quot;|\\+u0022|Trace ID|\",|\"}")
_UNESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})|\\+([\"'/\\])")
_NEAR = 3000  # how far before a code a context field may sit (JSON keys preceding error_description)
_CUE_WINDOW = 800

# Every pattern above contains one of these; a text with none of them has no readable code.
_CHEAP_CUES = ("aadsts", "error_code", "errorcode", "error code", "code=", "code%3d", "clitelem")


@dataclass(frozen=True)
class Signatures:
    """Phrases that identify a code when the text lost it. Built once from the knowledge base.

    A phrase is lowercase words; ``*`` stands for a short gap (an app id, a tenant name). Word
    separators match any whitespace, escaped line breaks or ``&nbsp;``.
    """

    rx: re.Pattern[str] | None
    phrases: tuple[tuple[re.Pattern[str], str, str], ...]  # (compiled, code, phrase)

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, str]]) -> Signatures:
        compiled: list[tuple[re.Pattern[str], str, str]] = []
        for code, phrase in pairs:
            compiled.append((re.compile(_phrase_pattern(phrase), re.IGNORECASE), code, phrase))
        if not compiled:
            return cls(None, ())
        union = "|".join(f"(?:{p.pattern})" for p, _, _ in compiled)
        return cls(re.compile(union, re.IGNORECASE), tuple(compiled))

    def scan(self, text: str) -> list[Inferred]:
        if self.rx is None:
            return []
        found: list[Inferred] = []
        for m in self.rx.finditer(text):
            matched = m.group(0)
            for pattern, code, phrase in self.phrases:
                if pattern.fullmatch(matched):
                    found.append(Inferred(code, phrase, m.span()))
                    break
        return found


NO_SIGNATURES = Signatures(None, ())


def _phrase_pattern(phrase: str) -> str:
    gap = r"[^\n]{0,80}?"
    sep = r"(?:\s|\\+[rnt]|&nbsp;|&#160;)+"
    parts = []
    for word in phrase.lower().split():
        parts.append(gap if word == "*" else re.escape(word))
    pattern = sep.join(parts)
    return pattern.replace(sep + gap + sep, sep + gap)


def detect(text: str, signatures: Signatures = NO_SIGNATURES) -> Detection:
    """Every AADSTS code in ``text`` in order of first appearance, de-duplicated by code."""
    if not isinstance(text, str) or not text:
        return Detection()
    lowered = text.lower()
    has_cue = any(cue in lowered for cue in _CHEAP_CUES)
    hits = _code_hits(text) if has_cue else []
    inferred_all = signatures.scan(text)
    literal_codes = {code for _, code, _, _ in hits}
    inferred: list[Inferred] = []
    for inf in inferred_all:
        if inf.code not in literal_codes and all(i.code != inf.code for i in inferred):
            inferred.append(inf)
    if not hits:
        primary = inferred[0].code if inferred else None
        return Detection((), tuple(inferred), primary)
    findings = _with_context(text, hits)
    return Detection(findings, tuple(inferred), _primary(findings))


def _code_hits(text: str) -> list[tuple[int, str, How, tuple[int, int]]]:
    """(position, code, how, span) for every code, first occurrence of each code only."""
    raw: list[tuple[int, str, How, tuple[int, int]]] = []
    for m in _LITERAL.finditer(text):
        raw.append((m.start(), m.group(1), How.LITERAL, m.span()))
    for m in _ERROR_CODES.finditer(text):
        for number in re.findall(r"\d+", m.group(1)):
            if 5 <= len(number) <= 7:
                raw.append((m.start(), number, How.ERROR_CODES, m.span()))
    for m in _ERROR_URI.finditer(text):
        raw.append((m.start(), m.group(1), How.ERROR_URI, m.span()))
    for m in _SIGNIN.finditer(text):
        window = text[max(0, m.start() - _CUE_WINDOW) : m.end() + _CUE_WINDOW]
        if _SIGNIN_CUE.search(window):
            raw.append((m.start(), m.group(1), How.SIGNIN, m.span()))
    for m in _SIGNIN_PORTAL.finditer(text):
        raw.append((m.start(), m.group(1), How.SIGNIN, m.span()))
    for m in _BROKER.finditer(text):
        raw.append((m.start(), m.group(1), How.BROKER, m.span()))
    for m in _TELEMETRY.finditer(text):
        raw.append((m.start(), m.group(1), How.TELEMETRY, m.span()))
    raw.sort(key=lambda hit: (hit[0], list(How).index(hit[2])))
    seen: set[str] = set()
    hits = []
    for hit in raw:
        if hit[1] not in seen and hit[1] != "0" * len(hit[1]):
            seen.add(hit[1])
            hits.append(hit)
    return hits


def _with_context(text: str, hits: list[tuple[int, str, How, tuple[int, int]]]) -> tuple[Finding, ...]:
    fields: dict[str, tuple[list[int], list[str]]] = {name: ([], []) for name in _GROUP_FIELD.values()}
    for m in _CONTEXT.finditer(text):
        group = m.lastgroup
        if group is None:
            continue
        value = _context_value(group, m.group(m.lastindex + 1 if m.lastindex else 0))
        if value:
            positions, values = fields[_GROUP_FIELD[group]]
            positions.append(m.start())
            values.append(value)
    findings = []
    for i, (pos, code, how, span) in enumerate(hits):
        end = hits[i + 1][0] if i + 1 < len(hits) else len(text)
        found = {name: _nearest(pos, end, *pv) for name, pv in fields.items()}
        findings.append(Finding(code=code, how=how, span=span, excerpt=_excerpt(text, span, how), **found))
    return tuple(findings)


def _context_value(group: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    if group in ("trace", "corr", "client"):
        guid = _GUID.match(_BREAKS.sub("", raw))
        return guid.group(0).lower() if guid else None
    if group == "ts":
        return raw.replace(" ", "T", 1)
    return raw.lower()


def _nearest(pos: int, end: int, positions: list[int], values: list[str]) -> str | None:
    """The first value inside this finding's own segment, else the closest one just before it."""
    i = bisect.bisect_left(positions, pos)
    if i < len(positions) and positions[i] < end:
        return values[i]
    if i > 0 and pos - positions[i - 1] <= _NEAR:
        return values[i - 1]
    return None


def _excerpt(text: str, span: tuple[int, int], how: How) -> str:
    if how is not How.LITERAL:
        return text[span[0] : span[1]]
    window = text[span[0] : span[0] + 400]
    cut = _EXCERPT_END.search(window, span[1] - span[0])
    snippet = window[: cut.start()] if cut else window
    snippet = _UNESCAPE.sub(_unescape_one, snippet)
    return " ".join(html.unescape(snippet).split())[:300]


def _unescape_one(m: re.Match[str]) -> str:
    if m.group(1):
        try:
            return chr(int(m.group(1), 16))
        except ValueError:  # pragma: no cover - four hex digits always decode
            return m.group(0)
    return m.group(2)


def _primary(findings: tuple[Finding, ...]) -> str | None:
    specific = [f.code for f in findings if f.code not in GENERIC_CODES]
    if specific:
        return specific[0]
    return findings[0].code if findings else None
