"""Benchmark: detect + enrich throughput on one core, against a naive baseline, and linearity.

Run: ``make bench`` (or ``.venv/bin/python bench/detect.py [--seconds S]``). Prints messages per
second for each message class (short MSAL/token errors, 5 KB refresh-history JSON, 200 KB logs)
and for a realistic mix, the ratio against ``re.findall(r"AADSTS(\\d{5,7})") + dict lookup``
(which finds only literal codes and none of the IDs), and the time per MB for inputs from 10 KB to
10 MB (linear time means a flat column).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.records import RunRecord, RunStatus, Source
from enricher.core.detect import detect
from enricher.core.enrich import enrich
from enricher.core.knowledge import load_knowledge

RNG = random.Random(7)
CODES = ["53003", "50076", "7000222", "7000215", "700082", "50173", "700016", "90002", "65001", "50079"]


def ids() -> str:
    return (
        f"Trace ID: {uuid.UUID(int=RNG.getrandbits(128))}\r\nCorrelation ID: {uuid.UUID(int=RNG.getrandbits(128))}"
        f"\r\nTimestamp: 2025-04-02 06:{RNG.randint(10, 59)}:{RNG.randint(10, 59)}Z"
    )


def short_message() -> str:
    code = RNG.choice(CODES)
    kind = RNG.randrange(3)
    if kind == 0:
        return json.dumps(
            {
                "error": "invalid_client",
                "error_description": f"AADSTS{code}: The request was refused. {ids()}",
                "error_codes": [int(code)],
                "error_uri": f"https://login.microsoftonline.com/error?code={code}",
            }
        )
    if kind == 1:
        return (
            f"Microsoft.Identity.Client.MsalServiceException: AADSTS{code}: The sign-in for app "
            f"'{uuid.UUID(int=RNG.getrandbits(128))}' was refused by the directory.\r\n{ids()}"
        )
    return f"Failed to refresh OAuth token. AADSTS{code}: Due to a configuration change you must re-authenticate. {ids()}"


def refresh_history() -> str:
    code = RNG.choice(CODES)
    inner = json.dumps(
        {
            "errorCode": "DMTS_OAuthTokenRefreshFailedError",
            "errorDescription": f"Failed to refresh OAuth token. AADSTS{code}: expired. {ids()}",
        }
    )
    refreshes = [
        {
            "refreshType": "Scheduled",
            "startTime": "2025-04-02T06:00:03.480Z",
            "status": "Failed",
            "requestId": str(uuid.UUID(int=RNG.getrandbits(128))),
            "serviceExceptionJson": inner,
            "refreshAttempts": [
                {"attemptId": i, "serviceExceptionJson": inner, "type": "Data"} for i in (1, 2)
            ],
        }
    ]
    while len(json.dumps(refreshes)) < 5000:
        refreshes.append(
            {
                "refreshType": "Scheduled",
                "startTime": "2025-04-01T06:00:02.900Z",
                "status": "Completed",
                "requestId": str(uuid.UUID(int=RNG.getrandbits(128))),
            }
        )
    return json.dumps({"value": refreshes})


def log_text(size: int) -> str:
    lines = []
    while sum(map(len, lines)) < size:
        if RNG.random() < 0.002:
            lines.append(
                f"2025-04-02T06:00:00Z ERROR token acquisition failed: AADSTS{RNG.choice(CODES)}: refused. {ids()}\n"
            )
        else:
            lines.append(
                f"2025-04-02T06:00:{RNG.randint(10, 59)}Z INFO copy activity step {RNG.randint(1, 99999)} "
                f"rows={RNG.randint(1, 10**6)} status=ok duration_ms={RNG.randint(1, 9999)}\n"
            )
    return "".join(lines)


def run(text: str) -> RunRecord:
    return RunRecord(
        Source.POWERBI,
        "t",
        "ws",
        "Finance",
        "ds",
        "Model",
        "dataset",
        "r1",
        RunStatus.FAILED,
        error_text=text,
    )


def rate(fn: Callable[[str], object], texts: list[str], seconds: float) -> float:
    """Best of three runs: this is a shared VM, and the best run is the least disturbed one."""
    best = 0.0
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for t in texts:
                fn(t)
            done += len(texts)
        best = max(best, done / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    kb = load_knowledge()
    sigs = kb.signatures
    naive_rx = re.compile(r"AADSTS(\d{5,7})")

    def ours(text: str) -> object:
        return enrich(run(text), detect(text, sigs), kb)

    def naive(text: str) -> object:
        return [kb.entries.get(code) for code in naive_rx.findall(text)]

    classes = {
        "short (token/MSAL errors, ~400 B)": [short_message() for _ in range(200)],
        "refresh history JSON (~5 KB)": [refresh_history() for _ in range(50)],
        "logs (~200 KB)": [log_text(200_000) for _ in range(3)],
    }
    mix = classes["short (token/MSAL errors, ~400 B)"] * 9 + classes["refresh history JSON (~5 KB)"][:20]
    mix.append(classes["logs (~200 KB)"][0])
    classes["realistic mix (90% short, 9% 5 KB, <1% 200 KB)"] = mix
    print(
        f"detect + enrich, one core, {len(kb)} knowledge-base entries, {len(sigs.by_anchor)} signature anchors\n"
    )
    print(f"{'input':<50}{'ours msg/s':>12}{'naive msg/s':>13}{'ours/naive':>12}")
    for name, texts in classes.items():
        a, b = rate(ours, texts, args.seconds), rate(naive, texts, args.seconds)
        print(f"{name:<50}{a:>12,.0f}{b:>13,.0f}{a / b:>12.2f}")
    print("\nlinearity (one input of each size, ours):")
    print(f"{'size':>10}{'ms':>10}{'ms per MB':>12}")
    for size in (10_000, 100_000, 1_000_000, 10_000_000):
        text = log_text(size)
        ms = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            detect(text, sigs)
            ms = min(ms, (time.perf_counter() - start) * 1000)
        print(f"{size:>10,}{ms:>10.1f}{ms / (size / 1e6):>12.1f}")


if __name__ == "__main__":
    main()
