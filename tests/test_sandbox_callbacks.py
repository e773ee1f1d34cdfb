"""The sandbox's Pelion callback channels (verification handshake, strict one-in-flight batches,
back-off then recovery) against a real aiohttp receiver, the synthetic generator's output, and
``notifyctl sandbox`` as a subprocess (first stderr line, exit 130/143 on signals)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from sandbox import SandboxThread
from waiting import async_wait_for, wait_for
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from notifyctl.contract.deliver import Verdict
from notifyctl.providers.pelion import emulator_delivery, tlv
from notifyctl.providers.pelion.emulator_delivery import callback_rules

CALLBACK = "/v2/notification/callback"


class Receiver:
    """A callback endpoint that records every request and fails the test on overlap."""

    def __init__(self, statuses: list[int] | None = None, delay: float = 0.0) -> None:
        self.statuses = list(statuses or [])  # answers for batches, in order; then 200
        self.delay = delay
        self.requests: list[tuple[float, dict[str, str], bytes]] = []
        self.in_flight = 0
        self.overlaps = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.overlaps += self.in_flight > 1
        try:
            body = await request.read()
            self.requests.append((time.monotonic(), dict(request.headers), body))
            await asyncio.sleep(self.delay)
            if body == b"{}" or not self.statuses:
                return web.Response(status=200)
            return web.Response(status=self.statuses.pop(0))
        finally:
            self.in_flight -= 1

    def batches(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.requests if body != b"{}"]

    def items(self) -> list[Any]:
        return [i for batch in self.batches() for i in batch.get("notifications", [])]

    async def wait_items(self, count: int) -> list[Any]:
        await async_wait_for(lambda: len(self.items()) >= count, what=f"{count} notifications")
        return self.items()


@asynccontextmanager
async def receiver(rx: Receiver, path: str = "/hook") -> AsyncIterator[Receiver]:
    app = web.Application()
    app.router.add_route("*", path, rx.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rx.url = f"http://127.0.0.1:{runner.addresses[0][1]}{path}"
    try:
        yield rx
    finally:
        await runner.cleanup()


async def put_callback(sb: SandboxThread, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.put(sb.url + CALLBACK, json=body,
                                headers={"Authorization": f"Bearer {sb.api_key}"})


def auth(sb: SandboxThread) -> dict[str, str]:
    return {"Authorization": f"Bearer {sb.api_key}"}


def note(n: int) -> dict[str, Any]:
    return {"ep": "dev-1", "path": "/3/0/9", "ct": "text/plain", "payload": "NDA2", "max-age": n}


def test_verification_handshake_then_batches_with_headers(sandbox: SandboxThread) -> None:
    async def main() -> None:
        async with receiver(Receiver()) as rx:
            headers = {"X-Token": "s3cret", "X-Env": "ci"}
            response = await put_callback(sandbox, {"url": rx.url, "headers": headers})
            assert response.status_code == 204, response.text
            _, first_headers, first_body = rx.requests[0]
            assert first_body == b"{}"
            assert {k: first_headers[k] for k in headers} == headers
            sandbox.inject({"notifications": [note(1), note(2)]})
            assert [n["max-age"] for n in await rx.wait_items(2)] == [1, 2]
            _, batch_headers, _ = rx.requests[1]
            assert batch_headers["X-Token"] == "s3cret"
            assert batch_headers["Content-Type"] == "application/json"

    asyncio.run(main())
    h = {"Authorization": f"Bearer {sandbox.api_key}"}
    webhook = httpx.get(sandbox.url + CALLBACK, headers=h).json()
    assert webhook["headers"] == {"X-Token": "s3cret", "X-Env": "ci"}
    assert webhook["serialization"]["max_chunk_size"] == 10000
    channel = httpx.get(sandbox.url + "/v2/notification/channel", headers=h).json()
    assert channel == {"delivery_mechanism": "CALLBACK"}
    state = sandbox.key_state()
    assert (state["delivered"], state["callback"]["batches"]) == (2, 1)
    assert httpx.delete(sandbox.url + CALLBACK, headers=h).status_code == 204
    assert httpx.get(sandbox.url + CALLBACK, headers=h).status_code == 404


async def _verifier_paths(request: web.Request) -> web.StreamResponse:
    """Answers for the verification PUT: /fail 500, /moved a redirect to /ok, /slow too late."""
    if request.path == "/moved":
        raise web.HTTPFound("/ok")
    if request.path == "/slow":
        await asyncio.sleep(10.0)  # far beyond the sandbox's timeout (cancelled at cleanup)
    return web.Response(status=500 if request.path == "/fail" else 200)


@pytest.mark.parametrize("path", ["/fail", "/moved", "/slow", "refused"])
def test_verification_failures_answer_400(path: str) -> None:
    # 2 s: long enough for /ok to answer on a busy machine, far shorter than /slow.
    with SandboxThread(callback_timeout=2.0) as sb:

        async def main() -> httpx.Response:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", _verifier_paths)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                assert (await put_callback(sb, {"url": base + "/ok"})).status_code == 204
                assert httpx.delete(sb.url + CALLBACK, headers=auth(sb)).status_code == 204
                if path != "refused":
                    return await put_callback(sb, {"url": base + path})
            finally:
                await runner.cleanup()
            return await put_callback(sb, {"url": base + "/ok"})  # nobody listens any more

        response = asyncio.run(main())
        assert response.status_code == 400
        why = {"/fail": "answered 500", "/moved": "answered 302", "/slow": "failed (timeout)",
               "refused": "failed (connect-error)"}[path]
        assert response.text.startswith("URL not reachable") and why in response.text
        assert sb.key_state()["channel"] is None


def test_one_batch_in_flight_in_order(sandbox: SandboxThread) -> None:
    async def main() -> Receiver:
        async with receiver(Receiver(delay=0.01)) as rx:
            serialization = {"max_chunk_size": "100", "cfg": {"include_uid": "true"}}
            assert (await put_callback(
                sandbox, {"url": rx.url, "serialization": serialization})).status_code == 204
            for batch in range(10):
                sandbox.inject({"notifications": [note(batch * 100 + i) for i in range(100)]})
            items = await rx.wait_items(1000)
            assert [n["max-age"] for n in items] == list(range(1000))
            assert len({n["uid"] for n in items}) == 1000
            return rx

    rx = asyncio.run(main())
    assert rx.overlaps == 0
    assert all(len(b["notifications"]) <= 100 for b in rx.batches())
    assert len(rx.batches()) >= 10


# retry_base 0.1 s: the back-off, not a busy machine's scheduling delay, makes the gaps.
@pytest.mark.parametrize("sandbox", [{"retry_base": 0.1}], indirect=True)
def test_backoff_after_failures_then_recovery(sandbox: SandboxThread) -> None:
    async def main() -> Receiver:
        async with receiver(Receiver(statuses=[500, 503, 429])) as rx:
            assert (await put_callback(sandbox, {"url": rx.url})).status_code == 204
            sandbox.inject({"notifications": [note(1)]})
            await rx.wait_items(4)  # three failed attempts, then the accepted one
            await async_wait_for(lambda: sandbox.key_state()["callback"]["delivered"] == 1,
                                 what="the sandbox to count the batch delivered")
            return rx

    rx = asyncio.run(main())
    attempts = [(t, body) for t, _, body in rx.requests if body != b"{}"]
    assert len(attempts) == 4
    assert len({body for _, body in attempts}) == 1  # the same batch each time
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(attempts)]
    for gap, expected in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert gap >= expected * 0.9
    assert gaps[2] > gaps[0]
    stats = sandbox.key_state()["callback"]
    assert (stats["failures"], stats["batches"], stats["delivered"]) == (3, 1, 1)
    assert (stats["attempts"], stats["last_status"], stats["last_error"]) == (4, 200, None)
    assert stats["statuses"] == {"500": 1, "503": 1, "429": 1, "200": 1}


def test_backoff_schedule_is_capped_and_sandbox_rules_never_give_up() -> None:
    rules = callback_rules("http://x", {"X-A": "b"}, retry_base=0.5)
    decisions = [rules.decide(None, n) for n in (1, 2, 3, 8, 9, 30, 10_000)]
    assert [d.verdict for d in decisions] == [Verdict.RETRY] * 7
    assert [d.delay for d in decisions] == [0.5, 1.0, 2.0, 60.0, 60.0, 60.0, 60.0]
    assert rules.decide(204, 10_000).verdict is Verdict.ACCEPTED
    assert rules.headers == {"Content-Type": "application/json", "X-A": "b"}
    assert (rules.timeout, rules.sequential) == (20.0, True)
    # the verification PUT {} is judged once: only 200 and 204 verify a URL
    assert [rules.decide_handshake(s, 1).verdict for s in (200, 204, 202, 302, None)] == [
        Verdict.ACCEPTED, Verdict.ACCEPTED, Verdict.FAILED, Verdict.FAILED, Verdict.FAILED]


def test_no_delivery_loop_outside_the_engine() -> None:
    """The sandbox sends through its sender (replay's Deliverer, see test_sandbox.py): no HTTP
    call or back-off of its own."""
    source = Path(emulator_delivery.__file__).read_text()
    assert ".put(" not in source and "sleep(" not in source and "2.0 **" not in source
    assert "context.sender(" in source


def test_reregistering_keeps_the_queue(sandbox: SandboxThread) -> None:
    async def main() -> None:
        async with receiver(Receiver(statuses=[500] * 1000)) as failing:
            assert (await put_callback(sandbox, {"url": failing.url})).status_code == 204
            sandbox.inject({"notifications": [note(1), note(2)]})
            await failing.wait_items(2)
            async with receiver(Receiver()) as good:
                assert (await put_callback(sandbox, {"url": good.url})).status_code == 204
                assert [n["max-age"] for n in await good.wait_items(2)] == [1, 2]

    asyncio.run(main())


# -- generator -------------------------------------------------------------------------------
def test_generator_output_shape() -> None:
    with SandboxThread(rate=2000, devices=3, seed=7) as sb:
        h = {"Authorization": f"Bearer {sb.api_key}"}
        cfg = {"include_uid": True, "include_timestamp": True, "include_original_ep": True}
        assert httpx.put(sb.url + "/v2/notification/websocket", headers=h,
                         json={"serialization": {"cfg": cfg}}).status_code == 201

        async def collect() -> list[tuple[str, Any]]:
            got: list[tuple[str, Any]] = []
            url = sb.url.replace("http", "ws", 1) + "/v2/notification/websocket-connect"
            async with connect(url, subprotocols=[Subprotocol("wss"),
                                                  Subprotocol(f"pelion_{sb.api_key}")],
                               proxy=None, max_size=None) as ws:
                while len(got) < 600:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    got += [(k, item) for k, items in message.items() for item in items]
            return got

        events = asyncio.run(collect())
    registered: set[str] = set()
    cts: set[str] = set()
    for kind, item in events:
        ep = item if isinstance(item, str) else item["ep"]
        if kind == "registrations":
            assert ep not in registered
            assert item["original-ep"].startswith("sandbox-device-")
            assert {r["path"] for r in item["resources"]} >= {"/3303/0/5700", "/3/0"}
            registered.add(ep)
            continue
        assert ep in registered, f"{kind} for {ep} before its registration"
        if kind == "de-registrations":
            registered.discard(ep)
        elif kind == "notifications":
            assert {"ep", "path", "ct", "payload", "max-age", "uid", "timestamp",
                    "original-ep"} <= set(item)
            payload = base64.b64decode(item["payload"])
            cts.add(item["ct"])
            if item["ct"] == "text/plain":
                float(payload)
            elif item["ct"] == "application/json":
                assert "seq" in json.loads(payload)
            elif "tlv" in item["ct"]:
                nodes = tlv.parse(payload)
                assert nodes[0]["value"] == "Sandbox Devices Ltd"
        else:
            assert kind == "reg-updates"
    assert len({item["uid"] for kind, item in events if kind == "notifications"}) == sum(
        1 for kind, _ in events if kind == "notifications")
    assert {"text/plain", "application/json", "application/vnd.oma.lwm2m+tlv",
            "application/octet-stream"} <= cts
    assert len({item["ep"] for kind, item in events if kind == "registrations"}) == 3


# -- CLI -------------------------------------------------------------------------------------
def _start_cli(*args: str, **env: str) -> tuple[subprocess.Popen[str], list[str]]:
    src = Path(__file__).parents[1] / "src"
    path = f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
    full_env = {**os.environ, **env, "PYTHONPATH": path}
    proc = subprocess.Popen([sys.executable, "-m", "notifyctl", "sandbox", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    wait_for(lambda: len(lines) >= 2 or proc.poll() is not None, what="the announcement")
    assert len(lines) >= 2, f"no announcement; exit {proc.poll()}: {lines}"
    return proc, lines


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_cli_announces_and_exits_on_signal(signum: int, code: int) -> None:
    env = {"NOTIFYCTL_SANDBOX_API_KEY": "ak_from_env"} if signum == signal.SIGTERM else {}
    proc, lines = _start_cli("--rate", "5", **env)
    try:
        match = re.search(r"(http://127\.0\.0\.1:(\d+))", lines[0])
        assert match, lines[0]
        url = match.group(1)
        assert f"notifyctl profile add sandbox --provider pelion --api-url {url}" in lines[0]
        key = re.search(r"NOTIFYCTL_API_KEY=(ak_\w+)", lines[1])
        assert key, lines[1]
        if env:
            assert key.group(1) == "ak_from_env"
            other = httpx.get(url + "/v2/notification/channel",
                              headers={"Authorization": "Bearer ak_other"})
            assert other.status_code == 401
        channel = httpx.get(url + "/v2/notification/channel",
                            headers={"Authorization": f"Bearer {key.group(1)}"})
        assert channel.status_code == 404
        proc.send_signal(signum)
        assert proc.wait(15) == code
        assert proc.stdout is not None and proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_rejects_a_malformed_key(cli: Any) -> None:
    result = cli("sandbox", "--api-key", "not-a-key")
    assert result.exit_code == 2
    assert "ak_" in result.stderr
