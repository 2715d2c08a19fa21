"""An example for every ``--help``, and the help formatter that prints them as written.

Kept in one table so a test can run each example line through the real parser: an example that
names a flag the command no longer has fails the build instead of misleading a reader.
"""

from __future__ import annotations

import argparse
import textwrap

#: command path (space-separated; "" is the program itself) -> example command lines
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("aadsts-enricher explain 53003", "aadsts-enricher demo --cycles 3"),
    "explain": (
        "aadsts-enricher explain AADSTS53003",
        "aadsts-enricher explain 7000222 --context adf",
        "aadsts-enricher explain --all --json > kb.json",
    ),
    "enrich": (
        "aadsts-enricher enrich 'AADSTS7000222: The provided client secret keys for app ... are expired.'",
        "cat refresh-error.json | aadsts-enricher enrich - --context powerbi --json",
        "aadsts-enricher enrich --jsonl errors.jsonl > enriched.jsonl",
        "aadsts-enricher enrich --jsonl errors.jsonl --workers 2 > enriched.jsonl",
    ),
    "kb": ("aadsts-enricher kb stats",),
    "kb stats": ("aadsts-enricher kb stats --json",),
    "run": ("aadsts-enricher run --config /etc/aadsts-enricher/config.yaml",),
    "once": ("aadsts-enricher once --config config/example.yaml",),
    "demo": ("aadsts-enricher demo --cycles 3", "aadsts-enricher demo --listen 127.0.0.1:9464"),
    "health": ("aadsts-enricher health --url http://127.0.0.1:9464 --ready",),
    "check-config": ("aadsts-enricher check-config --config config/example.yaml",),
    "routes": ("aadsts-enricher routes test --config config/example.yaml severity=critical code=53003",),
    "routes test": (
        "aadsts-enricher routes test --config config/example.yaml severity=critical code=53003 workspace=Finance",
        "aadsts-enricher routes test --config config/example.yaml --json --expect console,file severity=critical",
        "aadsts-enricher routes test --config config/example.yaml --with-state code=53003 tenant=contoso",
    ),
    "silence": ("aadsts-enricher silence list --config config/example.yaml",),
    "silence add": (
        "aadsts-enricher silence add --config config/example.yaml --match code=53003 --duration 2h "
        "--comment 'policy change in review'",
    ),
    "silence list": ("aadsts-enricher silence list --config config/example.yaml --all",),
    "silence expire": ("aadsts-enricher silence expire --config config/example.yaml 3",),
    "simulate": (
        "aadsts-enricher simulate --port 8443",
        "aadsts-enricher simulate --port 0 --state-dir /tmp/sim2",
    ),
    "test-sink": ("aadsts-enricher test-sink slack --config config/example.yaml",),
}


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs as usual but prints indented lines (the examples) untouched."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for block in text.split("\n\n"):
            if any(line.startswith("  ") for line in block.splitlines()):
                paragraphs.append(textwrap.indent(block, indent))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(block.split()), width, initial_indent=indent, subsequent_indent=indent
                    )
                )
        return "\n\n".join(paragraphs)


def attach(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Give ``parser`` and every subcommand under it its examples (after any epilog it has)."""
    examples = EXAMPLES.get(path, ())
    if examples:
        lines = "\n".join(f"  $ {line}" for line in examples)
        title = "example:" if len(examples) == 1 else "examples:"
        parser.epilog = "\n\n".join(p for p in (parser.epilog, f"{title}\n{lines}") if p)
    parser.formatter_class = HelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                attach(sub, f"{path} {name}".strip())
