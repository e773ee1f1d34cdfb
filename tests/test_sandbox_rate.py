"""The synthetic generator at a rate the machine cannot reach: the rate is a ceiling, the
sandbox feeds a reader as fast as both can go (full frames, a bounded backlog, nothing dropped
for a reader that keeps reading) and reports the rate it achieved; ``tail --sandbox`` never
starves or gives up. bench/tail.py --sandbox measures the rate."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sandbox import SandboxThread
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

SLOW_READS = 6


def test_tail_sandbox_at_a_rate_beyond_the_machine_delivers_every_line(run: Any) -> None:
    # The timeout only stops a hung run; the figure under test is "all lines, exit 0".
    result = run("tail", "--sandbox", "--rate", "200000", "--count", "50000", "-o", "jsonl",
                 timeout=100)
    assert result.exit_code == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 50_000
    assert all(json.loads(line)["provider"] for line in (lines[0], lines[-1]))
    assert "gave up" not in result.stderr and "reconnects 0" in result.stderr


@pytest.mark.parametrize("platform", [["--provider", "circle"],
                                      ["--provider", "iottly", "--device", "dev_01"]])
def test_one_event_per_message_platforms_keep_up_too(run: Any, platform: list[str]) -> None:
    # Their generators once spawned a task per event: the reader got nothing at all.
    result = run("tail", "--sandbox", *platform, "--rate", "200000", "--count", "20000",
                 "-o", "jsonl", timeout=100)
    assert result.exit_code == 0, result.stderr[-2000:]
    assert len(result.stdout.splitlines()) == 20_000
    assert "Traceback" not in result.stderr and "reconnects 0" in result.stderr


def test_a_reader_slower_than_the_rate_is_fed_not_flooded() -> None:
    # Every emulator runs, as under `notifyctl sandbox`; one Pelion reader takes a frame, then
    # dawdles: the generator waits for it instead of queueing what the channel would drop.
    with SandboxThread(rate=1_000_000) as sb:
        key = {"Authorization": f"Bearer {sb.api_key}"}
        assert httpx.put(sb.url + "/v2/notification/websocket", headers=key,
                         timeout=10).status_code == 201
        url = sb.url.replace("http", "ws", 1) + "/v2/notification/websocket-connect"
        protocols = [Subprotocol("wss"), Subprotocol(f"pelion_{sb.api_key}")]

        async def read_slowly() -> list[dict[str, Any]]:
            seen = []
            async with connect(url, subprotocols=protocols, proxy=None, max_size=None) as ws:
                for _ in range(SLOW_READS):
                    message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                    assert sum(len(items) for items in message.values()) > 0
                    await asyncio.sleep(0.2)  # a slow reader, not a wait for something
                    seen.append(await asyncio.to_thread(sb.state))
            return seen

        states = asyncio.run(read_slowly())
    for state in states:
        queue = state["pelion"]["keys"][sb.api_key]
        assert queue["dropped"] == 0 and queue["queue_size"] < 100_000 // 2, queue
    assert states[-1]["sandbox"]["rate"] == 1_000_000
    assert 0 < states[-1]["sandbox"]["achieved_rate"] < 1_000_000
