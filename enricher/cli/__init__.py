"""The ``aadsts-enricher`` command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function; the list below is
the one place that wires them up. Exit codes: 0 success, 1 the command ran and found a problem (for
``enrich``: no code found; for ``once``: the cycle failed), 2 bad usage, config or knowledge base.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from enricher.cli import (
    common,
    config_cmds,
    daemon_cmds,
    enrich_cmd,
    examples,
    explain,
    kb,
    routes,
    silence,
    simulate,
    test_sink,
)
from enricher.errors import ConfigError, EnricherError, KnowledgeError

COMMANDS = (explain, enrich_cmd, kb, daemon_cmds, config_cmds, routes, silence, simulate, test_sink)


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the program and knowledge-base versions")

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        kb_dirs = getattr(args[0], "kb_dir", None) or []
        print(common.version_text(kb_dirs))
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aadsts-enricher",
        description=(
            "Finds Microsoft Entra sign-in failures (AADSTS codes) in Power BI, Fabric, Data Factory and "
            "Synapse runs, explains each one (cause, fix, severity) and alerts."
        ),
        epilog="Run 'aadsts-enricher COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--kb-dir",
        action="append",
        metavar="DIR",
        help="directory of YAML entries that extend or override the built-in knowledge base (repeatable)",
    )
    parser.add_argument("--no-color", action="store_true", help="never colour the output (also: NO_COLOR=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    examples.attach(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point. A reader that stops early (``aadsts-enricher --version | head -1``) closes
    the pipe: whatever was left to write is dropped and the command exits 0 without a traceback.
    (SIGPIPE stays ignored, as Python sets it: its default action would also kill ``run`` on a
    socket whose peer went away.)"""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here a closed pipe is ours to catch, not the interpreter's at exit
    except BrokenPipeError:
        _drop_stdout()
        return 0


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (tests capture it)
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    args.colour = not args.no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()
    try:
        return int(args.func(args))
    except (ConfigError, KnowledgeError) as exc:
        print(f"aadsts-enricher: {exc}", file=sys.stderr)
        return 2
    except EnricherError as exc:
        print(f"aadsts-enricher: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
