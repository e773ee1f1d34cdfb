"""The Redis Streams sink: ``redis://host:port/<db>?stream=<key template>&maxlen=N``.

Each event is one ``XADD`` to the key its template gives, with the fields ``id`` (the message id,
see ``notifyctl.sinks.base``) and ``event`` (the JSON line). A batch is sent as a few calls of
one small Lua script that runs those ``XADD``s (``SCRIPT``, loaded once per connection): one
command and one reply per ``SCRIPT_BATCH`` events instead of one each, which is what takes
Python's client past 50,000 events/s (docs/decisions.md). A script runs whole, so a batch is
in the stream entirely once its reply comes. ``maxlen`` caps each stream approximately
(``MAXLEN ~ N``, Redis trims whole nodes, the cheap form). The client is ``redis``'s asyncio
one (the ``[redis]`` extra); its own retrying is off, the sink engine retries whole batches.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

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
SCRIPT_BATCH = 500  # XADDs per script call: short enough not to stall other clients
# KEYS: one stream key per event; ARGV: maxlen (0: none), then id and event per key.
SCRIPT = """
local maxlen = tonumber(ARGV[1])
for i = 1, #KEYS do
  if maxlen > 0 then
    redis.call('XADD', KEYS[i], 'MAXLEN', '~', maxlen, '*', 'id', ARGV[2*i], 'event', ARGV[2*i+1])
  else
    redis.call('XADD', KEYS[i], '*', 'id', ARGV[2*i], 'event', ARGV[2*i+1])
  end
end
return #KEYS
"""


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
    duplicates = 0  # XADD always appends
    max_address = MAX_BULK

    def __init__(self, url: SinkUrl, password: str | None) -> None:
        self.url = url
        self._password = password
        self.db, self.maxlen = _options(url)
        self._redis: aioredis.Redis | None = None
        self._sha = ""

    async def connect(self) -> None:
        await self.close()
        self._redis = aioredis.Redis(
            host=self.url.host, port=self.url.port, db=self.db, username=self.url.username,
            password=self._password, socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=IO_TIMEOUT, retry=Retry(NoBackoff(), 0))
        try:
            self._sha = await self._redis.script_load(SCRIPT)
        except (RedisError, OSError) as exc:
            raise SinkDown(str(exc) or type(exc).__name__) from exc

    async def publish(self, messages: Sequence[Message]) -> None:
        if self._redis is None:
            raise SinkDown("not connected")
        pipe = self._redis.pipeline(transaction=False)
        maxlen = str(self.maxlen or 0)
        for start in range(0, len(messages), SCRIPT_BATCH):
            chunk = messages[start:start + SCRIPT_BATCH]
            args: list[Any] = [maxlen]  # redis-py types them str; it sends bytes as they are
            for message in chunk:
                args += (message.id, message.body)
            pipe.evalsha(self._sha, len(chunk), *(m.address for m in chunk), *args)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SinkDown(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        if self._redis is not None:
            redis, self._redis = self._redis, None
            with contextlib.suppress(RedisError, OSError):  # the connection is gone already
                await redis.aclose()
