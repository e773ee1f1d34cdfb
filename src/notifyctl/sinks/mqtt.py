"""The MQTT sink: ``mqtt://host:port/<topic template>`` (``mqtts://``: over TLS, port 8883),
QoS 1, MQTT 3.1.1.

Each event is published to its topic at QoS 1 and counts once the broker's PUBACK arrived. A
batch is written to the socket as one buffer of PUBLISH packets and awaited as a whole: the
broker answers QoS 1 PUBLISHes with PUBACKs in the order it received them (MQTT 3.1.1, 4.6),
so counting PUBACKs is enough to know which batches are acknowledged. MQTT 3.1.1 has no
message headers, so consumers de-duplicate on the line's ``id``.

This is notifyctl's own publisher (CONNECT, PUBLISH at QoS 1, PUBACK, PINGREQ, DISCONNECT over
asyncio streams; nothing else of MQTT is needed to publish): the Python clients measured spend
most of their time on per-message objects and reach about half the goal (docs/decisions.md,
"Sink clients"). After a drop the sink engine connects again and re-sends the batch.

A CONNACK refusing the credentials (codes 4 and 5) and, over TLS, a certificate not trusted end
the run (``SinkRefused``); a broker that stops answering PINGREQs within the keepalive counts as
a lost connection, as a closed one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import ssl
import struct
import time
from collections import deque
from collections.abc import Sequence

from notifyctl.sinks.base import Message, SinkDown, SinkRefused, SinkUrl, Template

CONNECT_TIMEOUT = 5.0
ACK_TIMEOUT = 30.0
CLOSE_TIMEOUT = 2.0  # for DISCONNECT and what is still buffered to reach the broker
KEEPALIVE = 30  # seconds; a PINGREQ goes every half of it
MAX_PACKET = 268_435_455  # the largest remaining length MQTT can express
MAX_TOPIC = 65_535  # a topic is a length-prefixed UTF-8 string
MAX_ID = 65_535  # packet identifiers are 1..65535; 0 is not one
CONNECT, CONNACK, PUBLISH_QOS1, PUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    0x10, 0x20, 0x32, 0x40, 0xC0, 0xD0, 0xE0)
REFUSALS = {1: "unacceptable protocol version", 2: "client id rejected",
            3: "server unavailable", 4: "bad user name or password", 5: "not authorised"}
CREDENTIALS_REFUSED = (4, 5)
_u16 = struct.Struct("!H").pack
QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


def template(url: SinkUrl) -> Template:
    topic = Template(url.path or "notifyctl/{provider}/{device}/{kind}", "mqtt", "topic",
                     url.shown)
    topic.refuse("+#\x00", "holds a wildcard (+ or #) or NUL: one publishes to a topic name")
    return topic


def encode_length(size: int) -> bytes:
    """MQTT's variable-length encoding of a remaining length (1 to 4 bytes)."""
    if not 0 <= size <= MAX_PACKET:
        raise ValueError(f"a packet of {size:,} bytes is beyond MQTT's {MAX_PACKET:,}")
    out = bytearray()
    while True:
        size, digit = divmod(size, 128)
        out.append(digit | (0x80 if size else 0))
        if not size:
            return bytes(out)


def next_id(last: int) -> int:
    """The packet identifier after ``last``: 1, 2, ... 65535, then 1 again."""
    return last % MAX_ID + 1


def _quick_ack(sock: socket.socket | None) -> None:
    """Acknowledge the broker's TCP segments at once (Linux: TCP_QUICKACK lasts until the
    kernel drops back to delayed ACKs, so it is set again after every read). mosquitto's
    default leaves Nagle on: it holds the second PUBACK of a batch until the first is ACKed,
    and a delayed ACK (40 ms) made every batch of 2+ messages take 44 ms (docs/decisions.md)."""
    if sock is not None and QUICKACK is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)


def _string(data: bytes) -> bytes:
    return _u16(len(data)) + data


class MqttClient:
    # The longest body that fits one PUBLISH with the longest topic and the packet id.
    max_message = MAX_PACKET - (2 + MAX_TOPIC + 2)
    max_address = MAX_TOPIC
    duplicates = 0  # MQTT does not say

    def __init__(self, url: SinkUrl, password: str | None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.url = url
        self._password = password
        self._tls = tls
        self.keepalive = KEEPALIVE
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sent = 0  # PUBLISHes written on this connection
        self._acked = 0  # PUBACKs read on it
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._mid = 0  # the last packet identifier used
        self.pongs = 0  # PINGRESPs read (on every connection)
        self._ping_since: float | None = None  # when the unanswered PINGREQ went

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        await self.close()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                self.url.host, self.url.port, ssl=self._tls,
                server_hostname=self.url.host if self._tls else None), CONNECT_TIMEOUT)
        except ssl.SSLCertVerificationError as exc:
            raise SinkRefused(f"TLS certificate not trusted: {exc.verify_message}") from exc
        except ssl.SSLError as exc:
            raise SinkDown(f"TLS handshake failed: {exc.reason or exc}") from exc
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
            if answer[0] != CONNACK:
                raise SinkDown("the broker refused the connection: not an MQTT broker")
            reason = ("the broker refused the connection: "
                      f"{REFUSALS.get(answer[3], f'code {answer[3]}')}")
            if answer[3] in CREDENTIALS_REFUSED:
                raise SinkRefused(reason, credentials=True)
            raise SinkDown(reason)
        self._writer, self._sent, self._acked, self._ping_since = writer, 0, 0, None
        self._tasks = [asyncio.create_task(self._read(reader, writer.get_extra_info("socket"))),
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
        body = _string(b"MQTT") + bytes([4, flags]) + _u16(self.keepalive) + payload
        return bytes([CONNECT]) + encode_length(len(body)) + body

    async def _read(self, reader: asyncio.StreamReader, sock: socket.socket | None) -> None:
        """Count PUBACKs (and skip PINGRESPs) until the connection ends."""
        buffer = b""
        try:
            _quick_ack(sock)
            while chunk := await reader.read(65536):
                _quick_ack(sock)
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
            elif kind == PINGRESP and size == 0:
                self.pongs += 1
                self._ping_since = None
            else:
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
        """A PINGREQ every half keepalive, so the broker keeps an idle connection (it drops one
        silent for 1.5 keepalives); no PINGRESP within a keepalive means the link is dead."""
        with contextlib.suppress(OSError):
            while True:
                await asyncio.sleep(self.keepalive / 2)
                now = time.monotonic()
                if self._ping_since is not None and now - self._ping_since >= self.keepalive:
                    self._fail(f"no PINGRESP within the {self.keepalive} s keepalive")
                    return
                if self._ping_since is None:
                    self._ping_since = now
                writer.write(bytes([PINGREQ, 0]))

    def _fail(self, reason: str) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.transport.abort()  # a dead or closed link: nothing more to say on it
        while self._waiters:
            future = self._waiters.popleft()[1]
            if not future.done():
                future.set_exception(SinkDown(reason))

    async def publish(self, messages: Sequence[Message]) -> None:
        writer = self._writer
        if writer is None:
            raise SinkDown("not connected")
        if not messages:  # no PUBACK will come for nothing (listen: every event was too large)
            return
        packets = []
        mid = self._mid
        for message in messages:
            topic = message.address.encode()
            mid = next_id(mid)
            head = _u16(len(topic)) + topic + _u16(mid)
            packets.append(bytes([PUBLISH_QOS1]) + encode_length(len(head) + len(message.body))
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
            with contextlib.suppress(OSError, TimeoutError):
                writer.write(bytes([DISCONNECT, 0]))
                writer.close()
                # A broker that stopped reading never takes what is buffered: give up on it.
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT)
            writer.transport.abort()
        self._fail("closed")
