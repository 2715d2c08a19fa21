"""Benchmark: peak memory (RSS) of ``aadsts-enricher enrich`` on large and hostile input.

Run: ``make bench-enrich-memory`` (or ``.venv/bin/python bench/enrich_memory.py [--mb N]``).
Writes, in a temporary directory: N MB of plain ASCII text with a code at the start (the
baseline), the same with one capital dotted I (``İ``, whose lower case is two characters: it used
to take 875 MB at 10 MB), 5*N MB of random bytes (4.4 GB before), and each of the first two as a
single ``--jsonl`` line. Runs the command once per input as a fresh process and prints its peak
RSS (``getrusage`` of the child), the ratio to the input's size and to the ASCII baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

BIN = Path(sys.executable).parent
#: runs one command and prints the peak RSS of it (kB): a child's own rusage, not this script's
MEASURE = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'rb') as f:\n"
    "    done = subprocess.run(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL, check=False)\n"
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def inputs(tmp: Path, mb: int) -> list[tuple[str, Path, list[str]]]:
    text = "AADSTS50126: Error validating credentials. " + "a" * (mb * 1_000_000)
    ascii_txt, dotted, noise = tmp / "ascii.txt", tmp / "dotted.txt", tmp / "random.bin"
    ascii_txt.write_text(text, encoding="utf-8")
    dotted.write_text(text[: len(text) // 2] + "İ" + text[len(text) // 2 :], encoding="utf-8")
    noise.write_bytes(random.Random(7).randbytes(5 * mb * 1_000_000))
    lines = []
    for path in (ascii_txt, dotted):
        line = path.with_suffix(".jsonl")
        line.write_text(json.dumps({"text": path.read_text(encoding="utf-8")}) + "\n", encoding="utf-8")
        lines.append(line)
    return [
        (f"enrich -, {mb} MB ASCII (baseline)", ascii_txt, ["enrich", "-"]),
        (f"enrich -, {mb} MB with one İ", dotted, ["enrich", "-"]),
        (f"enrich -, {5 * mb} MB random bytes", noise, ["enrich", "-"]),
        (f"enrich --json -, {5 * mb} MB random bytes", noise, ["enrich", "--json", "-"]),
        (f"enrich --jsonl, one {mb} MB ASCII line", lines[0], ["enrich", "--jsonl", "-"]),
        (f"enrich --jsonl, one {mb} MB line with one İ", lines[1], ["enrich", "--jsonl", "-"]),
        (f"enrich --jsonl, {5 * mb} MB random bytes", noise, ["enrich", "--jsonl", "-"]),
    ]


def peak_mb(path: Path, args: list[str]) -> tuple[int, float]:
    command = [sys.executable, "-c", MEASURE, str(path), str(BIN / "aadsts-enricher"), *args]
    code, kb = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return int(code), int(kb) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=10, help="size of the text inputs in MB (random: 5x)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cases = inputs(Path(tmp), args.mb)
        baseline = None
        print(f"{'input':<44} {'exit':>4} {'peak RSS':>10} {'x input':>8} {'x baseline':>10}")
        for name, path, command in cases:
            code, peak = peak_mb(path, command)
            size = os.path.getsize(path) / 1e6
            baseline = baseline or peak
            print(f"{name:<44} {code:>4} {peak:>7.0f} MB {peak / size:>8.1f} {peak / baseline:>10.1f}")


if __name__ == "__main__":
    main()
