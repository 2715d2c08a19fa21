"""The grading rules of knowledge/README.md hold for every entry.

The groups are read from the README's table, so the rules an author reads are the rules the test
enforces; the invariants below hold for all entries.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from enricher.core.kb_schema import SEVERITIES, Entry
from enricher.core.knowledge import KnowledgeBase, load_knowledge

REPO = Path(__file__).resolve().parents[1]
README = REPO / "knowledge" / "README.md"
FIELDS = ("severity", "transient", "needs_user", "category")


@dataclass(frozen=True)
class Group:
    """One row of the README's grading table: codes that must share the values it gives."""

    name: str
    codes: tuple[str, ...]
    expected: dict[str, str]  # field -> value as written ("high", "false", "federation_idp")


def parse_groups(text: str) -> list[Group]:
    section = text.split("## Grading rules", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\|(?! *group *\|)(?! *-)(.+)\|\s*$", section, re.MULTILINE)
    groups = []
    for row in rows:
        name, codes, *values = (cell.strip() for cell in row.split("|"))
        expected = {f: v for f, v in zip(FIELDS, values, strict=True) if v != "-"}
        groups.append(Group(name, tuple(codes.split()), expected))
    return groups


@cache
def kb() -> KnowledgeBase:
    return load_knowledge()


@cache
def groups() -> tuple[Group, ...]:
    return tuple(parse_groups(README.read_text(encoding="utf-8")))


def value(entry: Entry, field: str) -> str:
    got = getattr(entry, field)
    return str(got).lower() if isinstance(got, bool) else str(got)


def break_group(group: Group, kb: KnowledgeBase) -> list[tuple[str, str, str]]:
    """(code, field, value) for every member that does not have the row's value."""
    return [
        (code, field, value(kb.entries[code], field))
        for code in group.codes
        for field, want in group.expected.items()
        if value(kb.entries[code], field) != want
    ]


class TestTheTable:
    def test_is_read(self) -> None:
        """The table has the issue's groups, each naming existing codes and valid values."""
        assert len(groups()) >= 10
        for g in groups():
            assert g.codes and g.expected, g.name
            assert all(c in kb().entries for c in g.codes), g.name
            assert g.expected.get("severity", "high") in SEVERITIES, g.name
            assert {g.expected.get(f, "true") for f in ("transient", "needs_user")} <= {"true", "false"}

    def test_no_code_sits_in_two_groups_that_disagree(self) -> None:
        seen: dict[tuple[str, str], str] = {}
        clashes = []
        for g in groups():
            for code in g.codes:
                for field, want in g.expected.items():
                    if seen.setdefault((code, field), want) != want:
                        clashes.append((code, field))
        assert clashes == []

    def test_a_broken_group_is_reported(self) -> None:
        """The check can fail: a row whose members disagree with it names them."""
        row = "| probe | 90002 50059 | medium | false | false | - |"
        (probe,) = parse_groups("## Grading rules\n\n" + row + "\n")
        assert probe.expected == {"severity": "medium", "transient": "false", "needs_user": "false"}
        assert ("90002", "severity", "high") in break_group(probe, kb())


@pytest.mark.parametrize("group", groups(), ids=lambda g: g.name)
def test_group_members_share_the_rows_values(group: Group) -> None:
    assert break_group(group, kb()) == []


class TestInvariants:
    def test_transient_codes_are_neither_critical_nor_for_a_person(self) -> None:
        wrong = [e.code for e in kb() if e.transient and (e.severity == "critical" or e.needs_user)]
        assert wrong == []

    def test_critical_codes_are_about_the_app_not_a_person(self) -> None:
        assert [e.code for e in kb() if e.severity == "critical" and e.needs_user] == []

    def test_category_is_the_tables_unless_a_group_sets_it(self) -> None:
        with (REPO / "knowledge" / "official-codes.tsv").open(encoding="utf-8", newline="") as handle:
            table = {r["code"]: r["category"] for r in csv.DictReader(handle, delimiter="\t")}
        set_by_group = {
            c: g.expected["category"] for g in groups() if "category" in g.expected for c in g.codes
        }
        wrong = {
            e.code: e.category
            for e in kb()
            if e.code in table and e.category != set_by_group.get(e.code, table[e.code])
        }
        assert wrong == {}
