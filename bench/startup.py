"""Benchmark: how long the commands that do not run the daemon take, start-up included.

Run: ``make bench-startup`` (or ``.venv/bin/python bench/startup.py``). Each command runs as a
fresh process (best of ``--repeat``) after one warm-up run, which fills the parsed knowledge-base
cache as any first run does. The baseline is the interpreter alone (``python -c pass``); the
ratio says what our imports and loading add.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ["explain", "53003"],
    ["--version"],
    ["kb", "stats"],
    ["enrich", "AADSTS7000222: The provided client secret keys for app are expired."],
)


def best(argv: list[str], repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process), each the best of ``repeat``."""
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
    times, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return min(times), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base, base_cpu = best([sys.executable, "-c", "pass"], args.repeat)
    print("| command | seconds (wall) | CPU seconds | wall / bare interpreter |")
    print("|---|---:|---:|---:|")
    print(f"| `python -c pass` (baseline) | {base:.3f} | {base_cpu:.3f} | 1.0 |")
    for command in COMMANDS:
        took, cpu = best([sys.executable, "-m", "enricher", *command], args.repeat)
        shown = " ".join(command if command[0] != "enrich" else ["enrich", "'AADSTS7000222: ...'"])
        print(f"| `{shown}` | {took:.3f} | {cpu:.3f} | {took / base:.1f} |")


if __name__ == "__main__":
    main()
