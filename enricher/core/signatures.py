"""Message signatures: phrases that identify a code when a wrapper dropped the code itself.

A phrase is lowercase words; ``*`` stands for a short gap (an app id, a tenant name). Word
separators match any whitespace, escaped line breaks or ``&nbsp;``. Each phrase has an anchor, its
longest uncommon word. A cheap test finds which anchors occur at all (the set of the text's words
for short texts; one pass of a trie-shaped regex of all anchors for long ones, which is five times
faster than a plain alternation), and only those phrases' patterns run. For ASCII text the words
are split as bytes (``bytes.translate`` is a table lookup; ``str.translate`` with a dict calls back
per character, half the cost of a short message's detection).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from enricher.models import Inferred

_GAP = r"[^\n]{0,80}?"
# Words too common in error texts to be a useful anchor (they would wake phrase checks everywhere).
_COMMON = frozenset(
    [
        "the",
        "and",
        "for",
        "with",
        "was",
        "were",
        "has",
        "have",
        "been",
        "not",
        "this",
        "that",
        "from",
        "your",
        "you",
        "are",
        "can",
        "could",
        "must",
        "user",
        "users",
        "client",
        "token",
        "tokens",
        "access",
        "application",
        "app",
        "request",
        "provided",
        "error",
        "failed",
        "because",
        "account",
    ]
)
_SEP = r"(?:\s|\\+[rnt]|&nbsp;|&#160;)+"
_LETTERS_ONLY = {c: " " for c in range(128) if not chr(c).isalpha()}
_LETTERS_ONLY_BYTES = bytes(c if chr(c).isalpha() and c < 128 else 32 for c in range(256))
_SPLIT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class _Phrase:
    code: str
    phrase: str
    anchor: str
    pattern: str
    #: another word of the phrase (its second-best anchor), or "": every match holds it, and a
    #: substring test costs a fifth of running the pattern over a message that lacks it
    also: str = ""

    @functools.cached_property
    def rx(self) -> re.Pattern[str]:
        """Compiled the first time a text holds the anchor: compiling all 90 phrases up front was
        0.02 s of every ``enrich`` start-up, and most runs need a few of them."""
        return re.compile(self.pattern)


@dataclass(frozen=True)
class Signatures:
    anchors: re.Pattern[str] | None
    by_anchor: dict[str, tuple[_Phrase, ...]]
    #: the anchors as bytes, for the ASCII fast path
    anchor_bytes: frozenset[bytes] = frozenset()

    @classmethod
    def build(cls, pairs: Iterable[tuple[str, str]]) -> Signatures:
        by_anchor: dict[str, list[_Phrase]] = {}
        for code, phrase in pairs:
            words = phrase.lower().split()
            letters = re.findall(r"[a-z]+", " ".join(w for w in words if w != "*"))
            # the longest uncommon word anchors the phrase; the next best is checked before its pattern runs
            anchor, *rest = sorted(letters, key=lambda w: (w not in _COMMON, len(w)), reverse=True)
            also = next((w for w in rest if w != anchor), "")
            pattern = _phrase_pattern(words)
            by_anchor.setdefault(anchor, []).append(_Phrase(code, phrase.lower(), anchor, pattern, also))
        if not by_anchor:
            return cls(None, {})
        return cls(
            re.compile(_trie(by_anchor)),
            {a: tuple(p) for a, p in by_anchor.items()},
            frozenset(a.encode("ascii") for a in by_anchor),
        )

    def scan(self, lowered: str) -> list[Inferred]:
        """Inferred codes in order of position. ``lowered`` is the text in lower case."""
        if self.anchors is None:
            return []
        if len(lowered) <= _SPLIT_LIMIT and lowered.isascii():  # the same test on bytes: faster still
            raw = lowered.encode("ascii")
            if b"\\" in raw:
                raw = raw.replace(b"\\n", b"  ").replace(b"\\r", b"  ").replace(b"\\t", b"  ")
            found_bytes = self.anchor_bytes.intersection(raw.translate(_LETTERS_ONLY_BYTES).split())
            present = {b.decode("ascii") for b in found_bytes}
        elif len(lowered) <= _SPLIT_LIMIT:  # a set of the text's words: the fastest test for short texts
            words = lowered
            if "\\" in words:  # an escaped line break must not glue its letter to the next word
                words = words.replace("\\n", " ").replace("\\r", " ").replace("\\t", " ")
            present = self.by_anchor.keys() & set(words.translate(_LETTERS_ONLY).split())
        else:  # one regex pass: no per-word strings for megabytes of logs
            present = {m.group(0) for m in self.anchors.finditer(lowered)}
        found = [
            Inferred(p.code, p.phrase, m.span())
            for anchor in present
            for p in self.by_anchor[anchor]
            if p.also in lowered
            for m in p.rx.finditer(lowered)
        ]
        found.sort(key=lambda i: i.span)
        return found


NO_SIGNATURES = Signatures(None, {})


_Node = dict[str, "_Node"]


def _trie(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, shaped as a prefix tree so each position costs one branch."""
    root: _Node = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: _Node) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body

    return build(root)


def _phrase_pattern(words: list[str]) -> str:
    parts = [_GAP if w == "*" else re.escape(w) for w in words]
    return _SEP.join(parts).replace(_SEP + _GAP + _SEP, _SEP + _GAP)
