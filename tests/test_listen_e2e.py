"""End to end: the sandbox's Pelion callback channel delivering to ``listen`` (handshake, header
check, errors on purpose and the sandbox's retries), then ``replay`` re-delivering what
``listen --save`` captured to a second listener."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sandbox import SandboxThread
from waiting import wait_for

from notifyctl.events import read_capture
from notifyctl.listen import BackgroundListener, Settings
from notifyctl.listen.view import ListSink


def note(n: int) -> dict[str, Any]:
    return {"ep": f"dev-{n % 3}", "path": "/3/0/9", "ct": "text/plain", "payload": "NDA2",
            "max-age": n}


def accepted_ages(sink: ListSink, count: int, timeout: float = 30) -> list[int]:
    """``max-age`` of the notifications in requests answered 2xx, once there are ``count``."""
    def ages() -> list[int]:
        return sorted(json.loads(bytes(event.raw))["max-age"] for seen in list(sink.seen)
                      if 200 <= seen.status < 300 for event in seen.events)

    wait_for(lambda: len(ages()) >= count, timeout, what=f"{count} events answered 2xx")
    return ages()


def test_sandbox_delivers_to_listen_then_replay(sandbox: SandboxThread, tmp_path: Path,
                                                cli: Any) -> None:
    save = tmp_path / "pelion.jsonl"
    sink = ListSink()
    settings = Settings(provider="pelion", path="/hook", save=str(save), verify_key="hook-token",
                        strict=True, fail_ratio=0.5, respond=503)
    with BackgroundListener(settings, sink) as rx:
        registered = httpx.put(
            sandbox.url + "/v2/notification/callback",
            json={"url": rx.url, "headers": {"Authorization": "Bearer hook-token"}},
            headers={"Authorization": f"Bearer {sandbox.api_key}"}, timeout=10,
        )
        assert registered.status_code == 204, registered.text
        for n in range(3):
            sandbox.inject({"notifications": [note(10 * n + i) for i in range(4)]})
            # One batch after the other: each delivered (after its retries) before the next.
            wait_for(lambda n=n: sandbox.key_state()["delivered"] >= 4 * (n + 1),
                     what=f"batch {n} delivered")
        ages = accepted_ages(sink, 12)
    # Every second request was answered 503 on purpose; the sandbox retried until 2xx.
    statuses = [seen.status for seen in sink.seen]
    assert 503 in statuses and statuses[-1] == 200
    assert ages == sorted(10 * n + i for n in range(3) for i in range(4))
    assert all(seen.verified is True for seen in sink.seen)
    assert sink.lines[0]["kind"] == "handshake"

    lines = [delivery for _, delivery in read_capture(save)]
    assert len(lines) == len(sink.seen)  # every request, answered 2xx or not, is captured
    assert all(d.headers["Authorization"] == "Bearer ***" for d in lines)

    second = ListSink()
    with BackgroundListener(Settings(provider="pelion"), second) as target:
        result = cli("replay", str(save), "--to", target.url, "--provider", "pelion")
        assert result.exit_code == 0, result.stderr
    # Replay re-sends every captured batch, the ones answered 503 included.
    delivered = [json.loads(d.body_bytes()) for d in lines]
    sent = sorted(n["max-age"] for body in delivered for n in body.get("notifications", []))
    assert accepted_ages(second, len(sent)) == sent
