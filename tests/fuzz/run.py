"""``make fuzz``: hypothesis against each target of ``targets.py`` for a bounded time.

Run: ``.venv/bin/python -m tests.fuzz.run [--seconds S] [--only NAME]`` (S per target, default
20). Each target gets rounds of 200 generated inputs until its time is up. Per input: anything
the check does not expect is a crash; longer than ``--hang`` seconds (SIGALRM) is a hang. Per
target, before the first and after the last round: threads, open file descriptors and resident
memory; more threads or descriptors afterwards, or memory grown by over ``--leak-mb``, is a leak.
Prints one line per target and exits 1 on any finding, with the smallest input hypothesis found.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzz.targets import Target, targets


class HungError(Exception):
    """An input took longer than the hang bound."""


@dataclass
class Outcome:
    tried: int = 0
    findings: list[str] = field(default_factory=list)


@contextmanager
def bound(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: Any) -> None:
        raise HungError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def usage() -> tuple[int, int, float]:
    """Threads, open file descriptors, resident MB."""
    fds = len(os.listdir("/proc/self/fd"))
    rss = next(
        int(line.split()[1]) / 1024
        for line in open("/proc/self/status", encoding="ascii")  # noqa: SIM115 - read at once
        if line.startswith("VmRSS:")
    )
    return threading.active_count(), fds, rss


def fuzz(target: Target, seconds: float, hang: int) -> Outcome:
    outcome = Outcome()

    @settings(
        max_examples=200,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        print_blob=False,
    )
    @given(target.strategy)
    def one_round(value: Any) -> None:
        outcome.tried += 1
        with bound(hang):
            target.check(value)

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            one_round()
        except Exception as exc:  # the smallest failing input, as hypothesis shrank it
            outcome.findings.append(f"{type(exc).__name__}: {str(exc)[:300]}")
            break
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per target (default 20)")
    parser.add_argument("--hang", type=int, default=30, help="seconds one input may take (default 30)")
    parser.add_argument("--leak-mb", type=float, default=150.0, help="memory growth allowed per target")
    parser.add_argument("--only", action="append", help="run only this target (repeatable)")
    args = parser.parse_args()
    chosen = [t for t in targets() if not args.only or t.name in args.only]
    bad = 0
    print(f"fuzzing {len(chosen)} targets, {args.seconds:g} s each (hang: {args.hang} s per input)")
    for target in chosen:
        fuzz(target, min(1.0, args.seconds), args.hang)  # warm-up: caches, imports, pools
        before = usage()
        started = time.monotonic()
        outcome = fuzz(target, args.seconds, args.hang)
        took = time.monotonic() - started
        after = usage()
        leaks = []
        if after[0] > before[0]:
            leaks.append(f"threads {before[0]} -> {after[0]}")
        if after[1] > before[1]:
            leaks.append(f"open files {before[1]} -> {after[1]}")
        if after[2] - before[2] > args.leak_mb:
            leaks.append(f"memory {before[2]:.0f} -> {after[2]:.0f} MB")
        findings = outcome.findings + [f"leak: {x}" for x in leaks]
        bad += bool(findings)
        verdict = "FAILED" if findings else "ok"
        print(
            f"  {target.name:<12} {verdict:<6} {outcome.tried:>7,} inputs in {took:5.1f} s"
            f"  threads {after[0]}, files {after[1]}, RSS {after[2]:.0f} MB  ({target.what})"
        )
        for finding in findings:
            print(f"      {finding}")
        target.close()
    print("nothing crashed, hung or leaked" if not bad else f"{bad} target(s) with findings")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
