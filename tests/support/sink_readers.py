"""Reading back what a sink published, with each system's own client (the test's consumer):
an MQTT subscriber started before the run, a JetStream stream read message by message, and
Redis ``XRANGE`` over the keys of a pattern.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field

STREAM = "NOTIFYCTL"


@dataclass
class Received:
    address: str
    body: bytes
    id: str | None = None


@dataclass
class MqttSubscriber:
    """Subscribes to ``topic`` (QoS 1) on its own thread; ``messages`` grows as they arrive."""

    port: int
    topic: str = "#"
    messages: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self._subscribed = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="notifyctl-test-reader",
                             clean_session=False)
        client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        client.on_subscribe = lambda *_: self._subscribed.set()
        client.on_message = lambda _c, _u, m: self.messages.append(Received(m.topic, m.payload))
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        self.client = client
        if not self._subscribed.wait(30):
            raise AssertionError("the MQTT test subscriber did not subscribe")

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def nats_messages(port: int, stream: str = STREAM,
                  tls: ssl.SSLContext | None = None) -> list[Received]:
    async def read() -> list[Received]:
        import nats

        nc = await nats.connect(f"{'tls' if tls else 'nats'}://127.0.0.1:{port}", tls=tls)
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(stream, seq)
                out.append(Received(msg.subject or "", msg.data or b"",
                                    (msg.headers or {}).get("Nats-Msg-Id")))
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def redis_messages(port: int, pattern: str = "*", db: int = 0) -> list[Received]:
    import redis

    client = redis.Redis(port=port, db=db)
    try:
        out = []
        for key in sorted(client.keys(pattern)):
            for _entry, fields in client.xrange(key):
                out.append(Received(key.decode(), fields[b"event"], fields[b"id"].decode()))
        return out
    finally:
        client.close()
