"""The built-in dashboard: one read-only page and a small JSON API on the health port.

``register(server, store, clock)`` adds ``/`` (the page), ``/api/incidents``, ``/api/stats`` and
``/static/...`` to a :class:`~enricher.health.HealthServer`, which already handles binding and auth.

The work is split so that everything but the route glue is a pure function:

    store rows --view.py--> IncidentView --stats.py--> Stats
                                 |                       |
                                 +--page.py (Jinja2) <---+--charts.py (SVG)
                                              \\
    routes.py: query -> filters.py -> store -> the above -> (status, content type, body)
"""

from __future__ import annotations

from enricher.dashboard.routes import register

__all__ = ["register"]
