"""``aadsts-enricher kb``: knowledge-base coverage and checks."""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from typing import Any

from enricher.cli import common
from enricher.core.knowledge import KnowledgeBase, builtin_root
from enricher.core.wording import counted


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("kb", help="knowledge-base coverage", description="Knowledge-base tools.")
    kb_sub = p.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    stats = kb_sub.add_parser(
        "stats",
        help="coverage of the official code table by category, and how many entries are rich",
        description=(
            "Shows how much of the official AADSTS code table the knowledge base covers, per category, how many "
            "entries are rich (5+ causes, 5+ fixes, notes for every product), how many have a note for at least one "
            "product, how many answer admins' questions (FAQ) and how many carry message signatures."
        ),
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.set_defaults(func=run_stats)


def official_codes() -> dict[str, tuple[str, str]]:
    """code -> (official identifier, category), from the official table shipped with the KB."""
    with (builtin_root() / "official-codes.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["code"]: (row["name"], row["category"]) for row in csv.DictReader(handle, delimiter="\t")}


def coverage(kb: KnowledgeBase) -> dict[str, Any]:
    official = official_codes()
    per_category: dict[str, Counter[str]] = {}
    for code, (_, category) in official.items():
        row = per_category.setdefault(category, Counter())
        row["official"] += 1
        row["covered"] += code in kb.entries
    for entry in kb:
        row = per_category.setdefault(entry.category, Counter())
        row["entries"] += 1
        row["rich"] += entry.rich
        row["observed"] += entry.source == "observed"
    covered = sum(code in kb.entries for code in official)
    return {
        "version": kb.version,
        "entries": len(kb),
        "official": len(official),
        "covered": covered,
        "coverage_percent": round(100 * covered / len(official), 1) if official else 0.0,
        "observed": sum(e.source == "observed" for e in kb),
        "rich": sum(e.rich for e in kb),
        "with_product_notes": sum(bool(e.contexts) for e in kb),
        "with_faq": sum(bool(e.faq) for e in kb),
        "with_signatures": sum(bool(e.signatures) for e in kb),
        "categories": {k: dict(v) for k, v in sorted(per_category.items())},
    }


def run_stats(args: argparse.Namespace) -> int:
    data = coverage(common.knowledge(args))
    if args.json:
        common.print_json(data)
        return 0
    style = common.style(args)
    print(
        style.heading(f"Knowledge base {data['version']}: {counted(data['entries'], 'entry', 'entries')}")
        + f" ({data['entries'] - data['observed']} official, {data['observed']} observed-only),"
        f" {data['rich']} rich, {data['with_product_notes']} with product notes, {data['with_faq']} with a FAQ,"
        f" {data['with_signatures']} with message signatures"
    )
    print(
        f"Official code table covered: {data['covered']}/{data['official']} ({data['coverage_percent']}%)\n"
    )
    print(f"{'category':<26}{'official':>9}{'covered':>9}{'entries':>9}{'rich':>6}{'observed':>10}")
    for name, row in data["categories"].items():
        print(
            f"{name:<26}{row.get('official', 0):>9}{row.get('covered', 0):>9}{row.get('entries', 0):>9}"
            f"{row.get('rich', 0):>6}{row.get('observed', 0):>10}"
        )
    return 0
