"""Publishing event lines into message systems (``tail``/``listen --sink URL``): MQTT (QoS 1),
NATS JetStream and Redis Streams, at least once.

``base`` owns the URL, the address templates and message ids; ``fanout`` the engine (buffers,
reconnects, acks, counts); ``mqtt``, ``nats`` and ``redis`` one client each, imported only when
a sink of that scheme is used: nats-py and redis-py are optional extras (``pip install
'notifyctl[nats]'``); MQTT's QoS 1 publisher is notifyctl's own (docs/decisions.md).
"""

from __future__ import annotations

from notifyctl.sinks.fanout import RETRY_AFTER_S, Sinks

__all__ = ["RETRY_AFTER_S", "Sinks"]
