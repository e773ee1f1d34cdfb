"""The sandbox's synthetic generator feeds every subscribed device and stream, not the first
one only (it is called with bursts of one event at low rates)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

FAST = [{"rate": 200}]


@pytest.fixture
def iot(cli: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "iot-generator-key")
    added = cli("profile", "add", "iot", "--provider", "iottly", "--api-url",
                f"{sandbox.url}/v1.0")
    assert added.exit_code == 0, added.stderr
    return "iot"


def events(result: Any) -> list[dict[str, Any]]:
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("sandbox", FAST, indirect=True)
def test_iottly_generator_spreads_over_every_device_and_stream(cli: Any, iot: str) -> None:
    got = events(cli("-p", iot, "tail", "--device", "dev_01", "--device", "dev_02",
                     "--count", "100", "--timeout", "30", "-o", "jsonl"))
    per_device = Counter(event["device"] for event in got)
    assert set(per_device) == {"dev_01", "dev_02"} and min(per_device.values()) >= 30, per_device
    chosen = events(cli("-p", iot, "tail", "--device", "dev_01", "--stream", "temp", "--stream",
                        "hum", "--count", "40", "--timeout", "30", "-o", "jsonl"))
    per_stream = Counter(event["stream"] for event in chosen)
    assert set(per_stream) == {"temp", "hum"} and min(per_stream.values()) >= 10, per_stream


@pytest.mark.parametrize("sandbox", FAST, indirect=True)
def test_circle_generator_spreads_over_accessories_and_stamps_time(
        cli: Any, sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "circle-api-key")
    monkeypatch.setenv("NOTIFYCTL_ACCESS_TOKEN", "circle-generator-token")
    assert cli("profile", "add", "circ", "--provider", "circle", "--api-url",
               sandbox.url).exit_code == 0
    got = events(cli("-p", "circ", "tail", "--count", "25", "--timeout", "30", "-o", "jsonl"))
    assert len({event["device"] for event in got}) == 5
    assert all(event.get("time") for event in got)
