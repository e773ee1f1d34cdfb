"""replay's own HTTP/1.1 client for deliveries that go straight to their target (no proxy):
keep-alive connections, one per delivery in flight, each request written in one piece and each
answer read just as far as its framing says.

Why not aiohttp's ClientSession here: it builds a URL, a header multidict, a request, a
response, a payload and a timer object per request, which caps one-request-per-event replay
near 12,000 requests/s on these 2 cores, about a quarter of ``hey`` against the same endpoint
(docs/decisions.md, "Replay as a load generator"). The engine still sends through aiohttp
where a proxy is involved, for URLs this client does not take (``target`` is None), and in the
sandbox.

What it speaks: HTTP/1.1 requests with a Content-Length body; answers framed by
Content-Length, the chunked transfer coding, or the connection's close; 1xx answers skipped;
no body after HEAD, 204 or 304. A connection is reused only after a complete answer that did
not ask to close it. TLS verifies with the context the engine gives (made on first use).
Answers are parsed in the protocol's ``data_received`` as bytes arrive (no stream reader, no
coroutine per read), and a body nobody reads is dropped as it comes. Deadlines are checked by
one watchdog every ``TICK`` seconds rather than by a timer per request: a request overruns its
timeout by at most ``TICK``, never ends before it.

Failures: ``ConnectFailed`` (with the engine's outcome name) before a connection exists;
``TimeoutError`` when the whole attempt overran; ``ServerDisconnected``, ``BadAnswer`` or an
``OSError`` once the request was sent; ``ValueError`` for a header that cannot be sent (a
newline in it). A connection that failed, timed out or was cancelled is dropped, never reused.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlsplit

from notifyctl import __version__

HEAD_LIMIT = 1 << 16  # bytes: an answer's status line and headers together
TICK = 0.02  # seconds between the watchdog's deadline checks
SMALL_BODY = 1 << 16  # bytes: a body up to this size goes out in one piece with its head
USER_AGENT = f"notifyctl/{__version__}"
# Sent unless the request has its own (what aiohttp sent before this client existed).
_DEFAULTS = (("accept", "Accept: */*\r\n"),
             ("accept-encoding", "Accept-Encoding: gzip, deflate\r\n"),
             ("user-agent", f"User-Agent: {USER_AGENT}\r\n"))
_FRAMING = frozenset({"content-length", "transfer-encoding"})  # this client's to write
_NO_BODY = frozenset({204, 304})
_BODYLESS_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSENDABLE = re.compile(r"[\r\n\x00]")
_HEX = frozenset(b"0123456789abcdefABCDEF")


class Failed(Exception):
    """A request got no answer; ``outcome`` is the engine's name for why."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


class ConnectFailed(Failed):
    """No connection could be made."""


class ServerDisconnected(ConnectionError):
    """The receiver closed the connection before a complete answer."""


class BadAnswer(ValueError):
    """What came back is not an HTTP/1.x answer this client can read."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where a URL's requests go, worked out once per URL."""

    host: str  # to connect to
    port: int
    tls: bool
    authority: str  # the Host header
    path: str  # the request target: path and query, percent-encoded

    @property
    def key(self) -> tuple[str, int, bool]:
        return self.host, self.port, self.tls


@functools.lru_cache(maxsize=1024)
def target(url: str) -> Target | None:
    """``url`` as this client sends to it, or None where it does not (not http/https, no host,
    credentials in the URL): the engine then sends through aiohttp."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = 443 if scheme == "https" else 80
    port = parts.port or default  # ValueError for a port that is not one
    host = parts.hostname
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == default else f"{shown}:{port}"
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        path += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return Target(host, port, scheme == "https", authority, path)


@dataclass(slots=True)
class Answer:
    """A receiver's answer: status, headers (lower-case names) and, when asked for, the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""


class Pool:
    """Keep-alive connections by origin. Each delivery in flight holds one connection, so there
    are never more than the deliveries in flight. Used from one event loop."""

    def __init__(self, tls: Callable[[], ssl.SSLContext]) -> None:
        self._tls = tls
        self._context: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def send(self, method: str, to: Target, headers: Mapping[str, str], body: bytes, *,
                   timeout: float, connect_timeout: float, keep_body: bool) -> Answer:
        """One request and its answer, within ``timeout`` seconds in all (``connect_timeout``
        of them to connect); the body is kept only when ``keep_body``."""
        head = _head(method, to, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = await self._connection(loop, to, min(connect_timeout, timeout))
        connection.deadline = deadline
        self._busy.add(connection)
        if self._watchdog is None:
            self._watchdog = loop.create_task(self._expire_overdue(loop))
        try:
            answer, reusable = await connection.exchange(head, body, method, keep_body)
        except BaseException:
            connection.drop()
            raise
        finally:
            self._busy.discard(connection)
        if reusable:
            self._idle.setdefault(to.key, []).append(connection)
        else:
            connection.drop()
        return answer

    async def _connection(self, loop: asyncio.AbstractEventLoop, to: Target,
                          connect_timeout: float) -> _Connection:
        idle = self._idle.get(to.key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
            connection.drop()  # the receiver closed it while it was idle
        context = None
        if to.tls:
            if self._context is None:
                self._context = self._tls()
            context = self._context
        try:
            async with asyncio.timeout(connect_timeout):
                _transport, connection = await loop.create_connection(
                    _Connection, to.host, to.port, ssl=context)
        except TimeoutError:
            raise ConnectFailed("connect-timeout") from None
        except ssl.SSLCertVerificationError:
            raise ConnectFailed("tls-untrusted") from None
        except (OSError, ssl.SSLError):  # refused, unreachable, a name that does not resolve
            raise ConnectFailed("connect-error") from None
        return connection

    async def _expire_overdue(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = loop.time()
            for connection in [c for c in self._busy if c.deadline <= now]:
                connection.expire()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for connections in self._idle.values():
            for connection in connections:
                connection.drop()
        self._idle.clear()


def _head(method: str, to: Target, headers: Mapping[str, str], body: bytes) -> bytes:
    """The request's head: request line, headers (the request's, then the defaults it lacks,
    Host and the framing) and the blank line."""
    lines = [f"{method} {to.path} HTTP/1.1\r\n"]
    given: set[str] = set()
    for name, value in headers.items():
        lowered = _sendable_name(name)
        if lowered in _FRAMING:
            continue
        if _UNSENDABLE.search(value):
            raise ValueError(f"header {name!r} cannot be sent: a newline or NUL in its value")
        given.add(lowered)
        lines.append(f"{name}: {value}\r\n")
    if "host" not in given:
        lines.append(f"Host: {to.authority}\r\n")
    for name, line in _DEFAULTS:
        if name not in given:
            lines.append(line)
    if body or method not in _BODYLESS_METHODS:
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


@functools.lru_cache(maxsize=256)
def _sendable_name(name: str) -> str:
    """``name`` lower-cased, checked once per name (a replay sends the same few names)."""
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"header {name!r} cannot be sent: not a header name")
    return name.lower()


_LENGTH, _CHUNKED, _TO_CLOSE = range(3)  # how an answer's body is framed


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request out, its answer parsed as its bytes arrive."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False  # the receiver closed it (or it was lost)
        self.deadline = 0.0
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[Answer, bool]] | None = None
        self._method = ""
        self._keep = False
        # The answer being read: its status line and headers once they are complete.
        self._head: tuple[str, int, dict[str, str]] | None = None
        self._framing = _LENGTH
        self._left = 0  # _LENGTH: body bytes still to come
        self._at = 0  # _CHUNKED: where the next chunk's size line starts in _buf
        self._trailers = False  # _CHUNKED: past the last chunk, reading trailer lines
        self._parts: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, whatever the loop (uvloop's do not subclass asyncio.Transport).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._waiter is not None:
            self._advance()

    def eof_received(self) -> bool:
        self.closed = True
        self._advance()
        return False  # and close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._advance()

    def drop(self) -> None:
        """Close it now: unsent bytes of a failed request must not go out."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def expire(self) -> None:
        """The request's deadline passed: it fails with TimeoutError."""
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(TimeoutError())
        self.drop()

    def exchange(self, head: bytes, body: bytes, method: str, keep_body: bool
                 ) -> asyncio.Future[tuple[Answer, bool]]:
        """Send the request; resolves to the answer and whether the connection may carry
        another."""
        assert self.transport is not None and self._waiter is None
        self._method, self._keep = method, keep_body
        self._head, self._parts, self._at, self._trailers = None, [], 0, False
        if self.closed:
            raise ServerDisconnected("the connection closed before the request was sent")
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        if len(body) <= SMALL_BODY:
            self.transport.write(head + body)  # one send
        else:  # two sends rather than copying a large body (a 1.6 MB Pelion batch)
            self.transport.write(head)
            self.transport.write(body)
        return waiter

    def _advance(self) -> None:
        """Parse what has arrived; settle the waiter when the answer is complete or broken."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            done = self._parse()
        except (BadAnswer, ServerDisconnected) as exc:
            self._waiter = None
            waiter.set_exception(exc)
            return
        if done is not None:
            self._waiter = None
            waiter.set_result(done)

    def _parse(self) -> tuple[Answer, bool] | None:
        """The answer and whether the connection is reusable; None: more bytes are needed."""
        while self._head is None:
            if not self._parse_head():
                return None
        version, status, headers = self._head
        if self._framing == _LENGTH:
            body = self._length_body()
        elif self._framing == _CHUNKED:
            body = self._chunked_body()
        else:
            body = self._closed_body()
        if body is None:
            return None
        reusable = (self._framing != _TO_CLOSE and version == "HTTP/1.1" and not self._buf
                    and "close" not in _tokens(headers.get("connection")))
        return Answer(status, headers, body if self._keep else b""), reusable

    def _parse_head(self) -> bool:
        """Read a status line and headers off ``_buf``; False: they are not all here yet."""
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > HEAD_LIMIT:
                raise BadAnswer(f"the answer's headers are longer than {HEAD_LIMIT} bytes")
            if self.closed:
                where = "inside the answer's headers" if self._buf else "before an answer"
                raise ServerDisconnected(f"the connection closed {where}")
            return False
        version, status, headers = _status_and_headers(bytes(self._buf[:end]))
        del self._buf[:end + 4]
        if status == 101:
            raise BadAnswer("answered 101 Switching Protocols, which was not asked for")
        if status < 200:
            return True  # an interim answer (100 Continue, 103 Early Hints): the next one counts
        self._head = version, status, headers
        coding = headers.get("transfer-encoding")
        if self._method == "HEAD" or status in _NO_BODY:
            self._framing, self._left = _LENGTH, 0
        elif coding is not None:
            chunked = _tokens(coding)[-1:] == ["chunked"]
            self._framing = _CHUNKED if chunked else _TO_CLOSE  # another coding: to the close
        elif "content-length" in headers:
            self._framing, self._left = _LENGTH, _length(headers["content-length"])
        else:
            self._framing = _TO_CLOSE
        return True

    def _length_body(self) -> bytes | None:
        buf, left = self._buf, self._left
        if len(buf) >= left:
            body = bytes(buf[:left])
            del buf[:left]
            return body
        if self.closed:
            raise ServerDisconnected("the connection closed inside the answer's body")
        if not self._keep:  # nobody reads it: drop what came
            self._left -= len(buf)
            buf.clear()
        return None

    def _closed_body(self) -> bytes | None:
        if not self.closed:
            if not self._keep:
                self._buf.clear()
            return None
        body = bytes(self._buf)
        self._buf.clear()
        return body

    def _chunked_body(self) -> bytes | None:
        buf = self._buf
        while True:
            eol = buf.find(b"\r\n", self._at)
            if eol < 0:
                if len(buf) - self._at > HEAD_LIMIT:
                    raise BadAnswer(f"a chunk line is longer than {HEAD_LIMIT} bytes")
                self._more_chunks()
                return None
            if self._trailers:
                if eol == self._at:  # the blank line after the trailers: the end
                    del buf[:eol + 2]
                    return b"".join(self._parts)
                self._at = eol + 2
                continue
            size = _chunk_size(bytes(buf[self._at:eol]))
            if size == 0:
                self._trailers, self._at = True, eol + 2
                continue
            end = eol + 2 + size
            if len(buf) < end + 2:
                self._more_chunks()
                return None
            if buf[end:end + 2] != b"\r\n":
                raise BadAnswer("a chunk does not end where its size says")
            if self._keep:
                self._parts.append(bytes(buf[eol + 2:end]))
            del buf[:end + 2]
            self._at = 0

    def _more_chunks(self) -> None:
        """Waiting for more of a chunked body is fine, unless nothing more can come."""
        if self.closed:
            raise ServerDisconnected("the connection closed inside a chunked body")


def _status_and_headers(block: bytes) -> tuple[str, int, dict[str, str]]:
    """HTTP version, status and headers (lower-case names) of an answer's head."""
    lines = block.decode("utf-8", "surrogateescape").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit() or \
            rest[3:4] not in ("", " "):
        raise BadAnswer(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadAnswer(f"not a header line: {line[:80]!r}")
        name, value = name.lower(), value.strip(" \t")
        if name == "content-length" and headers.get(name, value) != value:
            raise BadAnswer("two different Content-Length headers")
        headers[name] = value
    return version, int(code), headers


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip(b" \t")
    if not text or len(text) > 15 or not _HEX.issuperset(text):
        raise BadAnswer(f"not a chunk size: {line[:40]!r}")
    return int(text, 16)


def _tokens(value: str | None) -> list[str]:
    return [part.strip().lower() for part in value.split(",")] if value else []


def _length(value: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise BadAnswer(f"Content-Length {value[:20]!r} is not a number of bytes")
    return int(value)
