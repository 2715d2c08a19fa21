"""Sinks: how one notification reaches each destination, in that destination's own format.

``base`` holds the contract (``Sink``, ``DeliveryResult``), ``registry`` builds sinks from config,
one module per ``type:`` renders and sends, and ``text``, ``http``, ``templates`` and ``limits``
hold what several sinks share.
"""
