"""replay's own HTTP/1.1 client (``notifyctl.replay.http1``) against a scripted TCP server on
127.0.0.1: the exact request bytes, every answer framing, reuse and non-reuse of connections,
interim answers, broken answers, deadlines and connection failures."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

import pytest

from notifyctl.replay import http1

Script = Callable[[int, bytes], list[bytes] | None]  # (request number, request) -> pieces


class Scripted:
    """Answers request N with ``script(N, request)``'s pieces (written with a pause between
    them), then keeps the connection open; None closes it without a word. Records requests and
    counts connections."""

    def __init__(self, script: Script, close_after: bool = False) -> None:
        self.script = script
        self.close_after = close_after
        self.requests: list[bytes] = []
        self.connections = 0
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                pieces = self.script(len(self.requests), request)
                if pieces is None:
                    break
                for piece in pieces:
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0.01)
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


def run(server: Scripted, job: Callable[[http1.Pool], Awaitable[object]]) -> object:
    async def main() -> object:
        listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        server.url = f"http://127.0.0.1:{port}/hook?x=1"
        pool = http1.Pool(lambda: pytest.fail("no TLS here"))
        try:
            return await job(pool)
        finally:
            pool.close()
            listening.close()

    return asyncio.run(main())


def send(pool: http1.Pool, url: str, body: bytes = b'{"n": 1}', *, method: str = "POST",
         headers: dict[str, str] | None = None, timeout: float = 10.0,
         keep_body: bool = True) -> Awaitable[http1.Answer]:
    target = http1.target(url)
    assert target is not None
    return pool.send(method, target, headers or {"Content-Type": "application/json"}, body,
                     timeout=timeout, connect_timeout=5.0, keep_body=keep_body)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_the_request_is_written_whole_with_host_length_and_the_defaults_it_lacks() -> None:
    server = Scripted(lambda n, req: [OK])

    async def job(pool: http1.Pool) -> object:
        return await send(pool, server.url, headers={"Content-Type": "application/json",
                                                     "user-agent": "mine/1"})

    answer = run(server, job)
    assert isinstance(answer, http1.Answer) and answer.status == 200 and answer.body == b"ok"
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    port = server.url.split(":")[2].split("/")[0]
    assert lines[0] == "POST /hook?x=1 HTTP/1.1"
    assert sorted(lines[1:]) == sorted([
        "Content-Type: application/json", "user-agent: mine/1", f"Host: 127.0.0.1:{port}",
        "Accept: */*", "Accept-Encoding: gzip, deflate", "Content-Length: 8"])
    assert body == b'{"n": 1}'


def test_a_large_body_arrives_whole_after_its_head() -> None:
    server = Scripted(lambda n, req: [OK])
    body = bytes(range(256)) * (http1.SMALL_BODY // 256 * 3)

    async def job(pool: http1.Pool) -> object:
        return await send(pool, server.url, body)

    run(server, job)
    head, _, received = server.requests[0].partition(b"\r\n\r\n")
    assert f"Content-Length: {len(body)}".encode() in head and received == body
    assert f"User-Agent: {http1.USER_AGENT}".encode() in head


@pytest.mark.parametrize("headers", [{"X-Bad": "a\r\nInjected: yes"}, {"X-Bad": "a\x00"},
                                     {"X-Bad: x\r\nInjected": "yes"}])
def test_a_header_that_cannot_be_sent_is_refused_and_nothing_is_sent(
        headers: dict[str, str]) -> None:
    server = Scripted(lambda n, req: [OK])

    async def job(pool: http1.Pool) -> object:
        with pytest.raises(ValueError, match="X-Bad"):
            await send(pool, server.url, headers=headers)
        return None

    run(server, job)
    assert server.requests == [] and server.connections == 0


@pytest.mark.parametrize("pieces", [
    [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     b"5;ext=1\r\nhello\r\n", b"6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"],
    [b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n", b"\r\nhel", b"lo", b" world"],
    [b"HTTP/1.1 100 Continue\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"],
], ids=["chunked", "length-in-pieces", "interim-100"])
def test_every_framing_is_read_and_the_connection_reused(pieces: list[bytes]) -> None:
    server = Scripted(lambda n, req: pieces)

    async def job(pool: http1.Pool) -> object:
        return [await send(pool, server.url) for _ in range(3)]

    answers = run(server, job)
    assert [(a.status, a.body) for a in answers] == [(200, b"hello world")] * 3  # type: ignore[attr-defined]
    assert server.connections == 1


@pytest.mark.parametrize(("pieces", "close_after"), [
    ([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"], False),
    ([b"HTTP/1.0 200 OK\r\n\r\nok"], True),  # no length: the body runs to the close
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok"], True),
], ids=["connection-close", "http10-to-close", "other-coding-to-close"])
def test_a_connection_is_not_reused_when_the_answer_says_so(pieces: list[bytes],
                                                            close_after: bool) -> None:
    server = Scripted(lambda n, req: pieces, close_after=close_after)

    async def job(pool: http1.Pool) -> object:
        return [await send(pool, server.url) for _ in range(2)]

    answers = run(server, job)
    assert [(a.status, a.body) for a in answers] == [(200, b"ok")] * 2  # type: ignore[attr-defined]
    assert server.connections == 2


def test_no_body_is_read_after_head_204_or_304() -> None:
    answers = {1: b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
               2: b"HTTP/1.1 204 No Content\r\n\r\n", 3: b"HTTP/1.1 304 Not Modified\r\n\r\n",
               4: OK}
    server = Scripted(lambda n, req: [answers[n]])

    async def job(pool: http1.Pool) -> object:
        first = await send(pool, server.url, b"", method="HEAD")
        rest = [await send(pool, server.url) for _ in range(3)]
        return [first, *rest]

    got = run(server, job)
    assert [(a.status, a.body) for a in got] == [  # type: ignore[attr-defined]
        (200, b""), (204, b""), (304, b""), (200, b"ok")]
    assert server.connections == 1
    assert b"Content-Length" not in server.requests[0]  # HEAD carries no body


def test_a_body_nobody_reads_is_not_kept() -> None:
    server = Scripted(lambda n, req: [b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", b"da",
                                      b"ta"])

    async def job(pool: http1.Pool) -> object:
        return await send(pool, server.url, keep_body=False)

    answer = run(server, job)
    assert isinstance(answer, http1.Answer) and (answer.status, answer.body) == (200, b"")


@pytest.mark.parametrize(("pieces", "error"), [
    (None, http1.ServerDisconnected),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], http1.ServerDisconnected),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"],
     http1.ServerDisconnected),
    ([b"SSH-2.0-OpenSSH\r\n\r\n"], http1.BadAnswer),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"], http1.BadAnswer),
    ([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"], http1.BadAnswer),
    ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], http1.BadAnswer),
    ([b"HTTP/1.1 101 Switching Protocols\r\n\r\n"], http1.BadAnswer),
    ([b"HTTP/1.1 200 OK\r\nX: " + b"a" * http1.HEAD_LIMIT], http1.BadAnswer),
], ids=["closed", "short-body", "short-chunk", "not-http", "bad-length", "two-lengths",
        "bad-chunk-size", "upgrade", "huge-head"])
def test_a_broken_answer_fails_the_request_and_drops_the_connection(
        pieces: list[bytes] | None, error: type[Exception]) -> None:
    server = Scripted(lambda n, req: pieces if n == 1 else [OK],
                      close_after=pieces is not None)

    async def job(pool: http1.Pool) -> object:
        with pytest.raises(error):
            await send(pool, server.url)
        return await send(pool, server.url)  # a fresh connection, not the broken one

    answer = run(server, job)
    assert isinstance(answer, http1.Answer) and answer.status == 200
    assert server.connections == 2


def test_an_idle_connection_the_receiver_closed_is_replaced() -> None:
    server = Scripted(lambda n, req: [OK], close_after=True)

    async def job(pool: http1.Pool) -> object:
        first = await send(pool, server.url)
        await asyncio.sleep(0.2)  # the receiver's close arrives while the connection is idle
        return [first, await send(pool, server.url)]

    answers = run(server, job)
    assert [a.status for a in answers] == [200, 200]  # type: ignore[attr-defined]
    assert server.connections == 2


def test_the_deadline_fails_a_silent_receiver_no_sooner_than_the_timeout() -> None:
    server = Scripted(lambda n, req: [] if n == 1 else [OK])

    async def job(pool: http1.Pool) -> object:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await send(pool, server.url, timeout=0.3)
        took = time.monotonic() - started
        return took, await send(pool, server.url)

    took, answer = run(server, job)  # type: ignore[misc]
    assert took >= 0.3
    assert answer.status == 200 and server.connections == 2


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused

        async def job() -> None:
            pool = http1.Pool(lambda: pytest.fail("no TLS here"))
            with pytest.raises(http1.ConnectFailed) as caught:
                await send(pool, f"http://127.0.0.1:{port}/")
            assert caught.value.outcome == "connect-error"
            pool.close()

        asyncio.run(job())


@pytest.mark.parametrize(("url", "expected"), [
    ("http://example.test/a b?q=x y", ("example.test", 80, False, "example.test",
                                       "/a%20b?q=x%20y")),
    ("https://example.test:8443", ("example.test", 8443, True, "example.test:8443", "/")),
    ("https://example.test:443/p#frag", ("example.test", 443, True, "example.test", "/p")),
    ("http://[::1]:9000/h", ("::1", 9000, False, "[::1]:9000", "/h")),
    ("http://bücher.test/", ("xn--bcher-kva.test", 80, False, "xn--bcher-kva.test", "/")),
])
def test_a_target_is_worked_out_once_per_url(url: str, expected: tuple[object, ...]) -> None:
    to = http1.target(url)
    assert to is not None
    assert (to.host, to.port, to.tls, to.authority, to.path) == expected


@pytest.mark.parametrize("url", ["ftp://example.test/", "http://user:pw@example.test/",
                                 "http:///nohost"])
def test_urls_this_client_does_not_take_are_left_to_aiohttp(url: str) -> None:
    assert http1.target(url) is None


def test_through_a_proxy_replay_still_delivers(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """HTTP_PROXY set: the delivery goes to the proxy (through aiohttp), in absolute form,
    from the same User-Agent as a direct one."""
    from aiohttp import web
    from aioserve import ServeThread

    seen: list[tuple[str, str, str | None, bytes]] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append((request.method, request.host, request.headers.get("User-Agent"),
                     await request.read()))
        return web.Response(status=204)

    body = tmp_path / "b.json"
    body.write_text('{"n": 1}')
    with ServeThread(lambda app: app.router.add_route("*", "/{tail:.*}", proxy)) as server:
        result = run("replay", str(body), "--provider", "generic", "--to",
                     "http://proxied.invalid/hook", HTTP_PROXY=server.url, NO_PROXY="")
    assert result.exit_code == 0, result.stderr
    assert seen == [("POST", "proxied.invalid", http1.USER_AGENT, b'{"n": 1}')]


@pytest.mark.parametrize("value", ["0", "-1"])
def test_a_request_timeout_that_is_not_positive_is_exit_2(  # type: ignore[no-untyped-def]
        cli, value: str) -> None:
    result = cli("replay", "--fixture", "generic/standard-webhooks", "--to", "http://127.0.0.1:9",
                 "--request-timeout", value)
    assert result.exit_code == 2 and result.stderr.startswith(
        f"error: --request-timeout {value}: must be greater than 0"), result.stderr


def test_a_direct_replay_does_not_load_aiohttp(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Straight to the target, nothing needs aiohttp (about 100 ms of imports)."""
    import subprocess
    import sys

    from recorder import Recorder

    from conftest import subprocess_env

    body = tmp_path / "b.json"
    body.write_text('{"n": 1}')
    with Recorder() as rec:
        code = ("import sys\nfrom notifyctl.cli import main\n"
                f"status = main(['replay', {str(body)!r}, '--provider', 'generic', '--to', "
                f"{rec.url + '/hook'!r}])\n"
                "print(status, 'aiohttp' in sys.modules)")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env=subprocess_env(), timeout=60)
        assert len(rec.requests) == 1
    assert proc.stdout.split()[-2:] == ["0", "False"], proc.stderr
