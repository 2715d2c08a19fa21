"""Commands piped into a reader that stops early (``| head -1``) exit 0 and print no traceback.

The reader is simulated exactly: the command's stdout is a pipe whose read end is already
closed, so every write fails with EPIPE however fast or slow the machine is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = str(Path(sys.executable).with_name("aadsts-enricher"))


def run_into_closed_pipe(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [SCRIPT, *args], input=stdin, stdout=write_end, stderr=subprocess.PIPE, timeout=300, check=False
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [["--version"], ["--help"], ["explain", "50126"], ["kb", "stats", "--json"], ["enrich", "AADSTS50126"]],
    ids=["version", "help", "explain", "kb-stats", "enrich"],
)
def test_a_closed_pipe_is_a_quiet_exit(args: list[str]) -> None:
    done = run_into_closed_pipe(args)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()[-2000:]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_long_jsonl_batch_stops_quietly(workers: str) -> None:
    """Many output lines: the first write that fails ends the batch, workers included."""
    lines = b"".join(json.dumps({"id": n, "text": "AADSTS50126"}).encode() + b"\n" for n in range(20_000))
    done = run_into_closed_pipe(["enrich", "--jsonl", "-", "--workers", workers], stdin=lines)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode()[-2000:]
