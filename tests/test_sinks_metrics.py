"""Per-sink figures in ``--metrics``: a ``tail --sink`` run to two real brokers (mosquitto and
redis-server) scraped over HTTP and parsed with ``prometheus_client``'s own parser, through a
broker restart: published, retried and failed counted per sink, labelled with its URL.
"""

from __future__ import annotations

import pytest
from brokers import Broker, mqtt_broker, redis_broker  # noqa: F401
from waiting import wait_for

from support.sandbox import SandboxThread
from test_stream_health import metrics_url, note, scrape, start, stop, uid_channel

QUIET = pytest.mark.parametrize("sandbox", [{"rate": 0}], indirect=True)


def figure(samples: dict, name: str, sink: str) -> float | None:  # type: ignore[type-arg]
    return samples.get((f"notifyctl_sink_{name}", (("sink", sink),)))


@QUIET
def test_metrics_count_each_sinks_messages_through_a_restart(
        sandbox: SandboxThread, mqtt_broker: Broker,  # noqa: F811
        redis_broker: Broker) -> None:  # noqa: F811
    mqtt, redis = mqtt_broker.url("iot/{device}"), redis_broker.url("0?stream=iot")
    uid_channel(sandbox)
    sandbox.inject({"notifications": [note(n) for n in range(5)]})
    proc, out, err = start("--log-format", "json", "tail", "--provider", "pelion", "--api-url",
                           sandbox.url, "-o", "jsonl", "--metrics", "127.0.0.1:0",
                           "--sink", mqtt, "--sink", redis, NOTIFYCTL_API_KEY=sandbox.api_key)
    try:
        url = metrics_url(err)
        out.wait(5, what="the first five events")
        wait_for(lambda: all(figure(scrape(url), "published_total", sink) == 5
                             for sink in (mqtt, redis)), what="5 published to each sink")
        mqtt_broker.kill()
        sandbox.inject({"notifications": [note(n, ep="dev-9") for n in range(3)]})
        out.wait(8, what="every event")
        wait_for(lambda: any("reconnecting" in line and mqtt in line for line in err.lines),
                 what="the MQTT sink noticing its broker is gone")
        down = scrape(url)
        mqtt_broker.start()
        wait_for(lambda: figure(scrape(url), "published_total", mqtt) == 8,
                 what="the 3 held events published once mosquitto is back")
        samples = scrape(url)
    finally:
        stop(proc)
    assert proc.returncode == 143, err.finish()
    assert figure(down, "connected", mqtt) == 0 and figure(down, "connected", redis) == 1
    assert figure(samples, "published_total", redis) == 8
    assert figure(samples, "retried_total", redis) == 0
    assert 1 <= (figure(samples, "retried_total", mqtt) or 0) <= 3  # the batch re-sent
    assert figure(samples, "failed_total", mqtt) == figure(samples, "failed_total", redis) == 0
    assert figure(samples, "connected", mqtt) == 1
    assert figure(samples, "buffered", mqtt) == 0
