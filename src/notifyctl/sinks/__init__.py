"""Publishing event lines into message systems (``tail``/``listen --sink URL``): MQTT (QoS 1),
NATS JetStream and Redis Streams, at least once.

``base`` owns the URL, the address templates and message ids; ``fanout`` the engine (buffers,
reconnects, acks, counts); ``mqtt``, ``nats`` and ``redis`` one client each, imported only when
a sink of that scheme is used (each an optional extra: ``pip install 'notifyctl[nats]'``).
"""

from __future__ import annotations

from notifyctl.sinks.fanout import RETRY_AFTER_S, Sinks

__all__ = ["RETRY_AFTER_S", "Sinks"]
