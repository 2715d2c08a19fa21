"""Load the knowledge base: built-in YAML entries plus the user's override directories.

The built-in entries ship inside the wheel (``enricher._knowledge``, mapped from ``knowledge/`` in
the source tree), so loading works from an installed package and from any working directory.
Overrides extend or replace built-in entries field by field: an override file may carry only
``code`` and, say, ``fixes`` to point admins at an in-house ticket queue. ``contexts`` merge by key.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enricher.core.kb_schema import Entry, Meta, OAuthGuidance
from enricher.core.signatures import Signatures
from enricher.errors import KnowledgeError
from enricher.models import FixStep

__all__ = ["CACHE_ENV", "KnowledgeBase", "Meta", "OAuthGuidance", "builtin_root", "load_knowledge"]

#: Where the checked built-in entries are kept between runs (parsing the YAML was a fifth of
#: start-up, checking it with pydantic most of the rest).
CACHE_ENV = "AADSTS_ENRICHER_CACHE_DIR"
#: Part of the cache file's name: a cache an older version wrote (in another shape) is never read.
_CACHE_FORMAT = "checked-2"


@dataclass(frozen=True)
class KnowledgeBase:
    entries: dict[str, Entry]
    meta: Meta
    overridden: frozenset[str] = frozenset()
    #: Per code, the fix steps ready-made and whether each has placeholders (computed once at load).
    fix_steps: dict[str, tuple[tuple[FixStep, bool], ...]] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def signatures(self) -> Signatures:
        """The phrase matcher, built on first use (``explain`` never needs it)."""
        return Signatures.build((e.code, phrase) for e in self.entries.values() for phrase in e.signatures)

    def get(self, code: str) -> Entry | None:
        return self.entries.get(code)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self.entries.values(), key=lambda e: int(e.code)))

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def version(self) -> str:
        return self.meta.version


def builtin_root() -> Path:
    """The built-in data package's directory. Read from the package itself rather than through
    ``importlib.resources.files``, whose readers import ``zipfile`` (10 ms of every start-up)."""
    return Path(importlib.import_module("enricher._knowledge").__path__[0])


def load_knowledge(override_dirs: Sequence[Path | str] = ()) -> KnowledgeBase:
    """The built-in knowledge base with ``override_dirs`` applied in order. Raises KnowledgeError.

    Built-in entries come checked from the cache; only entries an override touches are checked
    again (the pydantic schema is imported only then)."""
    root = builtin_root()
    docs, entries, meta = _builtin(root)
    overridden: set[str] = set()
    for directory in override_dirs:
        for doc in _override_documents(Path(directory)):
            code = str(doc.get("code", "")).removeprefix("AADSTS")
            doc["code"] = code
            docs[code] = _merge(docs.get(code, {}), doc)
            overridden.add(code)
    if overridden:
        from enricher.core.kb_validate import checked_entry

        entries = {
            code: checked_entry(code, doc) if code in overridden else entries[code]
            for code, doc in docs.items()
        }
    steps = {code: fix_steps(entry) for code, entry in entries.items()}
    return KnowledgeBase(entries, meta, frozenset(overridden), steps)


def _builtin(root: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Entry], Meta]:
    """The built-in entries by code, as documents (checked, as :meth:`Entry.to_json` writes them:
    what overrides merge into) and as entries, and the meta; from the cache when it matches the
    files, else from YAML (then cached)."""
    paths = [*sorted((root / "codes").glob("*.yaml")), root / "meta.yaml"]
    cached = _cache_read(paths)
    if cached is not None:
        try:
            docs = cached["codes"]
            entries = {code: Entry.from_json(doc) for code, doc in docs.items()}
            return docs, entries, Meta.from_json(cached["meta"])
        except (KeyError, TypeError, AttributeError, ValueError):  # not what we write: parse again
            pass
    from enricher.core.kb_validate import checked_entry, checked_meta

    raw: dict[str, dict[str, Any]] = {}
    for path in paths[:-1]:
        for doc in _documents(path):
            code = str(doc.get("code", ""))
            if code in raw:
                raise KnowledgeError(f"{path}: code {code} is defined twice")
            raw[code] = doc
    entries = {code: checked_entry(code, doc) for code, doc in raw.items()}
    docs = {code: entry.to_json() for code, entry in entries.items()}
    meta = checked_meta(_meta_document(paths[-1]), paths[-1])
    _cache_write(paths, {"codes": docs, "meta": meta.to_json()})
    return docs, entries, meta


def _cache_file(paths: Sequence[Path]) -> Path | None:
    """A name that changes whenever a built-in file does (path, size, modification time)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "aadsts-enricher"
    )
    try:
        stamp = "|".join([_CACHE_FORMAT, *(f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in paths)])
    except OSError:
        return None
    return Path(base) / f"kb-{hashlib.sha256(stamp.encode()).hexdigest()[:24]}.json"


def _cache_read(paths: Sequence[Path]) -> dict[str, Any] | None:
    target = _cache_file(paths)
    try:
        data = json.loads(target.read_text(encoding="utf-8")) if target else None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and {"codes", "meta"} <= data.keys() else None


def _cache_write(paths: Sequence[Path], raw: dict[str, Any]) -> None:
    """Best effort: a read-only home (a container) only means the next start parses the YAML again."""
    target = _cache_file(paths)
    if target is None:
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps(raw), encoding="utf-8")  # not JSON-able: no cache
        scratch.replace(target)
    except (OSError, TypeError, ValueError):
        return
    _prune(target)


#: Cache files another install or an older version wrote are removed once this old (seconds).
CACHE_KEEP = 7 * 24 * 3600


def _prune(kept: Path) -> None:
    """Every upgrade, checkout or edit of a built-in file names a new cache file (about 1 MB); the
    old ones are removed a week after they were written, so the directory does not grow without end.
    A file another install still uses is merely written again at its next start."""
    try:
        stale = [p for p in kept.parent.glob("kb-*.json") if p != kept]
        newest = kept.stat().st_mtime
        for path in stale:
            if newest - path.stat().st_mtime > CACHE_KEEP:
                path.unlink(missing_ok=True)
    except OSError:
        return


def fix_steps(entry: Entry) -> tuple[tuple[FixStep, bool], ...]:
    return tuple((FixStep(f.step, f.command), "{" in f.step or "{" in (f.command or "")) for f in entry.fixes)


def _yaml(text: str) -> Any:
    import yaml  # only when the cache misses or overrides are given

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _documents(path: Path) -> Iterable[dict[str, Any]]:
    import yaml

    try:
        data = _yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc}") from exc
    docs = data if isinstance(data, list) else [data]
    for doc in docs:
        if not isinstance(doc, dict) or "code" not in doc:
            raise KnowledgeError(f"{path}: each entry must be a mapping with a 'code'")
        yield doc


def _override_documents(directory: Path) -> Iterable[dict[str, Any]]:
    if not directory.is_dir():
        raise KnowledgeError(f"knowledge override directory {directory} does not exist")
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        yield from _documents(path)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "contexts" and isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


def _meta_document(path: Path) -> Any:
    import yaml

    try:
        return _yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError(f"{path}: {exc}") from exc
