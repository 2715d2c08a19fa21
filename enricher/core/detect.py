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
found (``detect_context``, which also cuts each code's excerpt).

A bare number is only reported under a key that means "AADSTS code": an ADF activity's
``"errorCode": "2200"`` is ADF's own code and is never read as one (it is quoted, has 4 digits and
no sign-in record around it).

Primary code rule: among the codes read from the text (inferred codes never count), the primary
one is the first by position, except that the generic wrapper code 50000 ("there was an issue
issuing the token") gives way to any other code, because when both appear the other code names the
actual cause. Inferred codes become primary only when nothing was read literally.
"""

from __future__ import annotations

import re

from enricher.core.detect_context import QUOTE as _Q
from enricher.core.detect_context import SEP as _SEP
from enricher.core.detect_context import Hit as _Hit
from enricher.core.detect_context import with_context
from enricher.core.signatures import NO_SIGNATURES, Signatures
from enricher.models import Detection, Finding, How, Inferred

__all__ = ["GENERIC_CODES", "NO_SIGNATURES", "Signatures", "detect"]

GENERIC_CODES = frozenset({"50000"})

_CODE = r"(\d{5,7})(?!\d)"
#: what ``(?<![a-z_])`` excluded: a key that merely ends in "errorcode" (``servererrorcode``)
_LOWER_WORD = "abcdefghijklmnopqrstuvwxyz_"


class _Rx:
    """A lowercase pattern that runs only when one of its cue words occurs in the text.

    ``not_after``: characters that must not come just before a match. Checked by ``_code_hits``
    rather than with a lookbehind, because a pattern that starts with a lookbehind loses the regex
    engine's literal-prefix search and tries every position (twice as slow on texts holding the word).
    """

    def __init__(
        self, pattern: str, cue: tuple[str, ...], not_after: str = "", says_code: bool = True
    ) -> None:
        self.rx = re.compile(pattern)
        self.cue = cue
        self.not_after = not_after
        #: every match holds the word "code": most messages have none, and one test skips them all
        self.says_code = says_code


# (pattern, how, needs a sign-in record nearby)
_CODE_PATTERNS: tuple[tuple[_Rx, How], ...] = (
    (_Rx(r"aadsts[ _:#-]?" + _CODE, ("aadsts",), says_code=False), How.LITERAL),
    (
        _Rx(r"error_?codes" + _Q + _SEP + r"\[\s*(\d{1,9}(?:\s*,\s*\d{1,9}){0,20})\s*\]", ("codes",)),
        How.ERROR_CODES,
    ),
    (_Rx(r"error(?:\?|%3f)code(?:=|%3d)" + _CODE, ("code=", "code%3d")), How.ERROR_URI),
    # a sign-in record's status.errorCode is an unquoted number (or PowerShell's "ErrorCode : 53003")
    (_Rx(r"errorcode" + _Q + _SEP + _CODE + r"(?![\"'\\.\w])", ("errorcode",), _LOWER_WORD), How.SIGNIN),
    (_Rx(r"sign-?in error code" + _Q + r"\s*[:=]?\s*" + _Q + _CODE, ("error code",)), How.SIGNIN),
    (_Rx(r"server[_ ]?error[_ ]?code" + _Q + _SEP + _Q + _CODE, ("server",)), How.BROKER),
    (
        _Rx(r"x-ms-clitelem" + _Q + _SEP + _Q + r"\d,(\d{5,7}),", ("clitelem",), says_code=False),
        How.TELEMETRY,
    ),
)
#: the same, flat: (cue words, the pattern's finditer, how, not_after)
_CODE_TABLE = tuple((rx.cue, rx.rx.finditer, how, rx.not_after) for rx, how in _CODE_PATTERNS)
#: the rows worth trying on a text without the word "code"
_CODELESS_TABLE = tuple(
    (rx.cue, rx.rx.finditer, how, rx.not_after) for rx, how in _CODE_PATTERNS if not rx.says_code
)
_SIGNIN_CUE = re.compile(
    r"failurereason|conditionalaccessstatus|signineventtypes|userprincipalname|createddatetime|appdisplayname",
    re.IGNORECASE,
)
_CUE_WINDOW = 800
_DIGITS = re.compile(r"\d+")
_ORDER = {how: i for i, how in enumerate(How)}


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
    findings = with_context(text, low, hits)
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
    for cues, finditer, how, not_after in _CODE_TABLE if "code" in low else _CODELESS_TABLE:
        for cue in cues:  # the cue test, inlined: this loop runs for every message
            if cue in low:
                break
        else:
            continue
        for m in finditer(low):
            start = m.start()
            if not_after and start and low[start - 1] in not_after:
                continue
            if how is How.ERROR_CODES:
                raw.extend((start, n, how, m.span()) for n in _DIGITS.findall(m.group(1)) if 5 <= len(n) <= 7)
            elif how is How.SIGNIN and "error code" not in m.group(0):
                window = low[max(0, start - _CUE_WINDOW) : m.end() + _CUE_WINDOW]
                if _SIGNIN_CUE.search(window):
                    raw.append((start, m.group(1), how, m.span()))
            else:
                raw.append((start, m.group(1), how, m.span()))
    return _first_of_each(raw)


def _first_of_each(raw: list[_Hit]) -> list[_Hit]:
    """The hits in text order, one per code (and none for an all-zero number)."""
    if len(raw) > 1:
        raw.sort(key=lambda hit: (hit[0], _ORDER[hit[2]]))
    seen: set[str] = set()
    hits = []
    for hit in raw:
        if hit[1] not in seen and int(hit[1]):
            seen.add(hit[1])
            hits.append(hit)
    return hits


def _primary(findings: tuple[Finding, ...]) -> str | None:
    specific = [f.code for f in findings if f.code not in GENERIC_CODES]
    if specific:
        return specific[0]
    return findings[0].code if findings else None
