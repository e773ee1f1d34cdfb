"""The MQTT sink: ``mqtt://host:port/<topic template>``, QoS 1.

Each event is published to its topic at QoS 1 and counts once the broker's PUBACK arrived; a
batch is handed to the client at once (up to ``IN_FLIGHT`` unacknowledged on the wire, the
rest queued by the client) and awaited as a whole. MQTT 3.1.1 has no message headers, so
consumers de-duplicate on the line's ``id``.

The client is ``paho-mqtt`` 2.x (the ``[mqtt]`` extra) on its own network thread; acks are
matched to batches under a lock, since a PUBACK can arrive before ``publish`` returns its
message id. After a drop the sink engine makes a new connection and re-sends the batch.
``aiomqtt`` was measured and not kept (docs/decisions.md, "Sink clients").
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as paho  # noqa: TID253 - imported only when an mqtt sink is used
from paho.mqtt.enums import CallbackAPIVersion  # noqa: TID253

from notifyctl.sinks.base import Message, SinkDown, SinkUrl, Template

CONNECT_TIMEOUT = 5.0
ACK_TIMEOUT = 30.0
KEEPALIVE = 30
IN_FLIGHT = 1000  # messages awaiting PUBACK at once
MAX_PACKET = 268_435_455  # MQTT's largest packet (mosquitto's default limit)


def template(url: SinkUrl) -> Template:
    return Template(url.path or "notifyctl/{provider}/{device}/{kind}", "mqtt", "topic",
                    url.shown)


class _Batch:
    """The PUBACKs one batch waits for; ``settle`` is called on the client's thread."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.waiting = size
        self.error: str | None = None
        self.done = asyncio.Event()
        self._loop = loop
        if size == 0:
            self.done.set()

    def settle(self, error: str | None = None) -> None:
        if error is not None:
            self.error, self.waiting = error, 0
        else:
            self.waiting -= 1
        if self.waiting <= 0:
            self._loop.call_soon_threadsafe(self.done.set)


def _settle(future: asyncio.Future[str | None], answer: str | None) -> None:
    if not future.done():
        future.set_result(answer)


class MqttClient:
    def __init__(self, url: SinkUrl, password: str | None) -> None:
        self.url = url
        self._password = password
        self._client: paho.Client | None = None
        self._lock = threading.Lock()
        self._waiting: dict[int, _Batch] = {}
        self._early: set[int] = set()  # mids acknowledged before publish() returned them
        self._connected = False
        self.max_message = MAX_PACKET - 1024

    async def connect(self) -> None:
        await self.close()
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[str | None] = loop.create_future()
        client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        client.max_inflight_messages_set(IN_FLIGHT)
        client.max_queued_messages_set(0)  # no limit: the engine bounds what it hands over
        if self.url.username:
            client.username_pw_set(self.url.username, self._password)

        def connected(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
            self._connected = not reason.is_failure
            answer = None if self._connected else str(reason)
            loop.call_soon_threadsafe(_settle, ready, answer)

        client.on_connect = connected
        client.on_publish = self._acked
        client.on_disconnect = self._lost
        self._client = client
        try:
            await asyncio.to_thread(client.connect, self.url.host, self.url.port, KEEPALIVE)
            client.loop_start()
            refused = await asyncio.wait_for(ready, CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise SinkDown(str(exc) or "no answer to CONNECT") from exc
        if refused is not None:
            await self.close()
            raise SinkDown(f"the broker refused the connection: {refused}")

    def _acked(self, _c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        with self._lock:
            batch = self._waiting.pop(mid, None)
            if batch is None:
                self._early.add(mid)
                return
        batch.settle()

    def _lost(self, _c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self._connected = False
        with self._lock:
            batches = set(self._waiting.values())
            self._waiting.clear()
        for batch in batches:
            batch.settle(f"connection lost ({reason})")

    async def publish(self, messages: Sequence[Message]) -> None:
        client = self._client
        if client is None or not self._connected:
            raise SinkDown("not connected")
        batch = _Batch(len(messages), asyncio.get_running_loop())
        lock, waiting, early = self._lock, self._waiting, self._early
        for message in messages:
            info = client.publish(message.address, message.body, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                raise SinkDown(paho.error_string(info.rc))
            with lock:
                if info.mid in early:
                    early.discard(info.mid)
                    acked = True
                else:
                    waiting[info.mid] = batch
                    acked = False
            if acked:
                batch.settle()
        try:
            await asyncio.wait_for(batch.done.wait(), ACK_TIMEOUT)
        except TimeoutError as exc:
            raise SinkDown(f"no PUBACK within {ACK_TIMEOUT:g} s") from exc
        if batch.error is not None:
            raise SinkDown(batch.error)

    async def close(self) -> None:
        client, self._client = self._client, None
        self._connected = False
        if client is not None:
            client.disconnect()
            await asyncio.to_thread(client.loop_stop)
        with self._lock:
            self._waiting.clear()
            self._early.clear()
