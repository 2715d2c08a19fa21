"""``enrich --jsonl`` input read defensively: one bad line is one error line, never the batch.

What a line can be and what it becomes:

- bytes that are not UTF-8 (whatever the locale: the input is read as UTF-8 with the bad bytes
  kept aside, so ``LC_ALL=C`` changes nothing): ``{"line": N, "error": "not UTF-8 ..."}``;
- JSON nested deeper than the parser allows: an error line, not a ``RecursionError``;
- ``NaN`` or ``Infinity``, which Python's parser accepts but JSON does not: an error line (echoing
  the ``id`` back would write invalid JSON);
- an escaped lone surrogate (``"\\ud800"``): parsed, and written back as U+FFFD, because a lone
  surrogate cannot be written as UTF-8 at all.

Valid input is untouched: the checks below cost a containment test per line unless the line
holds a backslash-u escape or non-ASCII text.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable
from typing import IO, Any

#: a JSON escape of a UTF-16 surrogate (paired ones are fine, json joins them)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: a surrogate code point in a Python string (after json.loads, any is a lone one)
_SURROGATE = re.compile("[\ud800-\udfff]")


class LineError(ValueError):
    """A line that cannot be enriched; the message becomes the line's ``error``."""


def open_lines(name: str) -> IO[str]:
    """The ``--jsonl`` input as text: UTF-8 whatever the locale, undecodable bytes kept as surrogates
    (so :func:`parse` can refuse just that line). Raises ``OSError`` when the file cannot be opened."""
    raw = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115 - closed by the caller
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape")


def parse(line: str) -> dict[str, Any]:
    """A line's JSON object with a string ``text``, or :class:`LineError` saying what is wrong."""
    if not line.isascii() and _SURROGATE.search(line):
        column = _SURROGATE.search(line).start() + 1  # type: ignore[union-attr]
        byte = ord(line[column - 1]) - 0xDC00
        raise LineError(f"not UTF-8 (byte 0x{byte:02x} at character {column})")
    try:
        # ``json.loads`` with an argument builds a decoder per call; the BOM check is its own
        item = json.loads(line, parse_constant=_no_constant) if line[:1] == "\ufeff" else _DECODE(line)
    except RecursionError:
        raise LineError("JSON nested too deeply") from None
    except ValueError as exc:
        raise LineError(str(exc)) from None
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        raise LineError("each line must be a JSON object with a string 'text'")
    return item


def encode(line: str, number: int, write: Callable[[], str]) -> str:
    """``write()``, the result of ``line`` as JSON text, with lone surrogates replaced (only a line
    that escaped one can hold one)."""
    try:
        text = write()
    except RecursionError:  # an id nested just below the parser's limit
        return json.dumps({"line": number, "error": "JSON nested too deeply"}, ensure_ascii=False)
    if "\\u" in line and _SURROGATE_ESCAPE.search(line):
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_DECODE = json.JSONDecoder(parse_constant=_no_constant).decode
