"""Benchmark: ``aadsts-enricher enrich --jsonl`` through the CLI, start-up included.

Run: ``make bench-enrich`` (or ``.venv/bin/python bench/enrich.py [--lines N] [--repeat R]``).
Writes N short token/MSAL error lines (``bench/detect.py``'s generator), then runs, each as a
fresh process reading the file and writing to /dev/null: the command with ``--workers 1`` and
``--workers 2``; the plain per-line path it replaced (``process_lines`` + ``json.dumps``); and a
naive baseline (``json.loads`` + ``re.findall(r"AADSTS(\\d{5,7})")`` + dict lookup + ``json.dumps``,
which finds only literal codes and none of the IDs). Prints messages per second of wall time (best
of R) and per CPU second (user + system of the process and its workers: what one core gives,
whatever else the machine is doing), and each against the naive baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.detect import short_message

BIN = Path(sys.executable).parent
PLAIN = (
    "import json, sys\n"
    "from enricher.cli.enrich_cmd import process_lines\n"
    "from enricher.core.knowledge import load_knowledge\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    for out in process_lines(f, load_knowledge()):\n"
    "        sys.stdout.write(json.dumps(out, ensure_ascii=False) + '\\n')\n"
)
NAIVE = (
    "import json, re, sys\n"
    "from enricher.core.knowledge import load_knowledge\n"
    "kb = load_knowledge()\n"
    "titles = {c: e.title for c, e in kb.entries.items()}\n"
    "rx = re.compile(r'AADSTS(\\d{5,7})')\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    for line in f:\n"
    "        codes = rx.findall(json.loads(line)['text'])\n"
    "        sys.stdout.write(json.dumps({'codes': codes, 'titles': [titles.get(c) for c in codes]}) + '\\n')\n"
)


def run(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        subprocess.run(command, stdout=sink, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "messages.jsonl"
        path.write_text(
            "".join(json.dumps({"text": short_message(), "id": n}) + "\n" for n in range(args.lines))
        )
        cli = [str(BIN / "aadsts-enricher"), "enrich", "--jsonl", str(path)]
        variants = {
            "naive: re.findall + dict lookup": [sys.executable, "-c", NAIVE, str(path)],
            "before: plain path, one process": [sys.executable, "-c", PLAIN, str(path)],
            "enrich --jsonl --workers 1": [*cli, "--workers", "1"],
            "enrich --jsonl --workers 2": [*cli, "--workers", "2"],
        }
        results = {}
        for name, command in variants.items():
            runs = [run(command) for _ in range(args.repeat)]
            results[name] = (min(w for w, _ in runs), min(c for _, c in runs))
            print(f"measured {name}", file=sys.stderr, flush=True)
    naive_wall, _ = results["naive: re.findall + dict lookup"]
    load = os.getloadavg()[0]
    print(f"{args.lines:,} short messages (~400 B), {os.cpu_count()} cores, load average {load:.1f}")
    print("| command | messages/s (wall) | messages per CPU second | wall / naive |")
    print("|---|---:|---:|---:|")
    for name, (wall, cpu) in results.items():
        print(f"| {name} | {args.lines / wall:,.0f} | {args.lines / cpu:,.0f} | {naive_wall / wall:.2f} |")
    w1, w2 = results["enrich --jsonl --workers 1"][0], results["enrich --jsonl --workers 2"][0]
    print(f"\n--workers 2 / --workers 1 (wall): {w1 / w2:.2f}x")


if __name__ == "__main__":
    main()
