"""``tail`` where nothing answers gives up after a few attempts, naming ``scheme://host:port``
and saying so on stderr at each attempt (exit 5); a connection that was once up keeps the long
reconnect policy (``--retry-for``, on every platform's stream)."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from typing import Any

import pytest
from aioserve import serve
from hostile_ws import Conn, HostileServer

from notifyctl.errors import NetworkError
from notifyctl.http import NetOptions
from notifyctl.providers.iottly import wire
from notifyctl.providers.iottly.emulator import IottlyEmulator
from notifyctl.providers.iottly.stream import IottlyStream
from notifyctl.providers.pelion.stream import PelionStream
from notifyctl.ws import FIRST_CONTACT_ATTEMPTS, endpoint

KEY = "iot-key-unreachable-0123"


@pytest.fixture
def dead_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_endpoint_names_scheme_host_and_port() -> None:
    assert endpoint("https://api.example.com/v2?api_key=s3cret") == "https://api.example.com:443"
    assert endpoint("ws://127.0.0.1:9/v1/stream") == "ws://127.0.0.1:9"
    assert endpoint("wss://[::1]/x") == "wss://[::1]:443"


def test_pelion_tail_against_a_dead_api_url_gives_up_fast_and_says_where(
        cli: Any, monkeypatch: pytest.MonkeyPatch, dead_port: int) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "ak_unreachable")
    where = f"http://127.0.0.1:{dead_port}"
    result = cli("tail", "--provider", "pelion", "--api-url", where, "-o", "jsonl")
    assert result.exit_code == 5, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: cannot reach {where}: gave up after 3 attempts")
    retries = [line for line in lines if "retrying in" in line]
    assert len(retries) == FIRST_CONTACT_ATTEMPTS - 1  # the user is told at every attempt
    assert all(where in line and "(attempt " in line for line in retries)
    assert "ak_unreachable" not in result.stderr


def test_iottly_tail_against_a_dead_url_gives_up_fast_and_says_where(
        cli: Any, monkeypatch: pytest.MonkeyPatch, dead_port: int) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", KEY)
    api = f"http://127.0.0.1:{dead_port}/v1.0"
    assert cli("profile", "add", "iot", "--provider", "iottly", "--api-url", api).exit_code == 0
    result = cli("-p", "iot", "tail", "--device", "dev-1", "-o", "jsonl")
    assert result.exit_code == 5, result.stderr
    where = f"ws://127.0.0.1:{dead_port}"
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error: cannot reach {where}: gave up after 3 attempts")
    assert sum("(attempt " in line and where in line
               for line in result.stderr.splitlines()) == FIRST_CONTACT_ATTEMPTS - 1
    assert KEY not in result.stderr


def test_circle_tail_against_a_dead_api_url_gives_up_fast(
        cli: Any, monkeypatch: pytest.MonkeyPatch, dead_port: int) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "circle-api-key")
    monkeypatch.setenv("NOTIFYCTL_ACCESS_TOKEN", "circle-token-unreachable")
    where = f"http://127.0.0.1:{dead_port}"
    assert cli("profile", "add", "circ", "--provider", "circle", "--api-url",
               where).exit_code == 0
    result = cli("-p", "circ", "tail", "-o", "jsonl")
    assert result.exit_code == 5, result.stderr
    assert f"error: cannot reach {where}: gave up after 3 attempts" in result.stderr


def test_iottly_stream_unreached_stops_at_the_first_contact_attempts(dead_port: int) -> None:
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    stream = IottlyStream(wire.stream_url(f"http://127.0.0.1:{dead_port}", KEY),
                          [("dev-1", [])], sleep=sleep, on_state=lambda _m: None)

    async def main() -> None:
        async for _ in stream.frames():
            pass

    with pytest.raises(NetworkError, match="nothing answered") as info:
        asyncio.run(main())
    assert slept == [1.0, 2.0] and KEY not in str(info.value)


def test_iottly_stream_once_up_keeps_its_long_policy() -> None:
    slept: list[float] = []

    async def main() -> BaseException:
        emulator = IottlyEmulator(api_key=KEY)
        async with serve(emulator.install) as url:
            async def sleep(delay: float) -> None:
                slept.append(delay)
                await asyncio.sleep(0.01)

            stream = IottlyStream(wire.stream_url(url, KEY), [("dev-1", [])], sleep=sleep,
                                  max_failures=6, on_state=lambda _m: None)

            async def consume() -> None:
                async for _ in stream.frames():
                    pass

            task = asyncio.create_task(consume())
            await emulator.wait_subscribed(1)
        # The server is gone: connections are refused from now on.
        with pytest.raises(NetworkError) as info:
            await asyncio.wait_for(task, 30)
        return info.value

    error = asyncio.run(main())
    assert "gave up after 6 attempts" in str(error) and "nothing answered" not in str(error)
    assert len(slept) == 5


def test_iottly_tail_once_up_gives_up_after_retry_for_not_a_count() -> None:
    """The stream ``tail`` opens (the platform's ``stream`` capability) is bounded by
    ``--retry-for`` like Pelion's: with 0.3 s the first failed reconnect (its back-off is 1 s)
    ends it, where a count of 10 attempts would have backed off for minutes."""
    from notifyctl import registry
    from notifyctl.contract.connection import Connection
    from notifyctl.contract.stream import StreamContext

    async def main() -> BaseException:
        emulator = IottlyEmulator(api_key=KEY)
        async with serve(emulator.install) as url:
            context = StreamContext(Connection(None, "iottly", url, None, {}), NetOptions(),
                                    lambda _name: KEY, devices=["dev-1"], retry_for=0.3,
                                    on_state=lambda _m: None)
            open_stream = registry.get("iottly", "stream").load("stream")(context)

            async def consume() -> None:
                async with open_stream() as source:
                    async for _ in source.frames():
                        pass

            task = asyncio.create_task(consume())
            await emulator.wait_subscribed(1)
        # The server is gone: connections are refused from now on.
        with pytest.raises(NetworkError) as info:
            await asyncio.wait_for(task, 60)
        return info.value

    error = asyncio.run(main())
    assert "gave up after 0 s" in str(error) and "attempts" not in str(error), str(error)


def test_pelion_stream_once_up_keeps_retrying_for_retry_for() -> None:
    async def one_frame_then_reset(conn: Conn) -> None:
        await conn.send_text(json.dumps({"notifications": [
            {"ep": "dev-1", "path": "/3/0/1", "payload": "MQ==", "ct": "text/plain"}]}))
        conn.reset()

    messages: list[str] = []
    server = HostileServer([one_frame_then_reset]).__enter__()
    stream = PelionStream(server.url, "ak_hostile", NetOptions(timeout=5, retry_base=0.01),
                          retry_for=1.0, reconnect_delays=lambda: itertools.repeat(0.02),
                          on_state=messages.append)

    stopped: list[bool] = []

    def stop_server() -> None:
        if not stopped:
            stopped.append(True)
            server.__exit__(None, None, None)

    async def main() -> BaseException:
        frames = stream.frames()
        await frames.__anext__()
        await asyncio.to_thread(stop_server)  # refused from now on
        with pytest.raises(NetworkError) as info:
            async for _ in frames:
                pass
        return info.value

    try:
        error = asyncio.run(main())
    finally:
        stop_server()
        stream.close()
    assert "gave up after" in str(error) and "nothing answered" not in str(error)
    assert sum("retrying in" in m for m in messages) > FIRST_CONTACT_ATTEMPTS
    host_port = server.url.split("://", 1)[1]  # every network message names scheme://host:port
    said = [m for m in messages if "retrying in" in m or "reconnecting in" in m]
    assert said and all(f"://{host_port}" in m for m in said), said
    assert f"://{host_port}" in str(error)
