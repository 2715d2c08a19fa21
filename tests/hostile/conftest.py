"""The demo simulator for the tests that need Entra's token endpoint."""

from tests.connectors.conftest import _clean, sim

__all__ = ["_clean", "sim"]
