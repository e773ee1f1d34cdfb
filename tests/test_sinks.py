"""``tail --sink`` and ``listen --sink`` against real brokers (mosquitto, nats-server with
JetStream, redis-server; tests/support/brokers.py), read back with each system's own client and
compared with the ``-o jsonl`` lines of the same run; and the bad input a sink URL can be.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from brokers import Broker, mqtt_broker, nats_broker, redis_broker  # noqa: F401
from sink_readers import MqttSubscriber, nats_messages, redis_messages
from waiting import wait_for

from conftest import subprocess_env
from notifyctl.events import Event

COUNT = 200


def lines(stdout: str) -> list[bytes]:
    return [line.encode() for line in stdout.splitlines() if line.strip()]


def tail_sandbox(cli, url: str, count: int = COUNT, *extra: str):  # type: ignore[no-untyped-def]
    result = cli("tail", "--sandbox", "--rate", "2000", "--count", str(count), "-o", "jsonl",
                 "--sink", url, *extra)
    assert result.exit_code == 0, result.stderr
    return result


def test_tail_to_nats_equals_jsonl(cli, nats_broker: Broker) -> None:  # noqa: F811
    result = tail_sandbox(cli, nats_broker.url("iot.{provider}.{device}.{kind}"))
    got = nats_messages(nats_broker.port)
    assert sorted(m.body for m in got) == sorted(lines(result.stdout))
    for message in got:
        event = json.loads(message.body)
        assert message.address == f"iot.{event['provider']}.{event['device']}.{event['kind']}"
        if "id" in event:  # Pelion's uid (tail asks for include_uid)
            assert message.id == event["id"]
        else:  # a de-registration (an ep string) has none: derived
            assert message.id is not None and len(message.id) == 32
    assert f"published {COUNT}" in result.stderr


def test_tail_to_redis_equals_jsonl(cli, redis_broker: Broker) -> None:  # noqa: F811
    result = tail_sandbox(cli, redis_broker.url("0?stream=iot:{kind}&maxlen=100000"))
    got = redis_messages(redis_broker.port, "iot:*")
    assert sorted(m.body for m in got) == sorted(lines(result.stdout))
    assert {m.address for m in got} == {f"iot:{json.loads(m.body)['kind']}" for m in got}
    assert all(m.id == json.loads(m.body).get("id", m.id) for m in got)


def test_tail_to_mqtt_equals_jsonl(cli, mqtt_broker: Broker) -> None:  # noqa: F811
    reader = MqttSubscriber(mqtt_broker.port, "iot/#")
    try:
        result = tail_sandbox(cli, mqtt_broker.url("iot/{provider}/{path}"))
        expected = sorted(lines(result.stdout))
        wait_for(lambda: len(reader.messages) >= len(expected), what="every MQTT message")
    finally:
        reader.stop()
    assert sorted(m.body for m in reader.messages) == expected
    for message in reader.messages:
        event = json.loads(message.body)
        path = (event.get("path") or "_").replace("%", "%25").replace("/", "%2F")
        assert message.address == f"iot/{event['provider']}/{path}"  # '/' escaped in a level


def test_tail_to_all_three_at_once(cli, nats_broker: Broker,  # noqa: F811
                                   redis_broker: Broker) -> None:  # noqa: F811
    result = cli("tail", "--sandbox", "--rate", "2000", "--count", "50", "-o", "jsonl",
                 "--sink", nats_broker.url("a.{device}"), "--sink", redis_broker.url("0"))
    assert result.exit_code == 0, result.stderr
    assert len(nats_messages(nats_broker.port)) == 50
    assert len(redis_messages(redis_broker.port)) == 50


def test_nats_over_tls_with_the_ca_bundle_and_refused_without(cli, tmp_path: Path) -> None:
    import ssl

    from brokers import nats, running
    from certs import write_certificates

    ca, cert, key = write_certificates(tmp_path)
    (tmp_path / "nats").mkdir()
    tls = ("--tls", "--tlscert", str(cert), "--tlskey", str(key))
    with running(nats(tmp_path / "nats", extra=tls)) as broker:
        url = f"tls://127.0.0.1:{broker.port}/iot.{{device}}"
        refused = cli("tail", "--sandbox", "--count", "1", "--sink", url)
        assert refused.exit_code == 5 and "Traceback" not in refused.stderr
        assert f"--sink {url}: TLS certificate not trusted" in refused.stderr
        result = tail_sandbox(cli, url, 20, "--ca-bundle", str(ca))
        got = nats_messages(broker.port, tls=ssl.create_default_context(cafile=str(ca)))
    assert sorted(m.body for m in got) == sorted(lines(result.stdout))


def test_listen_replay_of_a_fixture_to_redis(cli, redis_broker: Broker) -> None:  # noqa: F811
    from notifyctl.listen import Settings
    from notifyctl.listen.run import BackgroundListener
    from notifyctl.sinks import Sinks

    sinks = Sinks.build([redis_broker.url("0?stream=cb:{provider}")], unique_ids=False)
    settings = Settings(provider="sigfox", output="none", sinks=sinks)
    with BackgroundListener(settings) as rx:
        result = cli("replay", "--fixture", "sigfox/uplinks", "--to", rx.url)
        assert result.exit_code == 0, result.stderr
    got = redis_messages(redis_broker.port, "cb:sigfox")
    assert got, "nothing published"
    assert sinks.counts[redis_broker.url("0?stream=cb:{provider}")]["published"] == len(got)
    assert all(json.loads(m.body)["provider"] == "sigfox" for m in got)


def test_listen_answers_503_while_the_broker_is_down(redis_broker: Broker) -> None:  # noqa: F811
    import httpx

    from notifyctl.listen import Settings
    from notifyctl.listen.run import BackgroundListener
    from notifyctl.sinks import Sinks

    body = Path(__file__).parents[1] / "src/notifyctl/providers/sigfox/fixtures/uplinks.jsonl"
    delivery = json.loads(body.read_text().splitlines()[0])
    send = {"content": delivery["body"].encode(),
            "headers": {"Content-Type": "application/json"}}
    sinks = Sinks.build([redis_broker.url("0")], unique_ids=False)
    with BackgroundListener(Settings(provider="sigfox", output="none", sinks=sinks)) as rx:
        assert httpx.post(rx.url, **send).status_code < 300
        redis_broker.kill()
        refused = httpx.post(rx.url, **send)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"].isdigit()
        redis_broker.start()
        assert wait_for(lambda: httpx.post(rx.url, **send).status_code < 300,
                        what="a 2xx once the broker is back")
    counts = sinks.counts[redis_broker.url("0")]
    assert counts["deferred"] >= 1 and counts["failed"] == 0
    assert len(redis_messages(redis_broker.port)) == counts["published"]


# -- bad input --------------------------------------------------------------------------------
def test_a_password_in_the_url_is_refused_and_masked(cli) -> None:
    result = cli("tail", "--sandbox", "--count", "1", "--sink",
                 "nats://user:hunter2@127.0.0.1:4222/x")
    assert result.exit_code == 2
    assert "hunter2" not in result.stderr + result.stdout
    assert "nats://user:***@127.0.0.1:4222/x" in result.stderr
    assert "NOTIFYCTL_NATS_PASSWORD" in result.stderr


def test_an_unknown_scheme_is_exit_2(cli) -> None:
    result = cli("listen", "--provider", "sigfox", "--sink", "kafka://127.0.0.1:9092/t")
    assert result.exit_code == 2
    assert "kafka://127.0.0.1:9092/t" in result.stderr and "mqtt://" in result.stderr


def test_a_template_field_events_lack_is_exit_2(cli) -> None:
    result = cli("tail", "--sandbox", "--count", "1", "--sink", "mqtt://127.0.0.1/a/{colour}")
    assert result.exit_code == 2
    assert "{colour}" in result.stderr and "device" in result.stderr


def test_an_unreachable_broker_at_start_is_exit_5(cli) -> None:
    from brokers import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    result = cli("tail", "--sandbox", "--count", "1", "--sink", url)
    assert result.exit_code == 5
    assert url in result.stderr and "start the broker" in result.stderr


@pytest.mark.parametrize("scheme, module", [("nats", "nats"), ("redis", "redis")])
def test_a_missing_extra_names_the_install_command(scheme: str, module: str) -> None:
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from notifyctl.cli import main\n"
            f"sys.exit(main(['tail', '--sandbox', '--count', '1', '--sink',"
            f" '{scheme}://127.0.0.1:1/x']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert f"pip install 'notifyctl[{scheme}]'" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the engine -------------------------------------------------------------------------------
def _events(count: int, size: int = 10) -> list[Event]:
    return [Event("acme", "note", device=f"d/{i}", id=f"e{i}", payload="x" * size)
            for i in range(count)]


def test_an_oversize_message_is_counted_failed_and_ends_the_run(
        redis_broker: Broker) -> None:  # noqa: F811
    from notifyctl.errors import DeliveryFailed
    from notifyctl.sinks import Sinks

    for skip in (False, True):
        sinks = Sinks.build([redis_broker.url("0")], unique_ids=True, skip_oversize=skip)

        async def run(sinks: Sinks = sinks) -> None:
            await sinks.start()
            sinks.targets[0].client.max_message = 200  # this "broker" takes 200 bytes
            await sinks.put(_events(3) + _events(1, size=500))
            await sinks.finish()

        asyncio.run(run())
        counts = next(iter(sinks.counts.values()))
        assert counts["published"] == 3 and counts["failed"] == 1
        assert "too large" in counts["reasons"][0]
        error = sinks.outcome()
        assert (error is None) if skip else isinstance(error, DeliveryFailed)


def test_templates_escape_what_each_system_forbids() -> None:
    from notifyctl.sinks.base import Template

    event = Event("acme", "a.b", device="x/y+#z", path="/3/0 1")
    assert Template("t/{device}/{kind}", "mqtt", "topic", "u").render(event) \
        == "t/x%2Fy%2B%23z/a.b"
    assert Template("s.{kind}.{path}.{time}", "nats", "subject", "u").render(event) \
        == "s.a%2Eb./3/0%201._"


def test_a_full_buffer_holds_the_reader_until_the_broker_is_back(
        redis_broker: Broker) -> None:  # noqa: F811
    """Back-pressure: with the broker down, ``put`` returns while the buffer has room and then
    waits (tail stops reading its stream) until the broker is back; nothing is dropped."""
    from notifyctl.sinks import Sinks

    sinks = Sinks.build([redis_broker.url("0")], unique_ids=True, buffer=10, timeout=120)
    target = sinks.targets[0]

    async def run() -> None:
        await sinks.start()
        await sinks.put(_events(5))
        await async_wait_for(lambda: target.counts["published"] == 5, what="the first five")
        redis_broker.kill()
        await sinks.put([Event("acme", "note", id=f"b{i}") for i in range(8)])  # room: kept
        await async_wait_for(lambda: target.down_since is not None, what="the sink to be down")
        blocked = asyncio.create_task(sinks.put([Event("acme", "note", id="c")] * 5))
        await async_wait_for(lambda: target.holding, what="put to wait for room")
        assert not blocked.done()  # the buffer is full: the reader is held
        redis_broker.start()
        await asyncio.wait_for(blocked, 60)
        await sinks.finish()

    from waiting import async_wait_for

    asyncio.run(run())
    assert target.counts["published"] == 18 and target.counts["failed"] == 0
    assert target.counts["retried"] >= 8
    assert len(redis_messages(redis_broker.port)) == 18


def test_a_stream_deleted_mid_run_is_made_again_and_nothing_is_lost(
        nats_broker: Broker) -> None:  # noqa: F811
    """JetStream answers 'no responders' when no stream captures a subject: that is a failed
    publish (re-sent once the stream is made again), never an ack."""
    import nats

    from notifyctl.sinks import Sinks

    sinks = Sinks.build([nats_broker.url("t.{device}")], unique_ids=True)
    target = sinks.targets[0]

    async def run() -> None:
        await sinks.start()
        nc = await nats.connect(f"nats://127.0.0.1:{nats_broker.port}")
        await nc.jetstream().delete_stream("NOTIFYCTL")
        await nc.close()
        await sinks.put(_events(20))
        await sinks.finish()

    asyncio.run(run())
    assert target.counts["published"] == 20 and target.counts["retried"] == 20
    assert len(nats_messages(nats_broker.port)) == 20


def test_an_address_longer_than_the_system_takes_is_counted_failed(
        mqtt_broker: Broker) -> None:  # noqa: F811
    from notifyctl.sinks import Sinks

    sinks = Sinks.build([mqtt_broker.url("t/{payload}")], unique_ids=True)

    async def run() -> None:
        await sinks.start()
        await sinks.put(_events(2) + _events(1, size=70_000))  # a 70,000-byte topic level
        await sinks.finish()

    asyncio.run(run())
    counts = next(iter(sinks.counts.values()))
    assert counts["published"] == 2 and counts["failed"] == 1
    assert "70,002-byte address" in counts["reasons"][0]


@pytest.mark.parametrize("url, says", [
    ("mqtt://127.0.0.1/iot/+/{device}", "wildcard"),
    ("nats://127.0.0.1/iot.>", "wildcard"),
    ("nats://127.0.0.1/iot..{device}", "empty token"),
])
def test_a_topic_or_subject_one_cannot_publish_to_is_exit_2(cli, url: str, says: str) -> None:
    result = cli("tail", "--sandbox", "--count", "1", "--sink", url)
    assert result.exit_code == 2
    assert says in result.stderr and url in result.stderr
