"""Reference bodies of the alerts other systems push (``pushed/*.json``; ``pushed/README.md`` says
where each shape is documented), and a way to post them to an ingest endpoint.

The file name starts with its format (``azure-monitor-``, ``alertmanager-``, ``grafana``). The
tests post them to ``/api/v1/ingest/{format}``; ``aadsts-enricher simulate --post FORMAT URL``
does the same against a running daemon.
"""

from __future__ import annotations

from importlib import resources

FORMATS = ("azure-monitor", "alertmanager", "grafana")


def payloads(fmt: str) -> list[tuple[str, bytes]]:
    """``(file name, body)`` of every reference payload of ``fmt``, sorted by name."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")
    folder = resources.files("connectors.simulator") / "pushed"
    found = [f for f in folder.iterdir() if f.name.endswith(".json") and f.name.startswith(fmt)]
    return [(f.name, f.read_bytes()) for f in sorted(found, key=lambda f: f.name)]
