"""The imperative shell: builds the parts from a Config (``build``), runs the cycle (``pipeline``), the
service around it (``daemon``), durable delivery (``delivery``, ``gate``), the Graph-backed watches
(``expiry``, ``signin_lookup``), start-up checks (``preflight``) and ``demo``.
"""
