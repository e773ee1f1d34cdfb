"""The NATS JetStream sink: ``nats://host:port/<subject template>?stream=NAME``.

Each event is published to its subject with ``Nats-Msg-Id`` set to its message id (so the
stream drops a re-sent event within its duplicate window) and a reply inbox: the stream's ack
arrives there. A batch is published back to back and then awaited as a whole; acks are
counted by a cheap callback (no per-message future), and an ack saying ``duplicate`` is counted.

The stream: one that already captures the subjects is used; otherwise notifyctl creates
``NAME`` (default ``NOTIFYCTL``) over the template's subjects (each field a ``*`` token), file
storage, two-minute duplicate window. Creating it needs JetStream's API permission; with a
stream prepared by the operator, notifyctl only publishes. The client is ``nats-py`` (the
``[nats]`` extra), with its own reconnecting off: the sink engine reconnects and re-sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
from collections.abc import Sequence

import nats  # noqa: TID253 - imported only when a nats sink is used
from nats.aio.client import Client as NatsConnection  # noqa: TID253
from nats.aio.msg import Msg  # noqa: TID253
from nats.errors import Error as NatsError  # noqa: TID253
from nats.js.errors import NotFoundError  # noqa: TID253

from notifyctl.errors import UsageError
from notifyctl.sinks.base import Message, SinkDown, SinkRefused, SinkUrl, Template

CONNECT_TIMEOUT = 5
ACK_TIMEOUT = 30
DEFAULT_STREAM = "NOTIFYCTL"
DUPLICATE_WINDOW_S = 120.0
HEADER_ROOM = 128  # Nats-Msg-Id and the header preamble count towards max_payload


def template(url: SinkUrl) -> Template:
    subject = Template(url.path or "notifyctl.{provider}.{kind}", "nats", "subject", url.shown)
    subject.refuse("*> \t\r\n", "holds a wildcard (* or >) or whitespace: one publishes to "
                   "a subject name")
    if "" in subject.wildcard("x").split("."):
        raise UsageError(f"--sink {url.shown}: the subject {subject.text!r} has an empty token",
                         hint="tokens are separated by single dots, e.g. iot.{device}")
    return subject


class _Batch:
    """The acks of one published batch."""

    def __init__(self, size: int) -> None:
        self.waiting = size
        self.duplicates = 0
        self.error: str | None = None
        self.done = asyncio.Event()
        if size == 0:
            self.done.set()


class NatsClient:
    max_message = 1024 * 1024
    # The server's max_control_line (4 KiB by default) holds subject, reply and sizes.
    max_address = 3 * 1024

    def __init__(self, url: SinkUrl, password: str | None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.url = url
        self._tls = tls
        self.template = template(url)
        self._password = password
        self._nc: NatsConnection | None = None
        self._batches: dict[str, _Batch] = {}
        self._numbers = itertools.count()
        self._inbox = ""
        self.duplicates = 0

    async def connect(self) -> None:
        await self.close()
        try:
            # max_reconnect_attempts=1: with 0, nats-py retries a refused first connect forever.
            self._nc = await asyncio.wait_for(nats.connect(
                f"{self.url.scheme}://{self.url.host}:{self.url.port}", user=self.url.username,
                tls=self._tls, tls_hostname=self.url.host if self._tls else None,
                password=self._password, connect_timeout=CONNECT_TIMEOUT, allow_reconnect=False,
                max_reconnect_attempts=1, error_cb=self._ignore, disconnected_cb=self._lost,
                # Subjects come from a checked template with escaped values, replies from our
                # inbox: validating two regexes per message again is pure cost.
                skip_subject_validation=True),
                CONNECT_TIMEOUT * 3)
            self.max_message = self._nc.max_payload - HEADER_ROOM
            await self._ensure_stream()
            self._inbox = self._nc.new_inbox()
            await self._nc.subscribe(self._inbox + ".>", cb=self._ack)
        except ssl.SSLCertVerificationError as exc:
            raise SinkRefused(f"TLS certificate not trusted: {exc.verify_message}") from exc
        except (NatsError, OSError, TimeoutError) as exc:
            raise SinkDown(str(exc) or type(exc).__name__) from exc

    async def _ensure_stream(self) -> None:
        assert self._nc is not None
        js = self._nc.jetstream()
        subjects = self.template.wildcard("*")
        try:
            await js.find_stream_name_by_subject(subjects)
        except NotFoundError:
            name = self.url.query.get("stream", DEFAULT_STREAM)
            await js.add_stream(name=name, subjects=[subjects],
                                duplicate_window=DUPLICATE_WINDOW_S)

    async def _ignore(self, exc: Exception) -> None:
        """nats-py reports errors here as well as raising them; the raise is what counts."""

    async def _lost(self) -> None:
        for batch in self._batches.values():
            batch.error = "connection lost"
            batch.done.set()

    async def _ack(self, msg: Msg) -> None:
        batch = self._batches.get(msg.subject.rsplit(".", 2)[-2])
        if batch is None:
            return  # a late ack of a batch given up on
        data = msg.data
        if msg.headers and msg.headers.get("Status"):  # 503: no stream took the message
            batch.error = (f"no stream took the message (status {msg.headers['Status']}): "
                           "was the stream deleted?")
        elif not data or b'"error"' in data:
            batch.error = data.decode("utf-8", "replace") or "an empty answer"
        elif b'"duplicate"' in data:
            batch.duplicates += 1
        batch.waiting -= 1
        if batch.waiting <= 0:
            batch.done.set()

    async def publish(self, messages: Sequence[Message]) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            raise SinkDown("not connected")
        token = str(next(self._numbers))
        batch = self._batches[token] = _Batch(len(messages))
        prefix = f"{self._inbox}.{token}."
        try:
            for number, message in enumerate(messages):
                await nc.publish(message.address, message.body, reply=prefix + str(number),
                                 headers={"Nats-Msg-Id": message.id})
            await nc.flush(ACK_TIMEOUT)
            await asyncio.wait_for(batch.done.wait(), ACK_TIMEOUT)
        except (NatsError, OSError, TimeoutError) as exc:
            raise SinkDown(str(exc) or type(exc).__name__) from exc
        finally:
            del self._batches[token]
        if batch.error is not None:
            raise SinkDown(f"the stream refused a message: {batch.error}")
        self.duplicates += batch.duplicates

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            with contextlib.suppress(NatsError, OSError, TimeoutError):  # a broken one
                await nc.close()
