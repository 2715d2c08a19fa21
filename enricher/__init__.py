"""aadsts-enricher: explains Microsoft Entra sign-in failures (AADSTS codes) in data-platform runs."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aadsts-enricher")
except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
    __version__ = "0.0.0+source"
