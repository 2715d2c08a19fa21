"""Alerts other systems push to us: formats, mapping to run records, the HTTP endpoint, the wiring."""
