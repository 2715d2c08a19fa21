"""``aadsts-enricher explain``: what a code means and how to fix it."""

from __future__ import annotations

import argparse

from enricher.cli import common
from enricher.core.enrich import entry_for
from enricher.core.kb_schema import CODE_RX, CONTEXTS
from enricher.core.render import entry_text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "explain",
        help="explain one AADSTS code (or export all with --all --json)",
        description=(
            "Print what an AADSTS code means, why it happens, how to fix it and what it means in Power BI, "
            "the gateway, Fabric, ADF, Synapse and Databricks. CODE may be written 53003 or AADSTS53003."
        ),
    )
    p.add_argument("code", nargs="?", help="the code, e.g. 53003 or AADSTS53003")
    p.add_argument("--all", action="store_true", help="every entry (with --json: one JSON array)")
    p.add_argument(
        "--context", choices=CONTEXTS, help="show this product's section right after the steps (and no other)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    kb = common.knowledge(args)
    if args.all:
        if args.json:
            common.print_json([common.entry_json(e) for e in kb])
        else:
            style, width = common.style(args), common.width()
            print("\n\n".join(entry_text(e, style, context=args.context, width=width) for e in kb))
        return 0
    if not args.code:
        raise SystemExit("aadsts-enricher explain: give a CODE or --all (see --help)")
    code = args.code.strip().upper().removeprefix("AADSTS")
    if not CODE_RX.match(code):
        print(f"aadsts-enricher explain: {args.code!r} is not an AADSTS code (5 to 7 digits)")
        return 2
    entry, known = entry_for(code, kb)
    if args.json:
        common.print_json(common.entry_json(entry, known=known))
    else:
        print(entry_text(entry, common.style(args), context=args.context, known=known, width=common.width()))
    return 0
