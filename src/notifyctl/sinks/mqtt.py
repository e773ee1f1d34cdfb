"""The MQTT sink: ``mqtt://host:port/<topic template>``, QoS 1.

Each event is published to its topic at QoS 1 and counts once the broker's PUBACK arrived; a
batch is handed to the client at once (up to ``IN_FLIGHT`` unacknowledged on the wire, the
rest queued by the client) and awaited as a whole. MQTT 3.1.1 has no message headers, so
consumers de-duplicate on the line's ``id``.

The client is ``paho-mqtt`` 2.x (the ``[mqtt]`` extra) driven by this event loop: its socket is
watched with ``add_reader``/``add_writer`` and ``loop_misc`` runs once a second (keep-alive), so
there is no network thread and acks need no lock. After a drop the sink engine makes a new
connection and re-sends the batch. ``aiomqtt`` and paho's own thread were measured and not kept
(docs/decisions.md, "Sink clients").
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as paho  # noqa: TID253 - imported only when an mqtt sink is used
from paho.mqtt.enums import CallbackAPIVersion  # noqa: TID253

from notifyctl.sinks.base import Message, SinkDown, SinkUrl, Template

CONNECT_TIMEOUT = 5.0
ACK_TIMEOUT = 30.0
KEEPALIVE = 30
IN_FLIGHT = 0  # no limit in paho: its queue re-scans every message per PUBACK (O(n²))
MAX_PACKET = 268_435_455  # MQTT's largest packet (mosquitto's default limit)


def template(url: SinkUrl) -> Template:
    return Template(url.path or "notifyctl/{provider}/{device}/{kind}", "mqtt", "topic",
                    url.shown)


class _Batch:
    """The PUBACKs one batch waits for."""

    def __init__(self, size: int) -> None:
        self.waiting = size
        self.error: str | None = None
        self.done = asyncio.Event()
        if size == 0:
            self.done.set()

    def settle(self, error: str | None = None) -> None:
        if error is not None:
            self.error, self.waiting = error, 0
        else:
            self.waiting -= 1
        if self.waiting <= 0:
            self.done.set()


class MqttClient:
    def __init__(self, url: SinkUrl, password: str | None) -> None:
        self.url = url
        self._password = password
        self._client: paho.Client | None = None
        self._waiting: dict[int, _Batch] = {}
        self._connected = False
        self._misc: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[str | None] | None = None
        self._fd: int | None = None
        self.max_message = MAX_PACKET - 1024

    async def connect(self) -> None:
        await self.close()
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
        client.max_inflight_messages_set(IN_FLIGHT)
        client.max_queued_messages_set(0)  # no limit: the engine bounds what it hands over
        if self.url.username:
            client.username_pw_set(self.url.username, self._password)
        client.on_connect = self._connected_cb
        client.on_publish = self._acked
        client.on_disconnect = self._lost
        client.on_socket_open = self._opened
        client.on_socket_close = self._closed
        client.on_socket_register_write = self._want_write
        client.on_socket_unregister_write = self._written
        self._client = client
        try:
            client.connect_timeout = CONNECT_TIMEOUT
            client.connect(self.url.host, self.url.port, KEEPALIVE)
            sock = client.socket()
            if isinstance(sock, socket.socket):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
            self._misc = asyncio.create_task(self._housekeeping(client))
            refused = await asyncio.wait_for(self._ready, CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            await self.close()
            raise SinkDown(str(exc) or "no answer to CONNECT") from exc
        if refused is not None:
            await self.close()
            raise SinkDown(f"the broker refused the connection: {refused}")

    # The socket, watched by this loop (by fd: paho may have closed the socket object).
    def _opened(self, client: paho.Client, _u: Any, sock: Any) -> None:
        self._fd = sock.fileno()
        asyncio.get_running_loop().add_reader(self._fd, client.loop_read)

    def _closed(self, _c: Any, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._fd)
            loop.remove_writer(self._fd)
            self._fd = None

    def _want_write(self, client: paho.Client, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().add_writer(self._fd, client.loop_write)

    def _written(self, _c: Any, _u: Any, _sock: Any) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_writer(self._fd)

    async def _housekeeping(self, client: paho.Client) -> None:
        """paho's periodic work (keep-alive pings, time-outs), once a second."""
        while True:
            await asyncio.sleep(1.0)
            if client.loop_misc() != paho.MQTT_ERR_SUCCESS:
                self._lost(client, None, None, "keep-alive failed", None)
                return

    def _connected_cb(self, _c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self._connected = not reason.is_failure
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None if self._connected else str(reason))

    def _acked(self, _c: Any, _u: Any, mid: int, _reason: Any, _p: Any) -> None:
        batch = self._waiting.pop(mid, None)
        if batch is not None:
            batch.settle()

    def _lost(self, _c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self._connected = False
        batches = set(self._waiting.values())
        self._waiting.clear()
        for batch in batches:
            batch.settle(f"connection lost ({reason})")

    async def publish(self, messages: Sequence[Message]) -> None:
        client = self._client
        if client is None or not self._connected:
            raise SinkDown("not connected")
        batch = _Batch(len(messages))
        waiting = self._waiting
        # Nothing is read between these calls (this loop runs the socket), so no PUBACK can
        # arrive before its message id is registered.
        for message in messages:
            info = client.publish(message.address, message.body, qos=1)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                raise SinkDown(paho.error_string(info.rc))
            waiting[info.mid] = batch
        try:
            await asyncio.wait_for(batch.done.wait(), ACK_TIMEOUT)
        except TimeoutError as exc:
            raise SinkDown(f"no PUBACK within {ACK_TIMEOUT:g} s") from exc
        if batch.error is not None:
            raise SinkDown(batch.error)

    async def close(self) -> None:
        client, self._client = self._client, None
        self._connected = False
        if self._misc is not None:
            self._misc.cancel()
            self._misc = None
        if client is not None:
            with contextlib.suppress(OSError):
                client.disconnect()  # closes the socket: _closed stops watching it
            self._closed(client, None, None)
        self._waiting.clear()
