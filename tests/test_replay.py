"""replay against real receivers on 127.0.0.1: signatures checked independently, retries, 410,
redirects, timeouts, strict Pelion sequencing, report counts equal to what the receiver saw."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from waiting import wait_for

from conftest import subprocess_env
from notifyctl import signing
from notifyctl.providers.circle.signing import circle_verify


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An aiohttp server in its own thread that records every request.

    ``answer(index, hit)`` returns the status, or ``(status, delay_s)``, or
    ``(status, delay_s, headers)``. With
    ``strict=True`` an overlapping request is recorded as a violation (Pelion: one in flight).
    """

    answer: Callable[[int, Hit], Any] = lambda i, hit: 204
    strict: bool = False
    record: bool = True  # False: count requests and bytes, keep nothing (large replays)
    hits: list[Hit] = field(default_factory=list)
    count: int = 0
    bytes: int = 0
    overlaps: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._in_flight = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # (teardown does not wait out an answer a test left hanging)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def _handle(self, request: web.Request) -> web.Response:
        self._in_flight += 1
        if self._in_flight > 1:
            self.overlaps += 1
        try:
            hit = Hit(request.method, request.path_qs, dict(request.headers), await request.read())
            index = self.count
            self.count += 1
            self.bytes += len(hit.body)
            if self.record:
                self.hits.append(hit)
            answer = self.answer(index, hit)
            parts = answer if isinstance(answer, tuple) else (answer,)
            status = parts[0]
            delay = parts[1] if len(parts) > 1 else 0.0
            headers = dict(parts[2]) if len(parts) > 2 else {}
            if delay:
                await asyncio.sleep(delay)
            if 300 <= status < 400:
                headers["Location"] = "/elsewhere"
            return web.Response(status=status, headers=headers)
        finally:
            self._in_flight -= 1

    def __enter__(self) -> Receiver:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(**kwargs: Any) -> Receiver:
        server = Receiver(**kwargs).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__()


def capture(path: Path, provider: str, bodies: list[Any], headers: dict[str, str] | None = None,
            step_ms: int = 0) -> Path:
    lines = []
    for i, body in enumerate(bodies):
        text = body if isinstance(body, str) else json.dumps(body)
        at = f"2026-11-23T09:00:00.{i * step_ms:03d}Z" if step_ms else "2026-11-23T09:00:00.000Z"
        lines.append(json.dumps({"v": 1, "provider": provider, "source": "callback", "at": at,
                                 "method": "POST", "path": "/hook",
                                 "headers": headers or {"Content-Type": "application/json"},
                                 "body": text}))
    path.write_text("\n".join(lines) + "\n")
    return path


def circle_sig(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def notification(i: int) -> dict[str, Any]:
    return {"ep": f"dev{i % 7:04d}", "path": "/3303/0/5700", "ct": "text/plain",
            "payload": base64.b64encode(str(i).encode()).decode(), "max-age": 0}


# ---- circle -------------------------------------------------------------------------------


def test_circle_signs_every_body_with_the_key_from_the_environment(
        tmp_path, receiver, cli, monkeypatch):
    monkeypatch.setenv("CIRCLE_KEY", "s3cret-auth-key")
    server = receiver()
    bodies = [{"accountId": "a", "eventType": "motion_started", "eventData": {"n": i}}
              for i in range(20)]
    src = capture(tmp_path / "c.jsonl", "circle", bodies)
    result = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "CIRCLE_KEY",
                 "--to", server.url + "/circle", "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.stderr
    assert len(server.hits) == 20
    for hit in server.hits:
        assert hit.method == "POST" and hit.path == "/circle"
        assert hit.headers["X-Logi-Verify"] == circle_sig("s3cret-auth-key", hit.body)
        assert circle_verify("s3cret-auth-key", hit.headers["X-Logi-Verify"],
                                     hit.body) is None
    assert sorted(json.loads(h.body)["eventData"]["n"] for h in server.hits) == list(range(20))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["deliveries"] == report["accepted"] == 20
    assert report["statuses"] == {"204": 20}
    assert "s3cret" not in result.stderr + result.stdout


def test_circle_retries_twice_then_drops_and_exits_6(tmp_path, receiver, cli, monkeypatch):
    monkeypatch.setenv("K", "k")
    # Event 0 always fails (3 attempts), event 1 fails once then succeeds.
    seen: dict[bytes, int] = {}

    def answer(i: int, hit: Hit) -> int:
        seen[hit.body] = seen.get(hit.body, 0) + 1
        if b'"n": 0' in hit.body:
            return 500
        return 503 if seen[hit.body] == 1 else 200

    server = receiver(answer=answer)
    src = capture(tmp_path / "c.jsonl", "circle", [{"n": 0}, {"n": 1}])
    result = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "K",
                 "--to", server.url, "-c", "1", "-o", "json")
    assert result.exit_code == 6
    report = result.json()
    assert len(server.hits) == 5 == report["attempts"]
    assert report["failed"] == 1 and report["accepted"] == 1 and report["retried"] == 3
    assert report["statuses"] == {"200": 1, "500": 3, "503": 1}


def test_circle_410_stops_delivery_and_reports_gone(tmp_path, receiver, cli, monkeypatch):
    monkeypatch.setenv("K", "k")
    server = receiver(answer=lambda i, hit: 410 if i == 2 else 200)
    src = capture(tmp_path / "c.jsonl", "circle", [{"n": i} for i in range(10)])
    result = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "K",
                 "--to", server.url, "-c", "1", "-o", "json")
    assert result.exit_code == 6
    report = result.json()
    assert len(server.hits) == 3  # nothing after the 410
    assert report["gone"] == 1 and report["accepted"] == 2
    assert "410" in report["stopped"]


def test_redirects_are_never_followed(tmp_path, receiver, cli, monkeypatch):
    monkeypatch.setenv("K", "k")
    server = receiver(answer=lambda i, hit: 302 if hit.path == "/hook" else 200)
    src = capture(tmp_path / "c.jsonl", "circle", [{"n": 1}])
    result = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "K",
                 "--to", server.url + "/hook", "-o", "json")
    assert result.exit_code == 6
    assert [h.path for h in server.hits] == ["/hook"] * 3  # three attempts, never /elsewhere
    assert result.json()["statuses"] == {"302": 3}


def test_circle_timeout_counts_as_a_failure(tmp_path, receiver, cli, monkeypatch):
    monkeypatch.setenv("K", "k")
    server = receiver(answer=lambda i, hit: (200, 1.0))
    src = capture(tmp_path / "c.jsonl", "circle", [{"n": 1}])
    result = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "K",
                 "--to", server.url, "--request-timeout", "0.1", "-o", "json")
    assert result.exit_code == 6
    # Each 200 comes after 1 s: three timeouts mean the 0.1 s limit cut every attempt short.
    assert result.json()["statuses"] == {"timeout": 3}


def test_unsigned_circle_delivery_without_key_is_reported_not_sent(tmp_path, receiver, cli):
    server = receiver()
    src = capture(tmp_path / "c.jsonl", "circle", [{"n": 1}])
    result = cli("replay", str(src), "--provider", "circle", "--to", server.url, "-o", "json")
    assert result.exit_code == 6
    assert server.hits == []
    assert result.json()["refused"] == 1
    assert "--sign-key-env" in result.stderr


def test_changed_body_with_captured_signature(tmp_path, receiver, cli, monkeypatch):
    body = json.dumps({"n": 1, "edited": True})
    stale = circle_sig("key", b'{"n": 1}')
    # The capture kept the original Content-Length: the body was edited after capture.
    headers = {"Content-Type": "application/json", "X-Logi-Verify": stale, "Content-Length": "8"}
    src = capture(tmp_path / "c.jsonl", "circle", [body], headers=headers)
    server = receiver()
    refused = cli("replay", str(src), "--provider", "circle", "--to", server.url, "-o", "json")
    assert refused.exit_code == 6 and server.hits == []
    assert "no longer matches" in refused.stderr
    monkeypatch.setenv("K", "key")
    resigned = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "K",
                   "--to", server.url, "-o", "json")
    assert resigned.exit_code == 0
    assert resigned.json()["resigned"] == 1
    assert server.hits[0].headers["X-Logi-Verify"] == circle_sig("key", body.encode())


def test_missing_key_variable_is_a_usage_error(tmp_path, cli):
    src = capture(tmp_path / "c.jsonl", "circle", [{"n": 1}])
    result = cli("replay", str(src), "--provider", "circle", "--sign-key-env", "NOPE",
                 "--to", "http://127.0.0.1:9/")
    assert result.exit_code == 2 and "NOPE" in result.stderr


# ---- generic / Standard Webhooks ----------------------------------------------------------


def test_standard_webhooks_vector_and_stable_ids(tmp_path, receiver, cli, monkeypatch):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    # The spec's vector, computed here independently of notifyctl.signing.
    expected = base64.b64encode(hmac.new(
        key, b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}', hashlib.sha256
    ).digest()).decode()
    assert expected == "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    monkeypatch.setenv("WH", secret)
    seen: dict[str, int] = {}

    def answer(i: int, hit: Hit) -> int:
        seen[hit.headers["webhook-id"]] = seen.get(hit.headers["webhook-id"], 0) + 1
        return 500 if seen[hit.headers["webhook-id"]] == 1 else 200

    server = receiver(answer=answer)
    src = capture(tmp_path / "g.jsonl", "generic",
                  ['{"test": 2432232314}', '{"test": 1}'],
                  headers={"Content-Type": "application/json", "Authorization": "Bearer ***",
                           "X-Trace": "abc", "Connection": "keep-alive"})
    result = cli("replay", str(src), "--provider", "generic", "--sign", "standard-webhooks",
                 "--sign-key-env", "WH", "--max-attempts", "2", "--retry-base", "0.01",
                 "--to", server.url + "/base", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert len(server.hits) == 4 and set(seen.values()) == {2}  # id stable across the retry
    for hit in server.hits:
        assert hit.path == "/base"  # --to exactly: the captured /hook is not appended
        assert hit.headers["X-Trace"] == "abc"
        assert "Authorization" not in hit.headers  # masked secrets are not replayed
        signed = f"{hit.headers['webhook-id']}.{hit.headers['webhook-timestamp']}.".encode()
        mac = base64.b64encode(hmac.new(key, signed + hit.body, hashlib.sha256).digest())
        assert hit.headers["webhook-signature"] == "v1," + mac.decode()
        assert abs(int(hit.headers["webhook-timestamp"]) - time.time()) < 60
    assert result.json()["retried"] == 2


def test_generic_fixture_replays_captured_signatures_as_they_were(receiver, cli):
    server = receiver()
    result = cli("replay", "--fixture", "generic/standard-webhooks", "--to", server.url)
    assert result.exit_code == 0
    assert len(server.hits) == 3
    for hit in server.hits:
        lowered = {k.lower(): v for k, v in hit.headers.items()}
        now = int(lowered["webhook-timestamp"])
        assert signing.standard_verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", lowered,
                                       hit.body, now=now) is None


# ---- iottly ---------------------------------------------------------------------------------


def test_iottly_envelope_headers_and_no_retries(tmp_path, receiver, cli):
    server = receiver(answer=lambda i, hit: 500 if i == 0 else 200)
    msgs = [{"from": "d1", "to": "p", "type": "iottlyagent", "payload": {"t": i}} for i in range(3)]
    src = capture(tmp_path / "i.jsonl", "iottly", msgs)
    result = cli("replay", str(src), "--provider", "iottly", "--to", server.url, "-c", "1",
                 "-H", "X-Project: demo", "-o", "json")
    assert result.exit_code == 6
    assert len(server.hits) == 3  # the 500 is not retried
    assert [json.loads(h.body) for h in server.hits] == [{"msg": m} for m in msgs]
    assert all(h.headers["X-Project"] == "demo" for h in server.hits)
    assert result.json()["failed"] == 1

    server2 = receiver()
    ok = cli("replay", str(src), "--provider", "iottly", "--payload-only", "--to", server2.url)
    assert ok.exit_code == 0
    assert sorted(json.loads(h.body)["t"] for h in server2.hits) == [0, 1, 2]


def test_iottly_allows_at_most_five_headers(tmp_path, cli):
    src = capture(tmp_path / "i.jsonl", "iottly", [{"payload": 1}])
    args = [a for i in range(6) for a in ("-H", f"X-{i}: v")]
    result = cli("replay", str(src), "--provider", "iottly", "--to", "http://127.0.0.1:9", *args)
    assert result.exit_code == 2 and "at most 5" in result.stderr


# ---- pelion ---------------------------------------------------------------------------------


def test_pelion_rechunks_strictly_one_batch_in_flight(tmp_path, receiver, cli):
    server = receiver(strict=True, answer=lambda i, hit: (204, 0.02))
    bodies = [{"notifications": [notification(b * 7 + j) for j in range(7)]} for b in range(10)]
    src = capture(tmp_path / "p.jsonl", "pelion", bodies)
    result = cli("replay", str(src), "--provider", "pelion", "--batch-size", "25", "--handshake",
                 "-H", "Authorization: Bearer cb-token", "--to", server.url + "/cb", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert server.overlaps == 0
    assert server.hits[0].body == b"{}"  # the verification handshake first
    batches = [json.loads(h.body)["notifications"] for h in server.hits[1:]]
    assert [len(b) for b in batches] == [25, 25, 20]
    sent = [base64.b64decode(item["payload"]).decode() for batch in batches for item in batch]
    assert sent == [str(i) for i in range(70)]  # order kept across re-chunking
    assert all(h.method == "PUT" and h.headers["Authorization"] == "Bearer cb-token"
               for h in server.hits)
    report = result.json()
    assert report["deliveries"] == 3 + 1 and report["events"] == 70


def test_pelion_full_captured_batch_is_sent_byte_for_byte(tmp_path, receiver, cli):
    server = receiver(strict=True)
    full = '{ "notifications": [' + ", ".join(json.dumps(notification(i)) for i in range(5)) + \
        '], "x-future": 1 }'
    partial = {"notifications": [notification(5), notification(6)]}
    src = capture(tmp_path / "p.jsonl", "pelion", [full, partial, partial])
    result = cli("replay", str(src), "--provider", "pelion", "--batch-size", "5",
                 "--to", server.url)
    assert result.exit_code == 0, result.stderr
    assert server.hits[0].body == full.encode()  # exactly as captured, unknown key included
    assert [len(json.loads(h.body)["notifications"]) for h in server.hits[1:]] == [4]


def test_header_env_sends_a_token_that_never_touches_argv(tmp_path, receiver, cli, monkeypatch):
    server = receiver()
    monkeypatch.setenv("HOOK_TOKEN", "Bearer hook-secret-123")
    src = capture(tmp_path / "p.jsonl", "pelion", [{"notifications": [notification(1)]}])
    result = cli("replay", str(src), "--provider", "pelion", "--to", server.url,
                 "--header-env", "Authorization=HOOK_TOKEN", "-H", "X-Source: ci")
    assert result.exit_code == 0, result.stderr
    [hit] = server.hits
    assert hit.headers["Authorization"] == "Bearer hook-secret-123"
    assert hit.headers["X-Source"] == "ci"
    assert "hook-secret-123" not in result.stdout + result.stderr


def test_pelion_retries_with_backoff_then_stops(tmp_path, receiver, cli):
    times: list[float] = []

    def answer(i: int, hit: Hit) -> int:
        times.append(time.monotonic())
        return 500 if i in (1, 2) else 200

    server = receiver(strict=True, answer=answer)
    bodies = [{"notifications": [notification(i)]} for i in range(3)]
    src = capture(tmp_path / "p.jsonl", "pelion", bodies)
    result = cli("replay", str(src), "--provider", "pelion", "--batch-size", "1",
                 "--retry-base", "0.05", "--to", server.url, "-o", "json")
    assert result.exit_code == 0
    assert len(server.hits) == 5 and server.overlaps == 0
    assert times[2] - times[1] >= 0.05 * 0.9 and times[3] - times[2] >= 0.1 * 0.9
    # the second batch is re-sent until accepted, and only then the third
    assert [h.body for h in server.hits[1:4]] == [server.hits[1].body] * 3
    assert result.json()["retried"] == 2

    failing = receiver(strict=True, answer=lambda i, hit: 503)
    stop = cli("replay", str(src), "--provider", "pelion", "--batch-size", "1",
               "--retry-base", "0.001", "--max-attempts", "3", "--to", failing.url, "-o", "json")
    assert stop.exit_code == 6
    assert len(failing.hits) == 3  # the first batch three times, nothing after it
    assert "sends nothing after it" in stop.json()["stopped"]


def test_retry_after_is_honoured_when_longer_than_the_backoff(tmp_path, receiver, cli):
    server = receiver(answer=lambda i, hit: (429, 0.0, {"Retry-After": "1"}) if i == 0 else 204)
    src = capture(tmp_path / "p.jsonl", "pelion", [{"notifications": [notification(1)]}])
    started = time.monotonic()
    result = cli("replay", str(src), "--provider", "pelion", "--retry-base", "0.001",
                 "--to", server.url, "-o", "json")
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.stderr
    assert server.count == 2 and result.json()["retried"] == 1
    assert elapsed >= 0.95  # the receiver asked for 1 s; the back-off alone would be 1 ms


def test_pelion_handshake_is_one_attempt_needing_200_or_204(tmp_path, receiver, cli):
    src = capture(tmp_path / "p.jsonl", "pelion", [{"notifications": [notification(1)]}])
    for status in (500, 202):
        server = receiver(answer=lambda i, hit, status=status: status)
        result = cli("replay", str(src), "--provider", "pelion", "--handshake",
                     "--retry-base", "0.001", "--to", server.url, "-o", "json")
        assert result.exit_code == 6
        assert [h.body for h in server.hits] == [b"{}"]  # not retried; no batch after it
        assert "handshake" in result.json()["stopped"]


def test_pelion_refuses_concurrency(tmp_path, cli):
    result = cli("replay", "--fixture", "pelion/notifications", "--to", "http://127.0.0.1:9",
                 "--concurrency", "4")
    assert result.exit_code == 2 and "one batch at a time" in result.stderr


def test_pelion_batch_size_is_bounded(cli):
    result = cli("replay", "--fixture", "pelion/notifications", "--to", "http://127.0.0.1:9",
                 "--batch-size", "10001")
    assert result.exit_code == 2 and "10000" in result.stderr


def test_unknown_replay_provider(cli):
    result = cli("replay", "--fixture", "pelion/notifications", "--to", "http://127.0.0.1:9",
                 "--provider", "smoke-signals")
    assert result.exit_code == 2 and "sigfox" in result.stderr  # the valid list names it


# ---- fixtures, pacing, shaping ---------------------------------------------------------


def test_every_fixture_replays(receiver, cli, monkeypatch):
    monkeypatch.setenv("K", "k")
    listing = cli("replay", "--list-fixtures", "-o", "json").json()
    assert "pelion/notifications" in listing and len(listing) >= 10
    server = receiver()
    for name in listing:
        extra = ["--sign-key-env", "K"] if name.startswith("circle/") else []
        result = cli("replay", "--fixture", name, "--to", server.url, *extra)
        assert result.exit_code == 0, (name, result.stderr)


def test_rate_paces_deliveries(tmp_path, receiver, cli):
    server = receiver()
    src = capture(tmp_path / "g.jsonl", "generic", [{"n": i} for i in range(11)])
    started = time.monotonic()
    result = cli("replay", str(src), "--provider", "generic", "--rate", "50", "--to", server.url)
    assert result.exit_code == 0
    assert time.monotonic() - started >= 10 / 50 * 0.9


def test_speed_keeps_captured_gaps(tmp_path, receiver, cli):
    server = receiver()
    src = capture(tmp_path / "g.jsonl", "generic", [{"n": i} for i in range(5)], step_ms=200)
    started = time.monotonic()
    result = cli("replay", str(src), "--provider", "generic", "--speed", "4", "--to", server.url)
    assert result.exit_code == 0
    assert time.monotonic() - started >= 0.8 / 4 * 0.9  # 800 ms captured, 4x faster


def test_duplicates_shuffle_limit_match_the_receiver(tmp_path, receiver, cli):
    server = receiver()
    src = capture(tmp_path / "g.jsonl", "generic", [{"n": i} for i in range(200)])
    result = cli("replay", str(src), "--provider", "generic", "--duplicates", "0.3",
                 "--shuffle", "--shuffle-window", "50", "--seed", "7", "--limit", "150",
                 "-c", "1", "--to", server.url, "-o", "json")
    assert result.exit_code == 0
    report = result.json()
    numbers = [json.loads(h.body)["n"] for h in server.hits]
    assert report["deliveries"] == len(server.hits) == 150 + report["duplicates"]
    assert 20 < report["duplicates"] < 80
    assert set(numbers) == set(range(150))
    assert numbers != sorted(numbers)


def test_report_counts_equal_receiver_under_concurrency(tmp_path, receiver, cli):
    server = receiver(answer=lambda i, hit: 500 if json.loads(hit.body)["n"] % 10 == 0 else 200)
    src = capture(tmp_path / "g.jsonl", "generic", [{"n": i} for i in range(300)])
    result = cli("replay", str(src), "--provider", "generic", "-c", "8", "--to", server.url,
                 "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 6
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["attempts"] == len(server.hits) == 300
    assert report["failed"] == 30 and report["accepted"] == 270
    assert report["statuses"] == {"200": 270, "500": 30}
    assert report["latency_ms"]["p50"] is not None
    assert "latency histogram" in result.stderr and "events/s" in result.stderr


# ---- interrupted runs ------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_replay_still_writes_the_report(
        tmp_path: Path, receiver: Callable[..., Receiver], signum: int, code: int) -> None:
    # The third batch hangs at the receiver (3 s: a busy machine must not let it finish): the
    # signal arrives while it is in flight.
    server = receiver(strict=True, answer=lambda i, hit: (204, 3.0) if i == 2 else 204)
    src = capture(tmp_path / "p.jsonl", "pelion", [{"notifications": [notification(i)]}
                                                   for i in range(50)])
    out = tmp_path / "report.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "replay", str(src), "--provider", "pelion",
         "--batch-size", "1", "--to", server.url, "--report", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        wait_for(lambda: server.count >= 3 or proc.poll() is not None, interval=0.005,
                 what="the third batch at the receiver")
        assert server.count == 3, proc.poll()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, stderr
    assert stdout == ""
    report = json.loads(out.read_text())
    name = signal.Signals(signum).name
    assert report["stopped"] == f"interrupted by {name}" and report["ok"] is False
    # every request the receiver saw is in the report; the one in flight as interrupted
    assert report["attempts"] == server.count == 3 and server.overlaps == 0
    assert report["statuses"] == {"204": 2, "interrupted": 1}
    assert (report["deliveries"], report["accepted"], report["events_accepted"]) == (2, 2, 2)
    assert f"interrupted by {name}" in stderr and "deliveries" in stderr  # the summary
