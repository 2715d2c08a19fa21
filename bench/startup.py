"""Benchmark: how long the commands that do not run the daemon take, start-up included.

Run: ``make bench-startup`` (or ``.venv/bin/python bench/startup.py``). Each command runs as a
fresh process (best of ``--repeat``) after one warm-up run, which fills the parsed knowledge-base
cache as any first run does. The baseline is the interpreter alone (``python -c pass``); the
ratio says what our imports and loading add.
"""

from __future__ import annotations

import argparse
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


def best(argv: list[str], repeat: int) -> float:
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = best([sys.executable, "-c", "pass"], args.repeat)
    print("| command | seconds | / bare interpreter |")
    print("|---|---:|---:|")
    print(f"| `python -c pass` (baseline) | {base:.3f} | 1.0 |")
    for command in COMMANDS:
        took = best([sys.executable, "-m", "enricher", *command], args.repeat)
        shown = " ".join(command if command[0] != "enrich" else ["enrich", "'AADSTS7000222: ...'"])
        print(f"| `{shown}` | {took:.3f} | {took / base:.1f} |")


if __name__ == "__main__":
    main()
