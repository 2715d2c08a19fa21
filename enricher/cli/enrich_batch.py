"""``enrich --jsonl``: one result per input line, fast, optionally over several processes.

A batch is many short messages about a handful of codes, so the work per line is kept to what
differs per line: a code's ``entries`` item and its advice are built and JSON-encoded once per
code (and error and context) and pasted into each line as text. The rest of a line is written as
text directly, each string by the C function the JSON encoder itself calls, with no result dict
in between (building the dict and encoding it in three encoder calls was a fifth of the time; a
dict through ``dataclasses.asdict`` a quarter before that). The output is byte for byte what the
plain path (``enrich_cmd.result_json`` + ``json.dumps``) writes; ``tests/test_enrich_batch.py``
holds the two together over a corpus.

``--workers N`` splits the input into chunks of lines, enriches them in N processes and writes
the chunks back in input order.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from enricher.cli.enrich_input import LineError, encode, parse
from enricher.core.detect import detect
from enricher.core.enrich import entry_for, entry_item
from enricher.core.kb_schema import CONTEXTS, Entry
from enricher.core.knowledge import KnowledgeBase
from enricher.core.placeholders import PLACEHOLDER_RX, fill_step
from enricher.models import Finding, How, Inferred

#: Lines per chunk handed to a worker: big enough that passing it costs little, small enough
#: that output keeps flowing and the last chunk does not leave the other workers idle for long.
CHUNK = 1000
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode
#: one string as ``_ENCODE`` writes it (the C function the encoder itself calls)
_STR: Callable[[str], str] = json.encoder.encode_basestring
_ID_FIELDS = ("trace_id", "correlation_id", "timestamp", "error", "suberror", "client_id")
_VALUE_FIELDS = ("client_id", "correlation_id", "trace_id", "timestamp")
#: characters of output handed to ``write`` at a time (its buffer's size)
_GROUP = 8192
#: advice templates kept per batch process (a handful per code)
_MAX_CACHED = 4096
#: where a value goes in an advice template: private-use characters no knowledge base text holds
_MARK = "\ue000{}\ue001"
_MARKED = re.compile("\ue000([a-z_]+)\ue001")
#: a value that reads the same inside a JSON string (IDs and timestamps always do)
_PLAIN = re.compile(r"[0-9A-Za-z:._ +-]*")


class Batch:
    """Enriches lines with one knowledge base, remembering what each code always gives."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._entries: dict[str, str] = {}
        self._advice: dict[tuple[str, str | None], tuple[Entry, list[str], tuple[str, ...]]] = {}
        #: (code, error, context, the values its steps use that are known) -> the advice's JSON
        #: with a marker (``_MARK``) where each value goes
        self._fixed: dict[tuple[str | None, ...], tuple[str, list[str]]] = {}

    def lines(self, lines: Iterable[str], first: int = 1) -> Iterator[str]:
        """Each non-blank line's result as one JSON text (no newline); ``first``: the first line's number."""
        text = self.text
        for number, line in enumerate(lines, first):
            if line and not line.isspace():  # ``line.strip()``, without the copy
                yield text(number, line)

    def text(self, number: int, line: str) -> str:
        """The result of one non-blank line (line number ``number``) as JSON text."""
        try:
            item = parse(line)
        except LineError as exc:
            error = str(exc)
            return encode(line, number, lambda: _ENCODE({"line": number, "error": error}))
        return encode(line, number, lambda: self._write(item))

    def _write(self, item: dict[str, Any]) -> str:
        context, warnings = item.get("context"), "[]"
        if context is not None and context not in CONTEXTS:
            # callers pass hints such as "azure-cli" or "msal": the text is still worth enriching
            warning = f"unknown context {context!r} ignored (known: {', '.join(CONTEXTS)})"
            warnings, context = f"[{_STR(warning)}]", None
        detection = detect(item["text"], self.kb.signatures)
        findings = detection.findings
        head = ""
        if "id" in item:
            key = item["id"]
            kind = type(key)
            head = (
                f'"id": {_STR(key) if kind is str else int.__repr__(key) if kind is int else _ENCODE(key)}, '
            )
        if len(findings) == 1:  # the usual case: the one finding's values (never "") are the line's
            f = findings[0]
            firsts = {
                "trace_id": f.trace_id,
                "correlation_id": f.correlation_id,
                "timestamp": f.timestamp,
                "error": f.error,
                "suberror": f.suberror,
                "client_id": f.client_id,
            }
            # each value's JSON, written once for the line and once for its finding
            trace, corr, stamp, error, sub, client = [
                "null" if value is None else _STR(value) for value in firsts.values()
            ]
            code = _STR(f.code)
            ids = (
                f'"correlation_id": {corr}, "trace_id": {trace}, "timestamp": {stamp}, '
                f'"error": {error}, "suberror": {sub}, "client_id": {client}'
            )
            finding = (
                f'{{"code": {code}, "how": {_HOW[f.how]}, "span": [{f.span[0]}, {f.span[1]}], '
                f'"excerpt": {_STR(f.excerpt)}, "trace_id": {trace}, "correlation_id": {corr}, '
                f'"timestamp": {stamp}, "error": {error}, "suberror": {sub}, "client_id": {client}}}'
            )
            return (
                f'{{{head}"codes": [{code}], "primary": {_text(detection.primary)}, {ids}, '
                f'"entries": [{self._entry(f.code)}], '
                f'"inferred": [{", ".join([_inferred(i) for i in detection.inferred])}], '
                f'"findings": [{finding}], "context": {_text(context)}, '
                f'"advice": {self._advice_json(detection.primary, firsts, context)}, "warnings": {warnings}}}'
            )
        primary = next((f for f in findings if f.code == detection.primary), None)
        firsts = {name: _first(primary, findings, name) for name in _ID_FIELDS}
        entry = self._entry
        return (
            f'{{{head}"codes": [{", ".join([_STR(f.code) for f in findings])}], '
            f'"primary": {_text(detection.primary)}, '
            f'"correlation_id": {_text(firsts["correlation_id"])}, "trace_id": {_text(firsts["trace_id"])}, '
            f'"timestamp": {_text(firsts["timestamp"])}, "error": {_text(firsts["error"])}, '
            f'"suberror": {_text(firsts["suberror"])}, "client_id": {_text(firsts["client_id"])}, '
            f'"entries": [{", ".join([entry(f.code) for f in findings])}], '
            f'"inferred": [{", ".join([_inferred(i) for i in detection.inferred])}], '
            f'"findings": [{", ".join([_finding(f) for f in findings])}], '
            f'"context": {_text(context)}, '
            f'"advice": {self._advice_json(detection.primary, firsts, context)}, '
            f'"warnings": {warnings}}}'
        )

    def _advice_json(self, code: str | None, firsts: dict[str, str | None], context: str | None) -> str:
        """The advice as JSON. Its text depends on the code, error and context, and on which of the
        values its steps use are known; the values themselves (IDs and timestamps, which need no
        JSON escaping) are put into a cached template where it holds a marker for each."""
        if not code:
            return "null"
        entry, steps, used = self._steps(code, firsts["error"])
        present = [name for name in used if firsts[name]]
        key = (code, firsts["error"], context, *present)
        found = self._fixed.get(key)
        if found is None:
            values = {"code": code, **{name: _MARK.format(name) for name in present}}
            template = _ENCODE(
                {
                    "code": code,
                    "summary": entry.summary,
                    "fixes": [fill_step(step, values) if "{" in step else step for step in steps],
                    "context_note": entry.contexts.get(context) if context else None,  # type: ignore[call-overload]
                }
            )
            if len(self._fixed) >= _MAX_CACHED:
                self._fixed.clear()
            # text, name, text, name, ..., text: the template cut at its markers
            found = self._fixed[key] = (template, _MARKED.split(template))
        template, parts = found
        if len(parts) == 1:
            return template
        if not _PLAIN.fullmatch("".join([firsts[name] or "" for name in present])):  # never from detect
            marks = [(_MARK.format(name), firsts[name] or "") for name in present]
            doc = json.loads(template)
            doc["fixes"] = [_put(fix, marks) for fix in doc["fixes"]]
            return _ENCODE(doc)
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            out += (firsts[parts[i]] or "", parts[i + 1])
        return "".join(out)

    def _entry(self, code: str) -> str:
        found = self._entries.get(code)
        if found is None:
            found = self._entries[code] = _ENCODE(entry_item(code, self.kb))
        return found

    def _steps(self, code: str, error: str | None) -> tuple[Entry, list[str], tuple[str, ...]]:
        """The entry, its fix steps and which of the line's values (``_VALUE_FIELDS``) they use."""
        found = self._advice.get((code, error))
        if found is None:
            entry, _ = entry_for(code, self.kb, error)
            steps = [f.step for f in entry.fixes]
            named = {name for step in steps for name in PLACEHOLDER_RX.findall(step)}
            used = tuple(name for name in _VALUE_FIELDS if name in named)
            found = self._advice[code, error] = (entry, steps, used)
        return found


def _put(text: str, marks: list[tuple[str, str]]) -> str:
    for mark, value in marks:
        text = text.replace(mark, value)
    return text


def _first(primary: Finding | None, findings: tuple[Finding, ...], name: str) -> str | None:
    """``Detection.first``: the primary finding's value, else the first finding that has one."""
    value = getattr(primary, name) if primary else None
    if value:
        return str(value)
    for f in findings:
        value = getattr(f, name)
        if value:
            return str(value)
    return None


def _text(value: str | None) -> str:
    return "null" if value is None else _STR(value)


def _inferred(i: Inferred) -> str:
    return f'{{"code": {_STR(i.code)}, "phrase": {_STR(i.phrase)}}}'


def _finding(f: Finding) -> str:
    # ``_text`` written out: this runs for every finding of every line
    trace, corr, stamp, error, sub, client = (
        f.trace_id,
        f.correlation_id,
        f.timestamp,
        f.error,
        f.suberror,
        f.client_id,
    )
    return (
        f'{{"code": {_STR(f.code)}, "how": {_HOW[f.how]}, "span": [{f.span[0]}, {f.span[1]}], '
        f'"excerpt": {_STR(f.excerpt)}, "trace_id": {"null" if trace is None else _STR(trace)}, '
        f'"correlation_id": {"null" if corr is None else _STR(corr)}, '
        f'"timestamp": {"null" if stamp is None else _STR(stamp)}, '
        f'"error": {"null" if error is None else _STR(error)}, "suberror": {"null" if sub is None else _STR(sub)}, '
        f'"client_id": {"null" if client is None else _STR(client)}}}'
    )


#: each way of finding a code as its JSON string
_HOW = {how: _STR(how.value) for how in How}


def write_lines(lines: Iterable[str], kb: KnowledgeBase, out: Any, workers: int = 1) -> None:
    """Enrich ``lines`` into ``out`` (one result per line), in ``workers`` processes, in order."""
    if workers <= 1:  # line by line: a stream (``tail -f log | ... enrich --jsonl -``) flows through
        texts = Batch(kb).lines(lines)
        if getattr(out, "line_buffering", False):  # a terminal: each result as soon as it is made
            for text in texts:
                out.write(text + "\n")
        else:
            _write_grouped(texts, out.write)
        return
    import multiprocessing  # only here: a fifth of the module's import time

    chunks = _chunks(lines)
    methods = multiprocessing.get_all_start_methods()
    # fork only a single-threaded process: a fork copies every lock as it is, and one that another
    # thread held at that moment is never released in the child (an embedding process, a test
    # runner with server threads, hung on it); spawn costs a fresh interpreter per worker instead
    alone = threading.active_count() == 1
    fork = "fork" in methods and alone
    ctx = multiprocessing.get_context("fork" if fork else "spawn")
    fd = _stdout_fd(out) if fork else None
    if fd is None:  # the workers send their text back and this process writes it
        with ctx.Pool(workers, initializer=_start_worker, initargs=(kb,)) as pool:
            for text in pool.imap(_work, chunks):
                out.write(text)
        return
    # Each worker writes its chunk to standard output itself, when the chunk before it is written:
    # sending 2 KB of result per line back through a pipe and writing it here was a tenth of the
    # CPU, all of it in this one process, which kept two workers from being twice as fast as one.
    out.flush()
    turn = ctx.Condition()
    written = ctx.Value("q", 0, lock=False)  # chunks written so far; read and set under ``turn``
    with ctx.Pool(workers, initializer=_start_writer, initargs=(kb, fd, turn, written)) as pool:
        for _ in pool.imap(_work_and_write, enumerate(chunks)):
            pass


def _write_grouped(texts: Iterable[str], write: Callable[[str], object]) -> None:
    """Each text as a line, handed to ``write`` in groups of about ``_GROUP`` characters: one
    ``write`` of 2 KB per line cost as much as a field scan. Output that is not a terminal leaves
    in pieces of that size anyway (its buffer's), and lines enriched before an interruption are
    written all the same."""
    group: list[str] = []
    size = 0
    try:
        for text in texts:
            group.append(text)
            size += len(text)
            if size >= _GROUP:
                group.append("")
                write("\n".join(group))
                group, size = [], 0
    finally:
        if group:
            group.append("")
            write("\n".join(group))


def _stdout_fd(out: Any) -> int | None:
    """The descriptor of ``out`` when it is this process's UTF-8 standard output (what the CLI
    passes), else None: then bytes written to it read exactly as ``out.write`` would write them."""
    if out is not sys.stdout or not isinstance(out, io.TextIOWrapper) or os.linesep != "\n":
        return None
    if codecs.lookup(out.encoding).name != "utf-8" or out.errors != "strict":
        return None
    try:
        return out.fileno()
    except (OSError, ValueError):
        return None


def _chunks(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    it = iter(lines)
    first = 1
    while chunk := list(itertools.islice(it, CHUNK)):
        yield first, chunk
        first += len(chunk)


_WORKER: Batch | None = None
_OUT: tuple[int, Any, Any] | None = None


def _start_worker(kb: KnowledgeBase) -> None:
    global _WORKER  # noqa: PLW0603 - one Batch per worker process, built once
    _WORKER = Batch(kb)


def _start_writer(kb: KnowledgeBase, fd: int, turn: Any, written: Any) -> None:
    global _OUT  # noqa: PLW0603 - where and when this worker process writes, set once
    _start_worker(kb)
    _OUT = (fd, turn, written)


def _work(chunk: tuple[int, list[str]]) -> str:
    assert _WORKER is not None
    first, lines = chunk
    return "".join(text + "\n" for text in _WORKER.lines(lines, first))


def _work_and_write(numbered: tuple[int, tuple[int, list[str]]]) -> None:
    """Enrich chunk number ``n`` and write it once chunks 0 to n-1 are written. Chunks are handed
    out in order and each worker finishes one before it takes the next, so the chunk before is
    always finished or being enriched: waiting for it always ends. (If its worker fails, the pool
    reports that failure first and is ended, waiters included.)"""
    assert _OUT is not None
    assert _WORKER is not None
    n, (first, lines) = numbered
    # kept as 8 KB pieces: one string of the whole chunk (4 MB, then 4 MB more encoded) took fresh
    # pages from the system for every chunk, a twentieth of a worker's time in page faults
    pieces: list[bytes] = []
    _write_grouped(_WORKER.lines(lines, first), lambda text: pieces.append(text.encode("utf-8")))
    fd, turn, written = _OUT
    with turn:
        turn.wait_for(lambda: written.value == n)
        for data in pieces:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        written.value = n + 1
        turn.notify_all()
