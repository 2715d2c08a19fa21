"""URL path segments built from names and ids.

A Synapse pipeline may be called ``load/daily``, an ADF factory name or a Power BI id could carry
``#``, ``%`` or ``?``: put raw into a path, each of those changes which resource the request names
(or cuts the path short), and the item answers 404 every cycle. Every segment that comes from a
name or an id goes through :func:`seg`.
"""

from __future__ import annotations

from urllib.parse import quote


def seg(value: object) -> str:
    """``value`` as one percent-encoded path segment (``/`` included; nothing is left 'safe')."""
    return quote(str(value), safe="")
