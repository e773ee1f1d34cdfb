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
from urllib.parse import quote, urlsplit

from notifyctl import __version__

HEAD_LIMIT = 1 << 16  # bytes: an answer's status line and headers together
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


class ConnectFailed(Exception):
    """No connection could be made; ``outcome`` is the engine's name for why."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


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
    are never more than the deliveries in flight."""

    def __init__(self, tls: Callable[[], ssl.SSLContext]) -> None:
        self._tls = tls
        self._context: ssl.SSLContext | None = None
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}

    async def send(self, method: str, to: Target, headers: Mapping[str, str], body: bytes, *,
                   timeout: float, connect_timeout: float, keep_body: bool) -> Answer:
        """One request and its answer, within ``timeout`` seconds in all (``connect_timeout``
        of them to connect); the body is kept only when ``keep_body``."""
        message = _message(method, to, headers, body)
        async with asyncio.timeout(timeout):
            connection = await self._connection(to, connect_timeout)
            try:
                answer, reusable = await connection.exchange(message, method, keep_body)
            except BaseException:
                connection.drop()
                raise
        if reusable:
            self._idle.setdefault(to.key, []).append(connection)
        else:
            connection.drop()
        return answer

    async def _connection(self, to: Target, connect_timeout: float) -> _Connection:
        idle = self._idle.get(to.key)
        while idle:
            connection = idle.pop()
            if connection.usable():
                return connection
            connection.drop()  # the receiver closed it while it was idle
        context = None
        if to.tls:
            if self._context is None:
                self._context = self._tls()
            context = self._context
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(
                    to.host, to.port, ssl=context, limit=HEAD_LIMIT)
        except TimeoutError:
            raise ConnectFailed("connect-timeout") from None
        except ssl.SSLCertVerificationError:
            raise ConnectFailed("tls-untrusted") from None
        except (OSError, ssl.SSLError):  # refused, unreachable, a name that does not resolve
            raise ConnectFailed("connect-error") from None
        return _Connection(reader, writer)

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.writer.close()
        self._idle.clear()


def _message(method: str, to: Target, headers: Mapping[str, str], body: bytes) -> bytes:
    """The request's bytes: request line, headers (the request's, then the defaults it lacks,
    Host and the framing), body."""
    lines = [f"{method} {to.path} HTTP/1.1\r\n"]
    given: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _FRAMING:
            continue
        if not _TOKEN.fullmatch(name) or _UNSENDABLE.search(value):
            raise ValueError(f"header {name!r} cannot be sent (not a token, or a newline "
                             "or NUL in its value)")
        given.add(lowered)
        lines.append(f"{name}: {value}\r\n")
    if "host" not in given:
        lines.append(f"Host: {to.authority}\r\n")
    lines.extend(line for name, line in _DEFAULTS if name not in given)
    if body or method not in _BODYLESS_METHODS:
        lines.append(f"Content-Length: {len(body)}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8", "surrogateescape") + body


class _Connection:
    """One keep-alive connection: a request out, its answer in, one at a time."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def usable(self) -> bool:
        return not self.reader.at_eof() and not self.writer.is_closing()

    def drop(self) -> None:
        self.writer.transport.abort()  # unsent bytes of a failed request must not go out

    async def exchange(self, message: bytes, method: str, keep_body: bool
                       ) -> tuple[Answer, bool]:
        """Send ``message``; the answer, and whether the connection may carry another."""
        self.writer.write(message)
        while True:
            version, status, headers = await self._head()
            if status >= 200:
                break
            if status == 101:
                raise BadAnswer("answered 101 Switching Protocols, which was not asked for")
        reusable = version == "HTTP/1.1" and "close" not in _tokens(headers.get("connection"))
        if method == "HEAD" or status in _NO_BODY:
            return Answer(status, headers), reusable
        coding = headers.get("transfer-encoding")
        if coding is not None:
            if _tokens(coding)[-1:] == ["chunked"]:
                body = await self._chunked(keep_body)
            else:  # another coding last: the body runs to the close
                body, reusable = await self.reader.read(), False
        elif "content-length" in headers:
            body = await self._exactly(_length(headers["content-length"]))
        else:
            body, reusable = await self.reader.read(), False
        return Answer(status, headers, body if keep_body else b""), reusable

    async def _head(self) -> tuple[str, int, dict[str, str]]:
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            where = "inside the answer's headers" if exc.partial else "before an answer"
            raise ServerDisconnected(f"the connection closed {where}") from None
        except asyncio.LimitOverrunError:
            raise BadAnswer(f"the answer's headers are longer than {HEAD_LIMIT} bytes") from None
        lines = head[:-4].decode("utf-8", "surrogateescape").split("\r\n")
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

    async def _exactly(self, count: int) -> bytes:
        try:
            return await self.reader.readexactly(count)
        except asyncio.IncompleteReadError:
            raise ServerDisconnected("the connection closed inside the answer's body") from None

    async def _chunked(self, keep: bool) -> bytes:
        parts: list[bytes] = []
        while True:
            line = await self._line()
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or not _HEX.issuperset(size_text) or len(size_text) > 15:
                raise BadAnswer(f"not a chunk size: {line[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                while await self._line():  # trailers, up to the blank line
                    pass
                return b"".join(parts)
            chunk = await self._exactly(size + 2)
            if not chunk.endswith(b"\r\n"):
                raise BadAnswer("a chunk does not end where its size says")
            if keep:
                parts.append(chunk[:-2])

    async def _line(self) -> bytes:
        try:
            return (await self.reader.readuntil(b"\r\n"))[:-2]
        except asyncio.IncompleteReadError:
            raise ServerDisconnected("the connection closed inside a chunked body") from None
        except asyncio.LimitOverrunError:
            raise BadAnswer(f"a chunk line is longer than {HEAD_LIMIT} bytes") from None


def _tokens(value: str | None) -> list[str]:
    return [part.strip().lower() for part in value.split(",")] if value else []


def _length(value: str) -> int:
    if not value.isdigit() or not value.isascii():
        raise BadAnswer(f"Content-Length {value[:20]!r} is not a number of bytes")
    return int(value)
