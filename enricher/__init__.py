"""aadsts-enricher: explains Microsoft Entra sign-in failures (AADSTS codes) in data-platform runs."""

from __future__ import annotations

import functools


def __getattr__(name: str) -> str:
    """``__version__`` is looked up on first use: reading package metadata costs ~20 ms of start-up."""
    if name == "__version__":
        return _version()
    raise AttributeError(f"module 'enricher' has no attribute {name!r}")


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aadsts-enricher")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "0.0.0+source"
