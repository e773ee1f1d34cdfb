"""The `tail` engine with the Pelion stream: the close-code policy, reconnects without loss or
repeats, keep-alive, back-off, filters and de-duplication.

These drive ``notifyctl.tail.tail`` with a real ``PelionStream`` against the real sandbox (short
injected reconnect delays). The command itself is tested in ``test_tail_cli.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from pelion_events import message, note
from sandbox import SandboxThread
from waiting import async_wait_for as until

from notifyctl.errors import AuthError, NetworkError, NotFoundError
from notifyctl.events import Event
from notifyctl.http import NetOptions
from notifyctl.providers.pelion.api import PelionApi, websocket_url
from notifyctl.providers.pelion.stream import PelionStream
from notifyctl.retry import backoff
from notifyctl.tail import (
    Dedup,
    Filters,
    Source,
    TailOptions,
    TailRun,
    tail,
)


class ListSink:
    """Collects events (the engine's sinks write to stdout; this one lets tests look)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def start(self, source: Source, run: TailRun) -> None:
        pass

    def emit(self, events: list[Event]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        self.closed = True


def make_stream(sb: SandboxThread, delay: float = 0.02, **kwargs: Any) -> PelionStream:
    kwargs.setdefault("reconnect_delays", lambda: itertools.repeat(delay))
    kwargs.setdefault("on_state", lambda text: None)
    return PelionStream(sb.url, sb.api_key, NetOptions(timeout=5, retry_base=0.01), **kwargs)


Script = Callable[[PelionStream, ListSink], Awaitable[None]]


def drive(stream: PelionStream, options: TailOptions, script: Script) -> tuple[ListSink, Any]:
    """Run tail() and ``script`` side by side; returns the sink and the run or the error."""
    sink = ListSink()

    async def main() -> Any:
        task = asyncio.create_task(tail(stream, sink, options))
        scripted = asyncio.create_task(script(stream, sink))
        done, _ = await asyncio.wait({task, scripted}, return_when=asyncio.FIRST_EXCEPTION,
                                     timeout=15)
        if scripted in done and scripted.exception() is not None:
            task.cancel()
            raise scripted.exception()  # type: ignore[misc]
        try:
            return await asyncio.wait_for(task, 15)
        except Exception as exc:
            return exc
        finally:
            stream.close()

    return sink, asyncio.run(main())


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
    return asyncio.to_thread(function, *args, **kwargs)


# -- reconnects: nothing lost, nothing repeated ------------------------------------------------
@pytest.mark.parametrize("fault", [{"action": "close", "code": 1012},
                                   {"action": "drop"},
                                   {"action": "close", "code": 1011}],
                         ids=["1012", "1006-drop", "1011-once"])
def test_reconnect_loses_and_repeats_nothing(sandbox: SandboxThread, fault: dict[str, Any]) -> None:
    async def script(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        await call(sandbox.inject, message(range(50)))
        await until(lambda: len(sink.events) >= 50)
        await call(sandbox.fault, **fault)
        await call(sandbox.inject, message(range(50, 110)))  # queued while disconnected
        await until(lambda: len(sink.events) >= 110)
        state = await call(sandbox.key_state)
        assert state["channel"] == "websocket"  # never deleted to reconnect
        await call(sandbox.inject, message(range(110, 120)))

    stream = make_stream(sandbox, delay=0.2)
    sink, result = drive(stream, TailOptions(count=120, timeout=10, dedup_window=0), script)
    assert isinstance(result, TailRun), result
    assert [e.id for e in sink.events] == [f"u{i}" for i in range(120)]
    assert stream.stats.reconnects == 1 and stream.stats.connections == 2


def test_dead_connection_noticed_by_keepalive(sandbox: SandboxThread) -> None:
    async def script(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        await call(sandbox.inject, message(range(5)))
        await until(lambda: len(sink.events) >= 5)
        await call(sandbox.fault, action="stall")
        await call(sandbox.inject, message(range(5, 10)))

    stream = make_stream(sandbox, ping_interval=0.1, ping_timeout=0.2)
    sink, result = drive(stream, TailOptions(count=10, timeout=10, dedup_window=0), script)
    assert isinstance(result, TailRun), result
    assert [e.id for e in sink.events] == [f"u{i}" for i in range(10)]
    assert stream.stats.reconnects >= 1


def test_backoff_resets_after_a_healthy_connection(sandbox: SandboxThread) -> None:
    started: list[int] = []

    def delays() -> Iterator[float]:
        started.append(1)
        return itertools.repeat(0.02)

    async def script(stream: PelionStream, sink: ListSink) -> None:
        for round_ in range(3):
            await until(lambda r=round_: stream.stats.connections == r + 1)
            await call(sandbox.inject, message(range(round_ * 10, round_ * 10 + 10)))
            await until(lambda r=round_: len(sink.events) >= (r + 1) * 10)
            if round_ < 2:
                await call(sandbox.fault, action="close", code=1012)

    stream = make_stream(sandbox, reconnect_delays=delays)
    _sink, result = drive(stream, TailOptions(count=30, timeout=10), script)
    assert isinstance(result, TailRun), result
    assert len(started) == 3  # the first run, then a fresh back-off after each healthy one


@pytest.mark.parametrize(("code", "error", "text"), [
    (1008, AuthError, "refused the API key"),
    (1001, NotFoundError, "took this channel over"),
    (1000, NotFoundError, "deleted"),
])
def test_fatal_close_codes(sandbox: SandboxThread, code: int, error: type, text: str) -> None:
    async def script(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        await call(sandbox.fault, action="close", code=code)

    stream = make_stream(sandbox)
    _, result = drive(stream, TailOptions(timeout=10), script)
    assert isinstance(result, error) and text in str(result)
    assert stream.stats.reconnects == 0


def test_real_takeover_and_deletion(sandbox: SandboxThread) -> None:
    """The sandbox's own 1001 (a second socket) and 1000 (REST delete) end the tail."""
    from websockets.asyncio.client import connect

    async def takeover(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        url = websocket_url(sandbox.url)
        async with connect(url, subprotocols=["wss", f"pelion_{sandbox.api_key}"]):  # type: ignore[list-item]
            await until(lambda: stream.stats.state == "stopped")  # the tail ended on the 1001

    _, result = drive(make_stream(sandbox), TailOptions(timeout=10), takeover)
    assert isinstance(result, NotFoundError) and "1001" in str(result)

    async def delete(stream: PelionStream, sink: ListSink) -> None:
        await until(lambda: stream.stats.state == "connected")
        with PelionApi(sandbox.url, sandbox.api_key) as api:
            await call(api.delete_websocket_channel)

    _, result = drive(make_stream(sandbox), TailOptions(timeout=10), delete)
    assert isinstance(result, NotFoundError) and "1000" in str(result)


def test_1011_twice_is_not_found(sandbox: SandboxThread) -> None:
    # The PUT claims the channel exists but the server has none: 1011, PUT again, 1011 -> give up.
    sandbox.fault(action="http_status", path="/v2/notification/websocket", method="PUT",
                  status=200, times=2, body="{}")

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    stream = make_stream(sandbox)
    _, result = drive(stream, TailOptions(timeout=10), nothing)
    assert isinstance(result, NotFoundError) and "1011" in str(result)
    assert stream.stats.connections == 2


def test_unreachable_gives_up_after_retry_for() -> None:
    messages: list[str] = []
    stream = PelionStream("http://127.0.0.1:9", "ak_x", NetOptions(timeout=1, retry_base=0.01),
                          retry_for=0.3, reconnect_delays=lambda: itertools.repeat(0.05),
                          on_state=messages.append)

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    # Without retry_for the run would go on to its 10 s --timeout and end without an error.
    _, result = drive(stream, TailOptions(timeout=10), nothing)
    assert isinstance(result, NetworkError) and "gave up" in str(result)
    assert any("retrying in" in m for m in messages)


# -- filters, de-duplication, counters ---------------------------------------------------------
def test_filters_and_dedup(sandbox: SandboxThread) -> None:
    sandbox.inject({"notifications": [note(1, ep="dev-a1", path="/3/0/1"),
                                      note(2, ep="dev-b1", path="/3/0/1"),
                                      note(3, ep="dev-a2", path="/5/0/0")],
                    "de-registrations": ["dev-a1"]})
    sandbox.inject({"notifications": [note(1, ep="dev-a1", path="/3/0/1"),  # a duplicate uid
                                      note(4, ep="dev-a3", path="/3/0/9")]})

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    options = TailOptions(count=2, timeout=10,
                          filters=Filters(devices=["dev-a*"], paths=["/3/*"],
                                          kinds=["notification"]))
    sink, result = drive(make_stream(sandbox), options, nothing)
    assert isinstance(result, TailRun), result
    assert [e.id for e in sink.events] == ["u1", "u4"]
    assert result.duplicates == 1 and result.filtered == 3


def test_filter_and_dedup_units() -> None:
    keep = Filters(devices=["a*", "b?"], paths=[], kinds=[]).predicate()
    assert keep is not None
    assert keep(Event("pelion", "notification", device="abc"))
    assert keep(Event("pelion", "notification", device="bx"))
    assert not keep(Event("pelion", "notification", device="bxy"))
    assert not keep(Event("pelion", "notification", device=None))
    assert Filters().predicate() is None
    def frame(*ids: str | None) -> list[Event]:
        return [Event("pelion", "notification", id=i) for i in ids]

    dedup = Dedup(window=3)
    assert [e.id for e in dedup.filter(frame("1", "2", "1", None))] == ["1", "2", None]
    assert [e.id for e in dedup.filter(frame("3", "4"))] == ["3", "4"]
    assert [e.id for e in dedup.filter(frame("5", "6"))] == ["5", "6"]
    # At least the 3 newest ids are remembered; "1" and "2" fell out of the window.
    assert [e.id for e in dedup.filter(frame("1", "4", "6"))] == ["1"]
    assert dedup.dropped == 3
    assert dedup.filter(frame(None, None)) == frame(None, None)


def test_jittered_backoff_shape() -> None:
    delays = list(itertools.islice(backoff(jitter=True), 12))
    assert 0.5 <= delays[0] <= 1.0  # first retry within a second
    assert all(15 <= d <= 30 for d in delays[6:])  # capped at 30 s
    assert all(d / 2 <= 30 for d in delays)


def test_handshake_429_honours_retry_after(sandbox: SandboxThread) -> None:
    sandbox.fault(action="http_status", path="/v2/notification/websocket-connect", status=429,
                  retry_after=0.3, times=1)
    sandbox.inject(message(range(1)))

    async def nothing(stream: PelionStream, sink: ListSink) -> None:
        pass

    # The back-off alone would wait 60 s: reaching the count within the 20 s --timeout means
    # Retry-After was used (a TailRun, not CountNotReached).
    stream = make_stream(sandbox, delay=60.0)
    started = time.monotonic()
    sink, result = drive(stream, TailOptions(count=1, timeout=20), nothing)
    assert isinstance(result, TailRun), result
    assert time.monotonic() - started >= 0.3
    assert [e.id for e in sink.events] == ["u0"]
