"""Iottly: stream frames, URL redaction, the telemetry stream against the emulator on a real
port (subscribe, pings, 1001 restart -> reconnect and resubscribe, unsubscribe on exit), the
real `notifyctl iottly exec` and `check-webhooks` commands, and the decoder on any bytes."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from pathlib import Path

import pytest
from aioserve import ServeThread, serve
from hypothesis import given, settings
from hypothesis import strategies as st
from waiting import async_wait_for

from notifyctl.errors import AuthError, NetworkError, NotFoundError, WireError
from notifyctl.providers.iottly import wire
from notifyctl.providers.iottly.emulator import IottlyEmulator
from notifyctl.providers.iottly.stream import IottlyStream
from notifyctl.redaction import redact
from notifyctl.retry import backoff

KEY = "ik_live_secret_0123456789"


# -- pure ------------------------------------------------------------------------------------
def test_frames_to_events() -> None:
    [t] = wire.decode(wire.telemetry("sub_1", "dev_1", "cpu", 18.4, "2026-05-06T14:22:46.123Z"))
    assert (t.kind, t.device, t.stream, t.value, t.time, t.id) == (
        "telemetry", "dev_1", "cpu", 18.4, "2026-05-06T14:22:46.123Z", "sub_1")
    [out] = wire.decode(b'{"type":"command_output","request_id":"cmd-1",'
                        b'"payload":{"chunk":"hi\\n","fd":"stderr"}}')
    assert (out.kind, out.fd, out.chunk, out.id) == ("command-output", "stderr", "hi\n", "cmd-1")
    [done] = wire.decode(b'{"type":"command_done","request_id":"cmd-1","payload":'
                         b'{"exit_code":3}}')
    assert (done.kind, done.exit_code) == ("command-done", 3)
    assert wire.decode(b'{"type":"subscribed","payload":{"subscription_id":"s"}}') == []


@pytest.mark.parametrize(("frame", "message"), [
    (b"\xff", "not UTF-8"),
    (b"{oops", "malformed JSON"),
    (b"[1]", "JSON object"),
    (b'{"payload": {}}', "frame.type"),
    (b'{"type": "telemetry", "payload": []}', "telemetry.payload"),
    (b'{"type": "telemetry", "payload": {"device_id": "d", "stream": "s"}}', "value"),
    (b'{"type": "telemetry", "payload": {"device_id": 1, "stream": "s", "value": 1}}',
     "device_id"),
    (b'{"type": "command_output", "payload": {"fd": "stdin", "chunk": ""}}', "fd"),
    (b'{"type": "command_done", "payload": {"exit_code": "0"}}', "exit_code"),
    (b'{"type": "command_done", "request_id": 5, "payload": {"exit_code": 0}}', "request_id"),
])
def test_malformed_frames(frame: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        wire.decode(frame)


def test_stream_url_and_redaction() -> None:
    url = wire.stream_url("https://api.cloud.iottly.com/v1.0", KEY)
    assert url == f"wss://api.cloud.iottly.com/v1/stream?api_key={KEY}"
    assert redact(url) == "wss://api.cloud.iottly.com/v1/stream?api_key=***"
    assert wire.stream_url("http://127.0.0.1:9/x/v1.0/", "k") == \
        "ws://127.0.0.1:9/x/v1/stream?api_key=k"
    assert wire.stream_url("", "k", "wss://edge/ws?x=1") == "wss://edge/ws?x=1&api_key=k"
    assert list(itertools.islice(backoff(), 7)) == [1, 2, 4, 8, 16, 30, 30]


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.binary(max_size=200),
    st.fixed_dictionaries({"type": st.sampled_from(["telemetry", "command_output",
                                                    "command_done", "x", 1]),
                           "payload": st.dictionaries(
                               st.sampled_from(["device_id", "stream", "value", "fd", "chunk",
                                                "exit_code", "ts"]),
                               st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                               max_size=5)}).map(lambda d: json.dumps(d).encode())))
def test_decoder_on_any_bytes(frame: bytes) -> None:
    try:
        events = wire.decode(frame)
    except WireError:
        return
    assert all(e.provider == "iottly" for e in events)


# -- the stream against the emulator ---------------------------------------------------------
def _stream(url: str, subs: list[tuple[str, list[str]]], slept: list[float]) -> IottlyStream:
    async def sleep(delay: float) -> None:
        slept.append(delay)
        await asyncio.sleep(0.01)

    return IottlyStream(wire.stream_url(url, KEY), subs, sleep=sleep, on_state=lambda _m: None)


def test_tail_reconnects_and_resubscribes_after_1001(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        # Pings every 0.05 s, then 1 s for the pong: a loaded machine does not miss that.
        emulator = IottlyEmulator(api_key=KEY, ping_interval=0.05, pong_timeout=1.0)
        async with serve(emulator.install) as url:
            slept: list[float] = []
            stream = _stream(url, [("dev_1", ["cpu"]), ("dev_2", [])], slept)
            got: list[bytes] = []

            async def consume() -> None:
                async with contextlib.aclosing(stream.frames()) as frames:
                    async for frame in frames:
                        got.append(frame)
                        if len(got) == 3:
                            return

            task = asyncio.create_task(consume())
            await emulator.wait_subscribed(2, timeout=30)
            assert await emulator.publish("dev_1", "memory", 1) == 0  # not subscribed
            await emulator.publish("dev_1", "cpu", 18.4)
            await emulator.publish("dev_2", "temp", 40)
            # Server pings answered, twice: the connection outlived a whole ping cycle.
            client = emulator.clients[0]
            for pongs in ("a pong", "a second pong"):
                before = client.last_pong
                await async_wait_for(lambda b=before: client.last_pong > b, what=pongs)
            assert emulator.connections == 1
            await emulator.restart()  # 1001
            await emulator.wait_subscribed(2, timeout=30)
            await emulator.publish("dev_1", "cpu", 20.0)
            await asyncio.wait_for(task, 30)
            events = [stream.decode(f)[0] for f in got]
            assert [(e.device, e.stream, e.value) for e in events] == [
                ("dev_1", "cpu", 18.4), ("dev_2", "temp", 40), ("dev_1", "cpu", 20.0)]
            assert emulator.connections == 2 and slept == [1.0]
            kinds = [m["type"] for m in emulator.log]
            assert kinds.count("subscribe") == 4
            await async_wait_for(
                lambda: [m["type"] for m in emulator.log].count("unsubscribe") >= 2,
                what="both subscriptions undone")

    asyncio.run(main())
    assert KEY not in caplog.text


def test_tail_backs_off_doubling_then_gives_up() -> None:
    async def main() -> None:
        async with serve(lambda app: None) as url:  # no stream route: every handshake fails
            slept: list[float] = []
            stream = _stream(url, [("dev_1", [])], slept)
            stream.max_failures = 5
            with pytest.raises(NetworkError, match="gave up after 5") as info:
                async for _ in stream.frames():
                    pass
            assert slept == [1.0, 2.0, 4.0, 8.0]
            assert KEY not in str(info.value)

    asyncio.run(main())


def test_tail_refused_key_and_unknown_device() -> None:
    async def main() -> None:
        emulator = IottlyEmulator(api_key=KEY, devices=["dev_1"])
        async with serve(emulator.install) as url:
            bad = IottlyStream(wire.stream_url(url, "wrong"), [("dev_1", [])],
                               on_state=lambda _m: None)
            with pytest.raises(AuthError, match="401") as info:
                async for _ in bad.frames():
                    pass
            assert "wrong" not in str(info.value)
            missing = _stream(url, [("dev_9", [])], [])
            with pytest.raises(NotFoundError, match="unknown device dev_9"):
                async for _ in missing.frames():
                    pass

    asyncio.run(main())


# -- the real commands -------------------------------------------------------------------------
@pytest.fixture
def iottly_server(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    emulator = IottlyEmulator(api_key=KEY, devices=["dev_1"])
    with ServeThread(emulator.install) as server:
        monkeypatch.setenv("NOTIFYCTL_API_KEY", KEY)
        yield server


@pytest.mark.parametrize(("command", "code", "stdout", "stderr"), [
    (["echo", "hello world"], 0, "hello world\n", ""),
    (["exit", "3"], 3, "", ""),
    (["stderr", "oops"], 1, "", "oops\n"),
    (["no-such-thing"], 127, "", "sh: no-such-thing: not found\n"),
])
def test_exec_streams_output_and_exits_with_the_device_code(
        cli, iottly_server, command: list[str], code: int, stdout: str, stderr: str) -> None:
    result = cli("iottly", "exec", "--api-url", iottly_server.url, "dev_1", "--", *command)
    assert (result.exit_code, result.stdout) == (code, stdout), result.stderr
    assert result.stderr == stderr


def test_exec_errors(cli, iottly_server, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("iottly", "exec", "--api-url", iottly_server.url, "dev_2", "echo", "x")
    assert result.exit_code == 4 and "unknown device dev_2" in result.stderr
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "wrong-key-123")
    result = cli("iottly", "exec", "--api-url", iottly_server.url, "dev_1", "echo", "x")
    assert result.exit_code == 3 and "wrong-key" not in result.stderr
    monkeypatch.delenv("NOTIFYCTL_API_KEY")
    result = cli("iottly", "exec", "--api-url", iottly_server.url, "dev_1", "echo", "x")
    # A missing secret is configuration (2); 3 is the platform refusing (README's table).
    assert result.exit_code == 2 and "NOTIFYCTL_API_KEY" in result.stderr


def test_exec_refuses_a_profile_of_another_platform(cli, iottly_server) -> None:
    """Another platform's profile would send the command to that platform's URL; --api-url
    says where to go instead."""
    assert cli("profile", "add", "prod", "--provider", "pelion").exit_code == 0
    result = cli("-p", "prod", "iottly", "exec", "dev_1", "echo", "x")
    assert result.exit_code == 2 and "profile 'prod' is not an iottly profile" in result.stderr
    assert "--api-url" in result.stderr
    direct = cli("-p", "prod", "iottly", "exec", "--api-url", iottly_server.url, "dev_1",
                 "echo", "x")
    assert (direct.exit_code, direct.stdout) == (0, "x\n"), direct.stderr


def test_exec_exit_code_in_a_subprocess(run, iottly_server) -> None:
    result = run("iottly", "exec", "--api-url", iottly_server.url, "dev_1", "exit", "7",
                 NOTIFYCTL_API_KEY=KEY)
    assert result.exit_code == 7, result.stderr


GOOD = """
webhooks:
  - description: backend
    url: https://example.com/hook
    type: iottly
    channel: telemetry
    headers:
      Authorization: Bearer s3cr3t-value
  - url: https://example.com/scripts
    type: user
    payload_only: true
"""


def test_check_webhooks_ok(cli, tmp_path: Path) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(GOOD)
    result = cli("iottly", "check-webhooks", str(path), "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = result.json()
    assert [r["type"] for r in rows] == ["iottly", "user"]
    assert rows[0]["headers"] == ["Authorization"] and rows[1]["payload_only"] is True
    assert "s3cr3t" not in result.stdout + result.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("webhooks:\n" + "  - {url: 'https://h/x', type: iottly}\n" * 6, "at most 5"),
    ("webhooks:\n  - {url: 'http://h/x', type: iottly}\n", "webhooks[0].url: must be an https"),
    ("webhooks:\n  - {url: 'https://h', type: iottly}\n  - {url: 'https://h', type: agent}\n",
     "webhooks[1].type: 'agent'"),
    ("webhooks:\n  - url: https://h\n    type: user\n    headers: {A: 1, B: 2, C: 3, D: 4, E: 5,"
     " F: 6}\n", "webhooks[0].headers: 6 headers"),
    ("webhooks:\n  - {url: 'https://h', type: user, colour: red}\n", "webhooks[0].colour"),
    ("webhooks:\n  - {type: user}\n", "webhooks[0].url: missing"),
    ("webhooks:\n  - {url: 'https://h', type: user, payload_only: 'yes'}\n", "payload_only"),
    ("webhooks: [\n", "hooks.yaml:"),
    ("hooks: []\n", "unknown top-level key"),
])
def test_check_webhooks_errors(cli, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hooks.yaml"
    path.write_text(text)
    result = cli("iottly", "check-webhooks", str(path))
    assert result.exit_code == 2
    assert message in result.stderr and str(path) in result.stderr
    assert "Traceback" not in result.stderr


def test_check_webhooks_missing_file(cli, tmp_path: Path) -> None:
    result = cli("iottly", "check-webhooks", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
