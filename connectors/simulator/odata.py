"""A small OData ``$filter`` parser and evaluator (enough for Power BI and Graph).

Supported: ``field op literal`` with eq/ne/gt/ge/lt/le, ``contains(field,'x')``,
``startswith(field,'x')``, ``collection/any(t: t eq 'x')``, ``and``, ``or``, ``not`` and
parentheses. Field paths use ``/`` (``status/errorCode``). Literals: quoted strings (``''``
escapes a quote), numbers, ``true``/``false``/``null`` and bare ISO instants (Graph's
``createdDateTime ge 2025-04-02T00:00:00Z``). Anything else is a ``BadRequest``, as it is in
the real services.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.simulator.http import BadRequest
from connectors.simulator.timefmt import parse_instant

_TOKEN = re.compile(
    r"\s*(?:(?P<punct>[(),:])|(?P<string>'(?:[^']|'')*')|(?P<word>[A-Za-z_$][\w$/.]*)"
    r"|(?P<number>-?\d[\w:.+-]*))"
)
_OPS = {"eq", "ne", "gt", "ge", "lt", "le"}
_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}

Literal = str | float | bool | datetime | None
Getter = Callable[[str], object]


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Literal


@dataclass(frozen=True)
class Call:
    function: str
    field: str
    value: str


@dataclass(frozen=True)
class AnyEq:
    field: str
    value: str


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | Call | AnyEq | Not | And | Or


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise BadRequest(f"Invalid filter clause: cannot read {text[pos:]!r}")
        out.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.items[self.pos] if self.pos < len(self.items) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected):
            raise BadRequest(f"Invalid filter clause: expected {expected or 'more'} at {token!r}")
        self.pos += 1
        return token

    def expression(self) -> Node:
        items = [self.clause()]
        while (self.peek() or "").lower() == "or":
            self.take()
            items.append(self.clause())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def clause(self) -> Node:
        items = [self.term()]
        while (self.peek() or "").lower() == "and":
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else And(tuple(items))

    def term(self) -> Node:
        token = self.take()
        lowered = token.lower()
        if token == "(":
            node = self.expression()
            self.take(")")
            return node
        if lowered == "not":
            return Not(self.term())
        if lowered in {"contains", "startswith"}:
            self.take("(")
            field = self.take()
            self.take(",")
            value = self.literal()
            self.take(")")
            return Call(lowered, field, str(value))
        if lowered.endswith("/any"):
            self.take("(")
            var = self.take()
            self.take(":")
            self.take(var.lower())
            self.take("eq")
            value = self.literal()
            self.take(")")
            return AnyEq(token[: -len("/any")], str(value))
        op = self.take().lower()
        if op not in _OPS:
            raise BadRequest(f"Invalid filter clause: unknown operator {op!r}")
        return Compare(token, op, self.literal())

    def literal(self) -> Literal:
        token = self.take()
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        lowered = token.lower()
        if lowered in {"true", "false"}:
            return lowered == "true"
        if lowered == "null":
            return None
        try:
            return float(token)
        except ValueError:
            pass
        try:
            return parse_instant(token)
        except ValueError:
            raise BadRequest(f"Invalid filter clause: bad literal {token!r}") from None


def parse(text: str | None) -> Node | None:
    if text is None or not text.strip():
        return None
    parser = _Parser(text)
    node = parser.expression()
    if parser.peek() is not None:
        raise BadRequest(f"Invalid filter clause: unexpected {parser.peek()!r}")
    return node


def _compare(actual: object, op: str, wanted: Literal) -> bool:
    if isinstance(actual, str) and isinstance(wanted, datetime):
        actual = parse_instant(actual)
    if isinstance(actual, str) and isinstance(wanted, str):
        actual, wanted = actual.lower(), wanted.lower()
    if op == "eq":
        return actual == wanted
    if op == "ne":
        return actual != wanted
    if actual is None or wanted is None:
        return False
    try:
        return bool(_ORDER[op](actual, wanted))
    except TypeError:
        raise BadRequest(f"Invalid filter clause: cannot compare {actual!r} with {wanted!r}") from None


def matches(node: Node | None, get: Getter) -> bool:
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(n, get) for n in node.items)
    if isinstance(node, Or):
        return any(matches(n, get) for n in node.items)
    if isinstance(node, Not):
        return not matches(node.item, get)
    if isinstance(node, Call):
        actual = str(get(node.field) or "").lower()
        value = node.value.lower()
        return value in actual if node.function == "contains" else actual.startswith(value)
    if isinstance(node, AnyEq):
        values = get(node.field)
        return isinstance(values, list) and node.value.lower() in [str(v).lower() for v in values]
    return _compare(get(node.field), node.op, node.value)


def fields(node: Node | None) -> set[str]:
    """Every field path the filter reads."""
    if node is None:
        return set()
    if isinstance(node, And | Or):
        return set().union(*(fields(n) for n in node.items))
    if isinstance(node, Not):
        return fields(node.item)
    return {node.field}


def conjuncts(node: Node | None) -> list[Node]:
    """The terms that must all hold (for narrowing a search before evaluating the rest)."""
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


def getter(record: dict[str, object]) -> Getter:
    """Read ``a/b`` paths from a JSON-like dict."""

    def get(path: str) -> object:
        value: object = record
        for part in path.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    return get
