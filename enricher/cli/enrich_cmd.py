"""``aadsts-enricher enrich``: find and explain the AADSTS codes in a message.

Output contract (``--json`` and each ``--jsonl`` line), relied on by other tools:
``codes`` (in order of first appearance), ``primary``, ``correlation_id``, ``trace_id``,
``timestamp``, ``entries`` (per code: code, name, title, severity, category, known), ``inferred``
(codes guessed from message phrases: code and phrase; never mixed into ``codes``), ``findings``
(per code: how it was found, span, excerpt and IDs) and, for the primary code, ``advice``.
``warnings`` lists what was ignored (a ``context`` we do not know: the line is still enriched). A
malformed ``--jsonl`` line (not JSON, not UTF-8, nested too deeply, ``NaN``) yields
``{"line": N, "error": "..."}`` and processing goes on (``enrich_input`` says how each is caught).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from enricher.cli import common
from enricher.cli.enrich_input import LineError, open_lines, parse
from enricher.core.enrich import detection_values, entry_for, entry_item
from enricher.core.kb_schema import CONTEXTS
from enricher.core.knowledge import KnowledgeBase
from enricher.core.placeholders import fill_step
from enricher.core.render import detection_text, entry_text
from enricher.models import Detection

# Detection (compiling its patterns) and the batch writer are imported by the functions that use
# them: every command registers this module, and ``explain`` or ``--version`` needs neither.


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "enrich",
        help="find AADSTS codes in a message and explain them",
        description=(
            "Reads an error message (a refresh serviceExceptionJson, a pipeline or activity message, an MSAL "
            "exception, a token-endpoint response...) and prints every AADSTS code in it with its meaning and "
            "fix. Exit code 0 when a code was found, 1 when none was. With --jsonl: 0 when the input was read "
            "to the end (a bad line gets an error object), 2 when FILE cannot be opened, 1 when reading fails."
        ),
    )
    p.add_argument("text", nargs="?", help="the message; '-' or omitted reads standard input")
    p.add_argument("--context", choices=CONTEXTS, help="which product the message came from (for its notes)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.add_argument(
        "--jsonl",
        metavar="FILE",
        help="batch mode: FILE (or '-') holds one JSON object per line with 'text' (and optional 'context', 'id')",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="with --jsonl: enrich in N processes (output keeps the input's order; default 1)",
    )
    p.set_defaults(func=run)


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number from 1 to 64")
    return int(text)


def run(args: argparse.Namespace) -> int:
    from enricher.core.detect import detect

    kb = common.knowledge(args)
    if args.jsonl:
        return _batch(args.jsonl, kb, args.workers)
    # from stdin any bytes: what is not UTF-8 becomes U+FFFD, whatever the locale
    text = str(sys.stdin.buffer.read(), "utf-8", errors="replace") if args.text in (None, "-") else args.text
    detection = detect(text, kb.signatures)
    if args.json:
        common.print_json(result_json(detection, kb, args.context))
    else:
        print(human(detection, kb, args))
    return 0 if detection else 1


def _batch(name: str, kb: KnowledgeBase, workers: int) -> int:
    """``--jsonl``: UTF-8 JSON lines out whatever the locale; a file we cannot read is one line."""
    from enricher.cli.enrich_batch import write_lines

    try:
        handle = open_lines(name)
    except OSError as exc:
        print(f"aadsts-enricher: enrich --jsonl {name}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if isinstance(sys.stdout, io.TextIOWrapper):  # JSON is UTF-8, also under LC_ALL=C or Latin-1
        sys.stdout.reconfigure(encoding="utf-8")
    try:
        with handle:
            write_lines(handle, kb, sys.stdout, workers)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        print(f"aadsts-enricher: enrich --jsonl {name}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def process_lines(lines: Iterable[str], kb: KnowledgeBase) -> Iterator[dict[str, Any]]:
    """The plain path, one dict per line (``enrich_batch`` writes the same bytes, faster)."""
    from enricher.core.detect import detect

    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = parse(line)
        except LineError as exc:
            yield {"line": number, "error": str(exc)}
            continue
        context, warnings = item.get("context"), []
        if context is not None and context not in CONTEXTS:
            # callers pass hints such as "azure-cli" or "msal": the text is still worth enriching
            warnings.append(f"unknown context {context!r} ignored (known: {', '.join(CONTEXTS)})")
            context = None
        out = result_json(detect(item["text"], kb.signatures), kb, context, warnings)
        if "id" in item:
            out = {"id": item["id"], **out}
        yield out


def result_json(
    detection: Detection, kb: KnowledgeBase, context: str | None, warnings: list[str] | None = None
) -> dict[str, Any]:
    entries = [entry_item(code, kb) for code in detection.codes]
    advice = None
    if detection.primary:
        entry, _ = entry_for(detection.primary, kb, detection.first("error"))
        values = detection_values(detection)
        advice = {
            "code": detection.primary,
            "summary": entry.summary,
            "fixes": [fill_step(f.step, values) for f in entry.fixes],
            "context_note": entry.contexts.get(context) if context else None,  # type: ignore[call-overload]
        }
    return {
        "codes": list(detection.codes),
        "primary": detection.primary,
        "correlation_id": detection.first("correlation_id"),
        "trace_id": detection.first("trace_id"),
        "timestamp": detection.first("timestamp"),
        "error": detection.first("error"),
        "suberror": detection.first("suberror"),
        "client_id": detection.first("client_id"),
        "entries": entries,
        "inferred": [{"code": i.code, "phrase": i.phrase} for i in detection.inferred],
        "findings": [_finding_json(f) for f in detection.findings],
        "context": context,
        "advice": advice,
        "warnings": warnings or [],
    }


def _finding_json(finding: object) -> dict[str, Any]:
    data = dataclasses.asdict(finding)  # type: ignore[call-overload]
    data["how"] = str(data["how"])
    data["span"] = list(data["span"])
    return data


def human(detection: Detection, kb: KnowledgeBase, args: argparse.Namespace) -> str:
    style = common.style(args)
    parts = [detection_text(detection, style)]
    if detection.primary:
        entry, known = entry_for(detection.primary, kb, detection.first("error"))
        values = detection_values(detection)
        parts.append(
            entry_text(entry, style, context=args.context, known=known, values=values, width=common.width())
        )
        for code in detection.codes:
            if code != detection.primary:
                other, _ = entry_for(code, kb)
                parts.append(style.heading(f"Also: AADSTS{code}: {other.title}") + f" ({other.severity})")
    return "\n\n".join(parts)
