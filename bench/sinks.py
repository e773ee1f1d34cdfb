"""Sink throughput: ``tail -o jsonl`` against ``tail -o jsonl --sink URL`` to each local broker
(mosquitto, nats-server with JetStream, redis-server), in one run against one stream server.

The stream is bench/tail.py's: a separate process speaking just enough of the Pelion protocol,
sending pre-serialised frames of 10,000 notifications (with ``uid``, as tail's ``include_uid``
asks) as fast as the client reads. The brokers are Debian's binaries on free ports
(tests/support/brokers.py; Redis as shipped, without an append-only file), one process each.

A rate is events / (tail's exit - the stream's handshake): draining the sink's buffer and
waiting for the last acks is counted, interpreter start-up is not. Each sink run is checked:
the JetStream stream and the Redis streams hold every event (MQTT has no subscriber here, so
the broker acks and drops). The machine is shared: compare within a run, repeat with --runs.

Goal (issue 15): >= 50,000 events/s per sink.

Run: ``.venv/bin/python bench/sinks.py [--events 200000] [--runs 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests" / "support")]
from tail import API_KEY, build_frames  # noqa: E402 - bench/tail.py's stream


def serve(events: int, frame: int) -> None:
    """Serve frames to each connection; print its handshake's wall time, then serve again."""
    from aiohttp import WSMsgType, web

    frames = build_frames(events, frame)

    async def put_channel(request: web.Request) -> web.Response:
        return web.json_response({"queue_size": -1, "status": "unknown"}, status=201)

    async def connect(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("wss",), compress=False, max_msg_size=0)
        await ws.prepare(request)
        print(json.dumps({"started": time.time()}), flush=True)
        for body in frames:
            await ws.send_str(body)
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_put("/v2/notification/websocket", put_channel)
        app.router.add_get("/v2/notification/websocket-connect", connect)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


def stored(scheme: str, port: int) -> int | None:
    """Messages the broker holds (None for MQTT, which keeps none without a subscriber)."""
    from sink_readers import nats_messages

    if scheme == "nats":
        return len(nats_messages(port))
    if scheme == "redis":
        import redis

        client = redis.Redis(port=port)
        try:
            return sum(int(client.xlen(key)) for key in client.keys("*"))
        finally:
            client.close()
    return None


def run_tail(server: subprocess.Popen[str], url: str, events: int, env: dict[str, str],
             sink: str | None) -> float:
    args = [sys.executable, "-m", "notifyctl", "tail", "--provider", "pelion", "--api-url", url,
            "-o", "jsonl", "--count", str(events)]
    if sink:
        args += ["--sink", sink]
    with open(os.devnull, "wb") as devnull, tempfile.TemporaryFile() as err:
        code = subprocess.run(args, stdout=devnull, stderr=err, env=env, timeout=600).returncode
        ended = time.time()
        if code != 0:
            err.seek(0)
            raise RuntimeError(f"{args}: exit {code}\n{err.read().decode()[-2000:]}")
    assert server.stdout is not None
    started = json.loads(server.stdout.readline())["started"]
    return events / (ended - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--frame", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.events, options.frame)
        return 0

    import brokers

    events = options.events
    work = Path(tempfile.mkdtemp(prefix="notifyctl-bench-sinks-"))
    env = dict(os.environ, NOTIFYCTL_API_KEY=API_KEY, XDG_CONFIG_HOME=str(work / "xdg"),
               PYTHONPATH=str(ROOT / "src"))
    env.pop("NOTIFYCTL_PROFILE", None)
    server = subprocess.Popen([sys.executable, __file__, "--serve", "--events", str(events),
                               "--frame", str(options.frame)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    url = f"http://127.0.0.1:{json.loads(server.stdout.readline())['port']}"
    results: dict[str, list[float]] = {}
    print(f"{events:,} events in frames of {options.frame:,}; stream server {url}")
    try:
        for run in range(options.runs):
            rate = run_tail(server, url, events, env, None)
            results.setdefault("tail -o jsonl", []).append(rate)
            print(f"  run {run}: {'tail -o jsonl':<28} {rate:>10,.0f} ev/s", flush=True)
            for make, rest in ((brokers.mosquitto, "iot/{provider}/{device}"),
                               (brokers.nats, "iot.{provider}.{kind}"),
                               (brokers.redis, "0?stream=iot:{provider}")):
                folder = Path(tempfile.mkdtemp(dir=work))
                broker = make(folder) if make is not brokers.redis else make(folder, durable=False)
                broker.start()
                try:
                    rate = run_tail(server, url, events, env, broker.url(rest))
                    held = stored(broker.scheme, broker.port)
                finally:
                    broker.kill()
                if held is not None and held != events:
                    raise RuntimeError(f"{broker.scheme}: {held} of {events} events stored")
                label = f"tail --sink {broker.scheme}://"
                results.setdefault(label, []).append(rate)
                check = "" if held is None else f"  ({held:,} stored)"
                print(f"  run {run}: {label:<28} {rate:>10,.0f} ev/s{check}", flush=True)
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
    print("\nbest of runs (goal >= 50,000 ev/s per sink):")
    for label, rates in results.items():
        print(f"  {label:<28} {max(rates):>10,.0f} ev/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
