"""The Redis Streams sink: ``redis://host:port/<db>?stream=<key template>&maxlen=N``.

Each event is one ``XADD`` to the key its template gives, with the fields ``id`` (the message id,
see ``notifyctl.sinks.base``) and ``event`` (the JSON line); a batch is one pipeline (no
transaction: one round trip, each command answered). ``maxlen`` caps each stream approximately
(``MAXLEN ~ N``, Redis trims whole nodes, the cheap form). The client is ``redis``'s asyncio
one (the ``[redis]`` extra); its own retrying is off, the sink engine retries whole batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import redis.asyncio as aioredis  # noqa: TID253 - imported only when a redis sink is used
from redis.asyncio.retry import Retry  # noqa: TID253
from redis.backoff import NoBackoff  # noqa: TID253
from redis.exceptions import RedisError  # noqa: TID253

from notifyctl.errors import UsageError
from notifyctl.sinks.base import Message, SinkDown, SinkUrl, Template

CONNECT_TIMEOUT = 5.0
IO_TIMEOUT = 30.0
MAX_BULK = 512 * 1024 * 1024  # proto-max-bulk-len's default
DEFAULT_STREAM = "notifyctl:{provider}"


def template(url: SinkUrl) -> Template:
    return Template(url.query.get("stream", DEFAULT_STREAM), "redis", "stream key", url.shown)


def _options(url: SinkUrl) -> tuple[int, int | None]:
    try:
        db = int(url.path or "0")
        maxlen = int(url.query["maxlen"]) if "maxlen" in url.query else None
    except ValueError as exc:
        raise UsageError(f"--sink {url.shown}: the database (path) and maxlen must be numbers",
                         hint="e.g. redis://127.0.0.1:6379/0?stream=iot:{device}&maxlen=100000"
                         ) from exc
    if maxlen is not None and maxlen < 1:
        raise UsageError(f"--sink {url.shown}: maxlen must be at least 1")
    return db, maxlen


class RedisClient:
    max_message = MAX_BULK

    def __init__(self, url: SinkUrl, password: str | None) -> None:
        self.url = url
        self._password = password
        self.db, self.maxlen = _options(url)
        self._redis: aioredis.Redis | None = None

    async def connect(self) -> None:
        await self.close()
        self._redis = aioredis.Redis(
            host=self.url.host, port=self.url.port, db=self.db, username=self.url.username,
            password=self._password, socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=IO_TIMEOUT, retry=Retry(NoBackoff(), 0))
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise SinkDown(str(exc) or type(exc).__name__) from exc

    async def publish(self, messages: Sequence[Message]) -> None:
        if self._redis is None:
            raise SinkDown("not connected")
        pipe = self._redis.pipeline(transaction=False)
        maxlen = self.maxlen
        for message in messages:
            pipe.xadd(message.address, {"id": message.id, "event": message.body},
                      maxlen=maxlen, approximate=True)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SinkDown(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            with contextlib.suppress(RedisError, OSError):  # the connection is gone already
                await redis.aclose()
