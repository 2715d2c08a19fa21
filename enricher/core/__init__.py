"""The pure core: detection, enrichment, incidents, grouping, routing, the forecast and the knowledge
base's schema. Functions of their inputs and ``now``; no network, no clock, no threads
(``knowledge`` alone reads files: the built-in entries and the user's overrides, once at start).
"""
