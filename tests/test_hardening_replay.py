"""Hardening of ``replay``: a hostile receiver that resets connections, answers slowly past the
timeout, redirects, answers 410, 429 with Retry-After and 5xx at random; the ``--report``
counts must equal what the receiver recorded, to the event.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aioserve import ServeThread

ACTIONS = ["ok", "ok", "ok", "reset", "slow", "301", "307", "429", "500", "502", "503"]
TIMEOUT = 0.5  # generous: an "ok" answer must never miss it on a loaded machine


class Hostile:
    """Answers each request by a seeded draw; records (event number, what it did)."""

    def __init__(self, seed: int, gone_at: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.gone_at = gone_at
        self.seen: list[tuple[int, str]] = []

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        number = json.loads(await request.read())["n"]
        action = "410" if number == self.gone_at else self.rng.choice(ACTIONS)
        self.seen.append((number, action))
        if action == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if action == "slow":
            await asyncio.sleep(TIMEOUT * 4)
            return web.Response(status=200)  # too late: the client gave up
        if action == "ok":
            return web.Response(status=200)
        status = int(action)
        headers = {"Retry-After": "0"} if status == 429 else {}
        if 300 <= status < 400:
            headers["Location"] = "/elsewhere"
        return web.Response(status=status, headers=headers)


def write_bodies(path: Path, count: int) -> Path:
    path.write_text(json.dumps([{"n": i} for i in range(count)]))
    return path


def expected_statuses(seen: list[tuple[int, str]]) -> Counter[str]:
    names = {"ok": "200", "slow": "timeout"}
    return Counter(names.get(action, action) for _, action in seen if action != "reset")


def replay(cli: Any, tmp_path: Path, server: ServeThread, count: int, concurrency: int,
           attempts: int) -> tuple[Any, dict[str, Any]]:
    report = tmp_path / "report.json"
    result = cli("replay", str(write_bodies(tmp_path / "bodies.json", count)), "--provider",
                 "generic", "--to", server.url + "/hook", "-c", str(concurrency),
                 "--max-attempts", str(attempts), "--retry-base", "0.001", "--request-timeout",
                 str(TIMEOUT), "--report", str(report))
    return result, json.loads(report.read_text())


@pytest.mark.parametrize(("concurrency", "count"), [(1, 60), (8, 200)])
def test_report_equals_what_the_hostile_receiver_recorded(cli, tmp_path: Path,
                                                          concurrency: int, count: int) -> None:
    hostile = Hostile(seed=concurrency)
    with ServeThread(hostile.setup) as server:
        result, report = replay(cli, tmp_path, server, count, concurrency, attempts=3)
    assert result.exit_code == 6, result.stderr
    seen = hostile.seen
    per_event: dict[int, list[str]] = {}
    for number, action in seen:
        per_event.setdefault(number, []).append(action)
    accepted = {n for n, actions in per_event.items() if actions[-1] == "ok"}
    assert set(per_event) == set(range(count))  # every event was tried
    # Retried only what may be retried: resets, timeouts, 429 and 5xx; 3xx is final.
    for number, actions in per_event.items():
        assert all(a in ("reset", "slow", "429", "500", "502", "503") for a in actions[:-1]), (
            number, actions)
        assert len(actions) <= 3
    assert report["attempts"] == len(seen)
    assert report["deliveries"] == count and report["events"] == count
    assert report["accepted"] == len(accepted) and report["events_accepted"] == len(accepted)
    assert report["failed"] == count - len(accepted)
    assert report["retried"] == len(seen) - count
    statuses = Counter(report["statuses"])
    resets = sum(1 for _, action in seen if action == "reset")
    errors = sum(count for name, count in statuses.items()
                 if name.startswith("error:") or name == "connect-error")
    assert errors == resets
    assert Counter({k: v for k, v in statuses.items()
                    if not k.startswith("error:") and k != "connect-error"}) == (
        expected_statuses(seen))


def test_410_stops_the_run_and_the_report_still_matches(cli, tmp_path: Path) -> None:
    hostile = Hostile(seed=3, gone_at=40)
    with ServeThread(hostile.setup) as server:
        result, report = replay(cli, tmp_path, server, 150, 4, attempts=2)
    assert result.exit_code == 6, result.stderr
    seen = hostile.seen
    assert report["gone"] == 1 and "410" in report["stopped"]
    assert report["attempts"] == len(seen)
    assert max(n for n, _ in seen) < 100  # the run stopped at 40 (plus what was in flight)
    tried = {n for n, _ in seen}
    assert report["deliveries"] == len(tried)
    accepted = {n for n, action in seen if action == "ok"}
    assert report["accepted"] == len(accepted)
