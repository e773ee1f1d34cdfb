"""The MQTT sink: ``mqtt://host:port/<topic template>``, QoS 1, MQTT 3.1.1.

Each event is published to its topic at QoS 1 and counts once the broker's PUBACK arrived. A
batch is written to the socket as one buffer of PUBLISH packets and awaited as a whole: the
broker answers QoS 1 PUBLISHes with PUBACKs in the order it received them (MQTT 3.1.1, 4.6),
so counting PUBACKs is enough to know which batches are acknowledged. MQTT 3.1.1 has no
message headers, so consumers de-duplicate on the line's ``id``.

This is notifyctl's own publisher (CONNECT, PUBLISH at QoS 1, PUBACK, PINGREQ, DISCONNECT over
asyncio streams; nothing else of MQTT is needed to publish): the Python clients measured spend
most of their time on per-message objects and reach about half the goal (docs/decisions.md,
"Sink clients"). After a drop the sink engine connects again and re-sends the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import struct
from collections import deque
from collections.abc import Sequence

from notifyctl.sinks.base import Message, SinkDown, SinkUrl, Template

CONNECT_TIMEOUT = 5.0
ACK_TIMEOUT = 30.0
KEEPALIVE = 30  # seconds; a PINGREQ goes every half of it
MAX_PACKET = 268_435_455  # the largest remaining length MQTT can express
CONNECT, CONNACK, PUBLISH_QOS1, PUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    0x10, 0x20, 0x32, 0x40, 0xC0, 0xD0, 0xE0)
REFUSALS = {1: "unacceptable protocol version", 2: "client id rejected",
            3: "server unavailable", 4: "bad user name or password", 5: "not authorised"}
_u16 = struct.Struct("!H").pack


def template(url: SinkUrl) -> Template:
    topic = Template(url.path or "notifyctl/{provider}/{device}/{kind}", "mqtt", "topic",
                     url.shown)
    topic.refuse("+#\x00", "holds a wildcard (+ or #) or NUL: one publishes to a topic name")
    return topic


def _length(size: int) -> bytes:
    """MQTT's variable-length encoding of a remaining length."""
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


def _string(data: bytes) -> bytes:
    return _u16(len(data)) + data


class MqttClient:
    def __init__(self, url: SinkUrl, password: str | None) -> None:
        self.url = url
        self._password = password
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sent = 0  # PUBLISHes written on this connection
        self._acked = 0  # PUBACKs read on it
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._mid = 0
        self.max_message = MAX_PACKET - 64 * 1024  # room for the topic and the header
        self.duplicates = 0  # MQTT does not say
        self.max_address = 65_535  # a topic is a length-prefixed string

    async def connect(self) -> None:
        await self.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.url.host, self.url.port), CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise SinkDown(str(exc) or "connection timed out") from exc
        writer.write(self._connect_packet())
        try:
            answer = await asyncio.wait_for(reader.readexactly(4), CONNECT_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            writer.close()
            raise SinkDown("no CONNACK from the broker") from exc
        if answer[0] != CONNACK or answer[3] != 0:
            writer.close()
            reason = REFUSALS.get(answer[3], f"code {answer[3]}") if answer[0] == CONNACK \
                else "not an MQTT broker"
            raise SinkDown(f"the broker refused the connection: {reason}")
        self._writer, self._sent, self._acked = writer, 0, 0
        self._tasks = [asyncio.create_task(self._read(reader)),
                       asyncio.create_task(self._ping(writer))]

    def _connect_packet(self) -> bytes:
        flags = 0x02  # clean session: nothing is kept for a publisher between connections
        payload = _string(f"notifyctl-{secrets.token_hex(6)}".encode())
        if self.url.username:
            flags |= 0x80
            payload += _string(self.url.username.encode())
            if self._password is not None:
                flags |= 0x40
                payload += _string(self._password.encode())
        body = _string(b"MQTT") + bytes([4, flags]) + _u16(KEEPALIVE) + payload
        return bytes([CONNECT]) + _length(len(body)) + body

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Count PUBACKs (and skip PINGRESPs) until the connection ends."""
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                buffer += chunk
                buffer = self._packets(buffer)
            self._fail("the broker closed the connection")
        except (OSError, ValueError) as exc:
            self._fail(f"connection lost ({exc})")

    def _packets(self, buffer: bytes) -> bytes:
        """Consume the whole packets at the start of ``buffer``; returns the rest."""
        at, end, acked = 0, len(buffer), 0
        while end - at >= 2:
            kind, size = buffer[at], buffer[at + 1]
            if kind == PUBACK and size == 2:
                if end - at < 4:
                    break
                acked += 1
            elif kind != PINGRESP or size != 0:
                raise ValueError(f"unexpected packet 0x{kind:02x} from the broker")
            at += 2 + size
        if acked:
            self._acked += acked
            while self._waiters and self._waiters[0][0] <= self._acked:
                future = self._waiters.popleft()[1]
                if not future.done():
                    future.set_result(None)
        return buffer[at:]

    async def _ping(self, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while True:
                await asyncio.sleep(KEEPALIVE / 2)
                writer.write(bytes([PINGREQ, 0]))

    def _fail(self, reason: str) -> None:
        self._writer = None
        while self._waiters:
            future = self._waiters.popleft()[1]
            if not future.done():
                future.set_exception(SinkDown(reason))

    async def publish(self, messages: Sequence[Message]) -> None:
        writer = self._writer
        if writer is None:
            raise SinkDown("not connected")
        packets = []
        mid = self._mid
        for message in messages:
            topic = message.address.encode()
            mid = mid % 65535 + 1  # packet ids 1..65535
            head = _u16(len(topic)) + topic + _u16(mid)
            packets.append(bytes([PUBLISH_QOS1]) + _length(len(head) + len(message.body))
                           + head + message.body)
        self._mid = mid
        self._sent += len(messages)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((self._sent, done))
        try:
            writer.write(b"".join(packets))
            await writer.drain()
            await asyncio.wait_for(done, ACK_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self._fail(f"connection lost ({exc or 'no PUBACK in time'})")
            raise SinkDown(str(exc) or f"no PUBACK within {ACK_TIMEOUT:g} s") from exc

    async def close(self) -> None:
        writer, self._writer = self._writer, None
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        if writer is not None:
            with contextlib.suppress(OSError):
                writer.write(bytes([DISCONNECT, 0]))
                writer.close()
                await writer.wait_closed()
        self._fail("closed")
