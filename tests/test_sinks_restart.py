"""At least once through a broker restart: ``tail --sink`` runs as a subprocess against the
sandbox while its broker is killed mid-stream and started again on the same port. Every event
line ``tail`` printed must be in the broker afterwards (duplicates are allowed and counted by
the summary as re-sent); a broker that does not come back ends the run with exit 5 and the
summary, the events it could not take counted as failed, never dropped in silence.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from brokers import Broker, mqtt_broker, nats_broker, redis_broker  # noqa: F401
from sink_readers import MqttSubscriber, Received, nats_messages, redis_messages
from waiting import wait_for

from conftest import subprocess_env

EVENTS = 3000


def start_tail(url: str, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path,
                                                                   Path]:
    out, err = tmp_path / "out.jsonl", tmp_path / "err.txt"
    argv = [sys.executable, "-m", "notifyctl", "tail", "--sandbox", "--rate", "1000",
            "--count", str(EVENTS), "-o", "jsonl", "--sink", url, *extra]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(argv, stdout=stdout, stderr=stderr, env=subprocess_env())
    return proc, out, err


def restart_mid_stream(broker: Broker, url: str, tmp_path: Path,
                       published: Callable[[], int], sig: int = signal.SIGKILL) -> list[bytes]:
    proc, out, err = start_tail(url, tmp_path)
    try:
        wait_for(lambda: published() >= 300, what="the first events in the broker")
        broker.kill(sig)
        wait_for(lambda: "reconnecting" in err.read_text(), what="tail to notice")
        broker.start()
        assert proc.wait(120) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.read_text()
    assert "reconnected" in stderr
    # What was re-sent after the restart (maybe twice at the broker) is counted, not hidden.
    assert re.search(r"sink \S+: published [\d,]+, retried [1-9]", stderr), stderr
    printed = out.read_bytes().splitlines()
    assert len(printed) == EVENTS
    return printed


def check_nothing_lost(printed: list[bytes], got: list[Received]) -> None:
    bodies = [m.body for m in got]
    missing = set(printed) - set(bodies)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[0][:200]!r}"
    assert len(bodies) >= len(set(bodies))  # duplicates allowed (at least once)


def test_redis_killed_and_restarted_loses_nothing(redis_broker: Broker,  # noqa: F811
                                                  tmp_path: Path) -> None:
    url = redis_broker.url("0?stream=iot")
    printed = restart_mid_stream(redis_broker, url, tmp_path,
                                 lambda: _quiet(lambda: len(redis_messages(redis_broker.port))))
    check_nothing_lost(printed, redis_messages(redis_broker.port))


def test_nats_killed_and_restarted_loses_nothing(nats_broker: Broker,  # noqa: F811
                                                 tmp_path: Path) -> None:
    url = nats_broker.url("iot.{kind}")
    printed = restart_mid_stream(nats_broker, url, tmp_path,
                                 lambda: _quiet(lambda: len(nats_messages(nats_broker.port))))
    got = nats_messages(nats_broker.port)
    check_nothing_lost(printed, got)
    # Nats-Msg-Id: what tail re-sent after the restart the stream took once.
    assert len({m.body for m in got}) == len(got)


def test_mqtt_restarted_loses_nothing(mqtt_broker: Broker, tmp_path: Path) -> None:  # noqa: F811
    # A persistent session (the subscriber) survives a broker stop that saves its state: the
    # messages published while the subscriber reconnects are queued for it.
    reader = MqttSubscriber(mqtt_broker.port, "iot/#")
    try:
        printed = restart_mid_stream(mqtt_broker, mqtt_broker.url("iot/{kind}"), tmp_path,
                                     lambda: len(reader.messages), sig=signal.SIGTERM)
        wait_for(lambda: set(printed) <= {m.body for m in reader.messages},
                 what="every printed event at the subscriber")
    finally:
        reader.stop()
    check_nothing_lost(printed, reader.messages)


def test_a_broker_that_stays_down_ends_the_run_with_exit_5(redis_broker: Broker,  # noqa: F811
                                                           tmp_path: Path) -> None:
    proc, out, err = start_tail(redis_broker.url("0?stream=iot"), tmp_path,
                                "--sink-timeout", "1", "--summary", str(tmp_path / "s.json"))
    try:
        wait_for(lambda: _quiet(lambda: len(redis_messages(redis_broker.port))) >= 100,
                 what="the first events in the broker")
        redis_broker.kill()
        assert proc.wait(120) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.read_text()
    assert "no connection for 1 s" in stderr and "raise --sink-timeout" in stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    counts = summary["sinks"][redis_broker.url("0?stream=iot")]
    printed = len(out.read_bytes().splitlines())
    # Every event printed is accounted for: published, or failed with the reason.
    assert counts["published"] + counts["failed"] >= printed
    assert counts["failed"] > 0
    assert any("still buffered" in reason for reason in counts["reasons"])


def _quiet(count: Callable[[], int]) -> int:
    """A count read from a broker that may be restarting (0 while it cannot answer)."""
    try:
        return count()
    except Exception:
        return 0


@pytest.fixture(autouse=True)
def _no_slow_reader() -> None:
    """The readers use the broker's own clients: skip cleanly where an extra is missing."""
    pytest.importorskip("nats")
    pytest.importorskip("redis")
    pytest.importorskip("paho.mqtt")
