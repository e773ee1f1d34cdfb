"""The MQTT sink's own publisher against a real mosquitto: ``mqtts://`` (a TLS listener with a
CA and server certificate made here), refused credentials (a password file), packet ids past
65535, the remaining-length encoding at its boundaries, and keepalive while idle.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import (  # noqa: F401
    Broker,
    _binary,
    accepts,
    free_port,
    mosquitto,
    mqtt_broker,
    running,
)
from certs import write_certificates
from sink_readers import MqttSubscriber
from waiting import async_wait_for, wait_for

from notifyctl.sinks.base import Message, SinkDown, parse_url
from notifyctl.sinks.mqtt import MAX_PACKET, MqttClient, encode_length, next_id

USER, PASSWORD = "feeder", "s3cret-pass"


# -- a broker with TLS and a password file ----------------------------------------------------
@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Broker, int, Path]]:
    """mosquitto with a TLS listener (and a plain one for the test's subscriber):
    (broker, TLS port, the CA's PEM file)."""
    folder = tmp_path / "mosquitto"
    folder.mkdir()
    ca, cert, key = write_certificates(folder)
    tls_port = free_port()
    extra = f"listener {tls_port} 127.0.0.1\ncertfile {cert}\nkeyfile {key}\n"
    with running(mosquitto(folder, extra=extra)) as broker:
        wait_for(lambda: accepts(tls_port), what="the TLS listener")
        yield broker, tls_port, ca


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[Broker]:
    """mosquitto that takes only USER with PASSWORD (``allow_anonymous false``)."""
    folder = tmp_path / "mosquitto"
    folder.mkdir()
    passwords = folder / "passwords"
    tool = _binary("mosquitto_passwd", "mosquitto")
    subprocess.run([tool, "-b", "-c", str(passwords), USER, PASSWORD], check=True,
                   capture_output=True)
    with running(mosquitto(folder, extra=f"password_file {passwords}",
                           anonymous=False)) as broker:
        yield broker


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error")]


# -- mqtts:// ---------------------------------------------------------------------------------
def test_mqtts_defaults_to_port_8883_and_shares_mqtts_password_variable() -> None:
    url = parse_url("mqtts://broker.example/iot/{device}")
    assert (url.port, url.system, url.tls) == (8883, "mqtt", True)
    assert url.password(env={"NOTIFYCTL_MQTT_PASSWORD": "p"}) == "p"


def test_mqtts_publishes_with_the_ca_bundle(cli, tls_broker) -> None:
    broker, tls_port, ca = tls_broker
    url = f"mqtts://127.0.0.1:{tls_port}/iot/{{device}}"
    reader = MqttSubscriber(broker.port, "iot/#")
    try:
        result = cli("tail", "--sandbox", "--rate", "2000", "--count", "50", "-o", "jsonl",
                     "--sink", url, "--ca-bundle", str(ca))
        assert result.exit_code == 0, result.stderr
        expected = sorted(line.encode() for line in result.stdout.splitlines() if line)
        wait_for(lambda: len(reader.messages) >= 50, what="50 messages through mqtts")
    finally:
        reader.stop()
    assert sorted(m.body for m in reader.messages) == expected


def test_mqtts_refuses_a_broker_it_does_not_trust(cli, tls_broker) -> None:
    _broker, tls_port, _ca = tls_broker
    url = f"mqtts://127.0.0.1:{tls_port}/iot/{{device}}"
    result = cli("tail", "--sandbox", "--count", "1", "--sink", url)
    assert result.exit_code == 5, result.stderr
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert url in line and "TLS certificate not trusted" in line, line
    assert "--ca-bundle" in result.stderr
    insecure = cli("tail", "--sandbox", "--count", "1", "--sink", url, "--insecure")
    assert insecure.exit_code == 0, insecure.stderr


# -- CONNACK refusals -------------------------------------------------------------------------
def test_refused_credentials_are_exit_3_in_one_line(cli, password_broker, monkeypatch) -> None:
    url = f"mqtt://{USER}@127.0.0.1:{password_broker.port}/t/{{device}}"
    monkeypatch.setenv("NOTIFYCTL_MQTT_PASSWORD", "wrong")
    refused = cli("tail", "--sandbox", "--count", "1", "--sink", url)
    assert refused.exit_code == 3, refused.stderr
    assert "Traceback" not in refused.stderr and "wrong" not in refused.stderr
    [line] = error_lines(refused.stderr)
    assert url in line and "refused the connection" in line, line
    assert "NOTIFYCTL_MQTT_PASSWORD" in refused.stderr
    monkeypatch.setenv("NOTIFYCTL_MQTT_PASSWORD", PASSWORD)
    allowed = cli("tail", "--sandbox", "--count", "1", "--sink", url)
    assert allowed.exit_code == 0, allowed.stderr


@pytest.mark.parametrize("command", [("tail", "--sandbox", "--count", "1"),
                                     ("listen", "--provider", "sigfox", "--port", "0")])
def test_no_credentials_where_they_are_required_is_exit_3(cli, password_broker,
                                                          command: tuple[str, ...]) -> None:
    url = f"mqtt://127.0.0.1:{password_broker.port}/t"
    result = cli(*command, "--sink", url)
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert url in line and "not authorised" in line


# -- the encoder ------------------------------------------------------------------------------
@pytest.mark.parametrize("size, encoded", [
    (0, b"\x00"), (127, b"\x7f"), (128, b"\x80\x01"), (16_383, b"\xff\x7f"),
    (16_384, b"\x80\x80\x01"), (2_097_151, b"\xff\xff\x7f"), (2_097_152, b"\x80\x80\x80\x01"),
    (268_435_455, b"\xff\xff\xff\x7f"),
])
def test_remaining_length_at_its_boundaries(size: int, encoded: bytes) -> None:
    assert encode_length(size) == encoded


def test_a_remaining_length_beyond_mqtt_is_refused() -> None:
    with pytest.raises(ValueError, match="268,435,456"):
        encode_length(MAX_PACKET + 1)


def test_the_largest_body_fits_one_packet_with_the_longest_topic() -> None:
    client = MqttClient(parse_url("mqtt://127.0.0.1/t"), None)
    longest = 2 + client.max_address + 2 + client.max_message  # topic length, topic, packet id
    assert longest == MAX_PACKET
    encode_length(longest)  # the engine counts anything larger as failed (too large)


def test_an_mqtt_body_over_the_limit_is_counted_failed_with_the_reason(
        mqtt_broker: Broker) -> None:  # noqa: F811
    from notifyctl.events import Event
    from notifyctl.sinks import Sinks

    sinks = Sinks.build([mqtt_broker.url("t/{device}")], unique_ids=True)
    [target] = sinks.targets
    events = [Event("acme", "note", device=f"d{i}", id=f"e{i}", payload="x" * size)
              for i, size in enumerate((10, 10, 400))]

    async def run() -> None:
        await sinks.start()
        target.client.max_message = 300  # as if this broker took 300 bytes
        await sinks.put(events)
        await sinks.finish()

    asyncio.run(run())
    assert target.counts["published"] == 2 and target.counts["failed"] == 1
    assert target.counts["reasons"][0].startswith("too large: event e2")


def test_packet_ids_go_1_to_65535_and_wrap_to_1() -> None:
    assert [next_id(n) for n in (0, 1, 65_534, 65_535)] == [1, 2, 65_535, 1]


def test_more_than_65535_messages_on_one_connection(mqtt_broker: Broker) -> None:  # noqa: F811
    # mosquitto closes a connection on a PUBLISH with packet id 0 or a malformed one, so every
    # batch acknowledged proves the ids wrapped correctly.
    client = MqttClient(parse_url(mqtt_broker.url("n")), None)
    batch = [Message("n/x", str(i), b"{}") for i in range(5_000)]

    async def run() -> int:
        await client.connect()
        try:
            for _ in range(14):  # 70,000 messages
                await client.publish(batch)
            return client._mid
        finally:
            await client.close()

    assert asyncio.run(run()) == 70_000 - 65_535


def test_publishing_nothing_does_not_wait_for_an_ack(mqtt_broker: Broker) -> None:  # noqa: F811
    client = MqttClient(parse_url(mqtt_broker.url("n")), None)

    async def run() -> None:
        await client.connect()
        try:
            step = client.publish([])
            with pytest.raises(StopIteration):  # done without ever suspending
                step.send(None)
        finally:
            await client.close()

    asyncio.run(run())


# -- keepalive --------------------------------------------------------------------------------
def test_an_idle_connection_outlives_its_keepalive(mqtt_broker: Broker) -> None:  # noqa: F811
    # mosquitto closes a connection silent for 1.5 keepalives; four PINGRESPs at one every
    # half keepalive mean two keepalives idle (waiting for idle time to pass is the point).
    client = MqttClient(parse_url(mqtt_broker.url("n")), None)
    client.keepalive = 1

    async def run() -> None:
        await client.connect()
        try:
            await async_wait_for(lambda: client.pongs >= 4 or not client.connected,
                                 what="four PINGRESPs")
            assert client.connected and client.pongs >= 4
            await client.publish([Message("n/x", "1", b"{}")])
        finally:
            await client.close()

    asyncio.run(run())


def test_a_broker_that_stops_answering_pings_is_a_lost_connection() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # the CONNECT
        writer.write(b"\x20\x02\x00\x00")  # CONNACK, accepted; then nothing ever again
        while await reader.read(1024):
            pass

    async def run() -> None:
        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = MqttClient(parse_url(f"mqtt://127.0.0.1:{port}/n"), None)
        client.keepalive = 1
        try:
            await client.connect()
            assert client.connected
            await async_wait_for(lambda: not client.connected, what="the dead link noticed")
            with pytest.raises(SinkDown):
                await client.publish([Message("n/x", "1", b"{}")])
        finally:
            await client.close()
            server.close()

    asyncio.run(run())


def test_closing_a_link_the_broker_stopped_reading_does_not_hang() -> None:
    # A broker that accepted the connection but no longer reads: what is buffered can never
    # be flushed, so close gives up after CLOSE_TIMEOUT instead of waiting for it forever (the
    # 60 s bound below only tells a hang from an answer; it measures nothing).
    stalled: list[asyncio.StreamWriter] = []

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # the CONNECT
        writer.write(b"\x20\x02\x00\x00")
        stalled.append(writer)
        writer.transport.pause_reading()  # and never reads again

    async def run() -> None:
        server = await asyncio.start_server(stall, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = MqttClient(parse_url(f"mqtt://127.0.0.1:{port}/n"), None)
        body = b"x" * 10_000
        try:
            await client.connect()
            publishing = asyncio.create_task(
                client.publish([Message("n/x", str(i), body) for i in range(5_000)]))
            await async_wait_for(lambda: client._writer is not None
                                 and client._writer.transport.get_write_buffer_size() > 0,
                                 what="a write buffer the broker does not drain")
            await asyncio.wait_for(client.close(), 60)
            with pytest.raises(SinkDown):
                await publishing
        finally:
            for writer in stalled:
                writer.transport.abort()
            server.close()

    asyncio.run(run())


def test_small_puts_queued_meanwhile_go_out_together(mqtt_broker: Broker) -> None:  # noqa: F811
    # A stream of small frames (the sandbox sends 2-3 events each) must not cost one broker
    # round trip per frame: under load that falls behind the stream until --count ends the
    # run with the rest "still buffered". What queued while a batch was out goes as one.
    from notifyctl.events import Event
    from notifyctl.sinks import Sinks

    sinks = Sinks.build([mqtt_broker.url("t/{device}")], unique_ids=True)
    [target] = sinks.targets
    publishes: list[int] = []
    publish = target.client.publish

    async def counted(messages):  # type: ignore[no-untyped-def]
        publishes.append(len(messages))
        await publish(messages)

    target.client.publish = counted  # type: ignore[method-assign]

    async def run() -> None:
        await sinks.start()
        for frame in range(1_000):  # queued without yielding: the worker is not running yet
            await sinks.put([Event("acme", "note", device=f"d{frame}", id=f"{frame}-{i}")
                             for i in range(2)])
        await sinks.finish()

    asyncio.run(run())
    assert target.counts["published"] == 2_000 and target.counts["failed"] == 0
    assert sum(publishes) == 2_000 and len(publishes) <= 2, publishes[:5]
