"""``tail`` leaves no Pelion WebSocket channel behind: it ends with a normal close (1000) on
--count, --timeout and signals, and the sandbox, like the platform (seed: "Closing the socket
from client closes the channel, too"), removes the channel and its queue then. A dropped
connection (1006) keeps both for the next connection."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest
from pelion_events import message
from recorder import Recorder
from sandbox import SandboxThread
from waiting import wait_for

from conftest import subprocess_env


@pytest.fixture
def keyed(sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> SandboxThread:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    return sandbox


def pelion(sb: SandboxThread) -> list[str]:
    return ["--provider", "pelion", "--api-url", sb.url]


@pytest.mark.parametrize("stop", [["--count", "1"], ["--timeout", "0.5"]])
def test_tail_ends_with_a_normal_close_so_register_works_next(cli: Any, keyed: SandboxThread,
                                                              stop: list[str]) -> None:
    keyed.inject(message(range(1)))
    tailed = cli("tail", *pelion(keyed), "-o", "jsonl", *stop)
    assert tailed.exit_code == 0, tailed.stderr
    wait_for(lambda: keyed.key_state().get("channel") is None, what="channel removed")
    with Recorder() as receiver:
        made = cli("register", receiver.url + "/hook", *pelion(keyed))
        assert made.exit_code == 0, made.stderr
    assert keyed.key_state()["channel"] == "callback"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_ends_tail_with_a_normal_close(keyed: SandboxThread, signum: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "tail", *pelion(keyed), "-o", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(NOTIFYCTL_API_KEY=keyed.api_key))
    try:
        wait_for(lambda: keyed.key_state().get("connected"), what="tail connected")
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    wait_for(lambda: keyed.key_state().get("channel") is None, what="channel removed")


def test_a_dropped_connection_keeps_the_channel_and_its_queue(keyed: SandboxThread) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "tail", *pelion(keyed), "-o", "jsonl",
         "--retry-for", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(NOTIFYCTL_API_KEY=keyed.api_key))
    try:
        wait_for(lambda: keyed.key_state().get("connected"), what="tail connected")
        proc.kill()  # no close frame: the sandbox sees the connection lost (1006)
        proc.wait(15)
        wait_for(lambda: not keyed.key_state().get("connected"), what="connection lost")
    finally:
        if proc.poll() is None:
            proc.kill()
    keyed.inject(message(range(3)))
    state = keyed.key_state()
    assert state["channel"] == "websocket" and state["queue_size"] == 3
