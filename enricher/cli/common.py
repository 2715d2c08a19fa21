"""Helpers the subcommands share: loading the knowledge base once, JSON shapes, the version text."""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
from collections.abc import Sequence
from typing import Any

import enricher
from enricher.core.kb_schema import Entry
from enricher.core.knowledge import KnowledgeBase, load_knowledge
from enricher.core.render import Style
from enricher.core.wording import counted


@functools.cache
def _cached_kb(dirs: tuple[str, ...]) -> KnowledgeBase:
    return load_knowledge(dirs)


def knowledge(args: argparse.Namespace) -> KnowledgeBase:
    return _cached_kb(tuple(getattr(args, "kb_dir", None) or ()))


def style(args: argparse.Namespace) -> Style:
    return Style(bool(getattr(args, "colour", False)))


def width() -> int:
    """Columns to wrap prose to: the terminal's (``COLUMNS`` when set), 100 when unknown."""
    return shutil.get_terminal_size((100, 24)).columns - 1


def entry_json(entry: Entry, *, known: bool = True) -> dict[str, Any]:
    data = entry.to_json()
    data.update(known=known, lookup_url=entry.lookup_url, rich=entry.rich if known else False)
    return data


def print_json(data: object, *, pretty: bool = True) -> None:
    sys.stdout.write(json.dumps(data, indent=2 if pretty else None, ensure_ascii=False) + "\n")


def version_text(kb_dirs: Sequence[str] = ()) -> str:
    kb = _cached_kb(tuple(kb_dirs))
    lines = [
        f"aadsts-enricher {enricher.__version__}",
        f"knowledge base {kb.version} ({counted(len(kb), 'entry', 'entries')})",
    ]
    lines += [f"  {line}" for line in kb.meta.changelog[:5]]
    return "\n".join(lines)
