"""``silence add|list|expire``: mute notifications that match, until a time."""

from __future__ import annotations

import argparse
import getpass
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from enricher.errors import ConfigError

if TYPE_CHECKING:  # loaded when a silence command runs, not at every start-up
    from enricher.config import Match
    from enricher.store import Store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "silence",
        help="add, list or expire silences",
        description="Silences hold back notifications whose labels match (severity, category, "
        "code, source, tenant, workspace, item; globs or re:...) until they expire.",
    )
    s = p.add_subparsers(dest="silence_command", metavar="ACTION", required=True)
    add = s.add_parser("add", help="add a silence")
    add.add_argument("--config", required=True, metavar="FILE")
    add.add_argument(
        "--match",
        action="append",
        required=True,
        metavar="LABEL=VALUE",
        help="e.g. code=53003 or workspace='Sandbox*' (repeatable, all must match)",
    )
    add.add_argument("--duration", default="4h", help="how long (e.g. 30m, 4h, 2d; default 4h)")
    add.add_argument("--comment", default="")
    add.set_defaults(func=cmd_add)
    ls = s.add_parser("list", help="list active silences (--all: also expired)")
    ls.add_argument("--config", required=True, metavar="FILE")
    ls.add_argument("--all", action="store_true")
    ls.set_defaults(func=cmd_list)
    ex = s.add_parser("expire", help="end a silence now")
    ex.add_argument("--config", required=True, metavar="FILE")
    ex.add_argument("id")
    ex.set_defaults(func=cmd_expire)


def _store(path: str) -> Store:
    from enricher.wiring.build import open_store
    from enricher.wiring.preflight import load_checked

    return open_store(load_checked(path))


def parse_match(pairs: list[str]) -> Match:
    from pydantic import ValidationError

    from enricher.config import Match
    from enricher.config_load import error_line

    data: dict[str, list[str]] = {}
    for pair in pairs:
        label, sep, value = pair.partition("=")
        if not sep or not value:
            raise ConfigError(f"--match {pair!r}: expected LABEL=VALUE")
        data.setdefault(label.strip(), []).append(value.strip())
    try:
        return Match.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"--match {error_line(exc, Match)}") from exc


def cmd_add(args: argparse.Namespace) -> int:
    from enricher.config import parse_duration
    from enricher.core.routing import Silence

    match = parse_match(args.match)
    now = datetime.now(UTC)
    try:
        ends = now + parse_duration(args.duration)
    except ValueError as exc:
        raise ConfigError(f"--duration: {exc}") from exc
    silence = Silence(uuid.uuid4().hex[:12], match, ends, args.comment, getpass.getuser())
    store = _store(args.config)
    store.add_silence(silence)
    store.close()
    print(f"silence {silence.id} until {ends:%Y-%m-%d %H:%M} UTC: {match.model_dump(exclude_none=True)}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = _store(args.config)
    now = datetime.now(UTC)
    found = store.silences(now, include_expired=args.all)
    store.close()
    if not found:
        print("no silences")
    for s in found:
        state = "active" if s.active(now) else "expired"
        print(
            f"{s.id}  {state:<8} until {s.ends_at:%Y-%m-%d %H:%M} UTC  {s.match.model_dump(exclude_none=True)}"
            f"  {s.comment}  (by {s.created_by})"
        )
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    store = _store(args.config)
    ok = store.expire_silence(args.id, datetime.now(UTC))
    store.close()
    print(f"silence {args.id} {'expired' if ok else 'not found'}")
    return 0 if ok else 1
