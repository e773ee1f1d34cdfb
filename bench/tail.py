"""Tail throughput benchmark: 1,000,000 Pelion notifications pushed over one WebSocket.

In one run, against one server process, it measures:

(a) a plain reference client: websockets + json + base64, JSON lines to /dev/null;
(b) ``notifyctl tail -o jsonl > /dev/null`` as a subprocess;
(c) ``notifyctl tail -o table`` as a subprocess drawing to a pty (redrawing 10 times a second).

The server (a separate process, so it has its own core) speaks just enough of the Pelion
protocol: ``PUT /v2/notification/websocket`` (201) and ``/v2/notification/websocket-connect``,
where it sends pre-serialised text frames of 10,000 notifications (with ``uid``, as with
``include_uid``), each event unique. Rates are measured by the server, from the accepted
handshake to the client closing the socket after its last event, so interpreter start-up is
not counted. Peak RSS is the child's ``ru_maxrss``.

Goals (issue 3): (b) >= 1.8x (a) and >= 500,000 events/s; (c) >= 300,000 events/s;
peak RSS < 64 MB. The machine is shared: compare the ratios, and repeat with --runs.

``--accounting`` (issue 14) measures instead, in the same run, ``tail -o jsonl`` without the
accounting (``Accounting.for_platform`` patched to None in the child), as shipped, and with
``--metrics 127.0.0.1:0`` (served; nothing scrapes it, as between two Prometheus scrapes):
the accounting and metrics must cost at most 10%.

``--sandbox`` measures the sandbox's synthetic generator instead, in the same run: ``tail -o
jsonl`` against this benchmark's own server (the ceiling: frames made before the clock starts),
``tail --sandbox --rate R`` (generator, emulator and reader share one process and one core),
and ``notifyctl sandbox --rate R`` as its own process with ``tail`` against it (plus the
highest ``achieved_rate`` its ``/_sandbox/state`` showed meanwhile). Sandbox rates come from
tail's summary line (events over the run, sandbox start-up included); each is printed as a
ratio to the own server's rate.

Run: ``.venv/bin/python bench/tail.py [--events 1000000] [--frame 10000] [--runs 1]
[--sandbox [--rate 1000000]]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "ak_bench_0123456789abcdef"


# -- the server (child process) ------------------------------------------------------------
def build_frames(events: int, frame: int) -> list[str]:
    frames = []
    for start in range(0, events, frame):
        items = []
        for i in range(start, min(events, start + frame)):
            items.append({
                "ep": f"0176798{i % 1000:025x}",
                "path": "/3200/0/5501",
                "ct": "text/plain",
                "payload": base64.b64encode(str(i % 100_000).encode()).decode(),
                "max-age": 0,
                "uid": f"{i:08x}-2311-4ede-aa53-fdaff2b3fad3",
            })
        frames.append(json.dumps({"notifications": items}, separators=(",", ":")))
    return frames


def serve(events: int, frame: int) -> None:
    """Serve until stdin closes; print one JSON line per finished stream connection."""
    from aiohttp import WSMsgType, web

    frames = build_frames(events, frame)
    total_bytes = sum(len(f) for f in frames)

    async def put_channel(request: web.Request) -> web.Response:
        return web.json_response({"queue_size": -1, "status": "unknown"}, status=201)

    async def connect(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(protocols=("wss",), compress=False, max_msg_size=0,
                                   autoping=True)
        await ws.prepare(request)
        started = time.perf_counter()
        for body in frames:
            await ws.send_str(body)
        async for msg in ws:  # until the client closes after its last event
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        seconds = time.perf_counter() - started
        print(json.dumps({"events": events, "seconds": seconds, "bytes": total_bytes}),
              flush=True)
        return ws

    async def main() -> None:
        app = web.Application()
        app.router.add_put("/v2/notification/websocket", put_channel)
        app.router.add_get("/v2/notification/websocket-connect", connect)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(json.dumps({"port": port, "bytes": total_bytes}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await runner.cleanup()

    asyncio.run(main())


# -- the reference client (child process) -----------------------------------------------------
def reference(url: str, events: int) -> None:
    """websockets + json + base64; one JSON line per event, joined and written per frame."""
    from websockets.asyncio.client import connect

    async def main() -> None:
        out = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
        count = 0
        async with connect(url, max_size=None, compression=None,
                           subprotocols=["wss", f"pelion_{API_KEY}"]) as ws:  # type: ignore[list-item]
            while count < events:
                message = json.loads(await ws.recv(decode=False))
                lines = []
                for item in message["notifications"]:
                    payload = base64.b64decode(item["payload"]).decode()
                    lines.append(json.dumps({
                        "provider": "pelion", "kind": "notification", "device": item["ep"],
                        "id": item.get("uid"), "path": item["path"], "payload": payload,
                        "content_type": item["ct"], "raw": item,
                    }))
                out.write("\n".join(lines) + "\n")
                count += len(lines)

    asyncio.run(main())


def without_accounting(args: list[str]) -> int:
    """``notifyctl`` with no accounting at all: the baseline of ``--accounting``."""
    from notifyctl import accounting
    from notifyctl.cli import main as cli_main

    accounting.Accounting.for_platform = classmethod(  # type: ignore[method-assign,assignment]
        lambda cls, platform, **options: None)
    return cli_main(args)


def accounting_cases(tail: list[str], url: str, events: int) -> list[tuple[str, list[str], bool]]:
    common = [url, "-o", "jsonl", "--count", str(events)]
    plain = [sys.executable, __file__, "--without-accounting", *tail[3:]]
    return [
        ("tail -o jsonl, no accounting", [*plain, *common], False),
        ("tail -o jsonl (accounting)", [*tail, *common], False),
        ("tail -o jsonl --metrics", [*tail, *common, "--metrics", "127.0.0.1:0"], False),
    ]


# -- the sandbox's generator (--sandbox) ------------------------------------------------------
SUMMARY = re.compile(r"tail: ([\d,]+) events in ([\d.]+) s")


def summary_rate(label: str, err: str) -> float:
    found = SUMMARY.search(err)
    if found is None:
        raise RuntimeError(f"{label}: no summary line\n{err}")
    return int(found[1].replace(",", "")) / float(found[2])


def tail_sandbox(tail: list[str], env: dict[str, str], events: int, rate: float) -> float:
    args = [*tail[:4], "--sandbox", "--rate", f"{rate:g}", "-o", "jsonl", "--count", str(events)]
    with open(os.devnull, "wb") as devnull:
        code, _, err = run_child(args, devnull.fileno(), env, timeout=300)
    if code != 0:
        raise RuntimeError(f"tail --sandbox: exit {code}\n{err}")
    return summary_rate("tail --sandbox", err)


def sandbox_process(tail: list[str], env: dict[str, str], events: int,
                    rate: float) -> tuple[float, float]:
    """``notifyctl sandbox`` in its own process, ``tail`` against it: (tail's rate, the
    highest achieved_rate the sandbox reported while it ran)."""
    import httpx

    box = subprocess.Popen([sys.executable, "-m", "notifyctl", "sandbox", "--rate", f"{rate:g}",
                            "--api-key", API_KEY], stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert box.stderr is not None
        url = ""
        while not url:
            line = box.stderr.readline()
            if not line:
                raise RuntimeError("notifyctl sandbox exited before announcing its URL")
            found = re.search(r"--api-url (http://[\d.:]+)", line)
            url = found[1] if found else ""
        threading.Thread(target=box.stderr.read, daemon=True).start()  # keep the pipe open
        peak = [0.0]
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.5):
                state = httpx.get(url + "/_sandbox/state", timeout=10).json()
                peak[0] = max(peak[0], state["sandbox"]["achieved_rate"])

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        with open(os.devnull, "wb") as devnull:
            code, _, err = run_child([*tail, url, "-o", "jsonl", "--count", str(events)],
                                     devnull.fileno(), env, timeout=300)
        done.set()
        watcher.join(15)
        if code != 0:
            raise RuntimeError(f"tail against notifyctl sandbox: exit {code}\n{err}")
        return summary_rate("tail against notifyctl sandbox", err), peak[0]
    finally:
        box.terminate()
        box.wait(15)


def sandbox_bench(server: Server, tail: list[str], env: dict[str, str], events: int,
                  rate: float, runs: int) -> None:
    own: list[float] = []
    embedded: list[float] = []
    separate: list[tuple[float, float]] = []
    for run in range(runs):
        own.append(measure(server, "own server", [*tail, server.url, "-o", "jsonl", "--count",
                                                  str(events)], env, False, events)
                   ["events_per_s"])
        embedded.append(tail_sandbox(tail, env, events, rate))
        separate.append(sandbox_process(tail, env, events, rate))
        print(f"  run {run}: own server {own[-1]:,.0f} ev/s; tail --sandbox {embedded[-1]:,.0f}"
              f" ev/s; notifyctl sandbox + tail {separate[-1][0]:,.0f} ev/s (achieved_rate"
              f" up to {separate[-1][1]:,.0f})", flush=True)
    base = max(own)
    best_embedded = max(embedded)
    best_separate, achieved = max(separate)
    print(f"\nsandbox --rate {rate:g}, {events:,} events: tail --sandbox {best_embedded:,.0f} ev/s"
          f" = {best_embedded / base:.2f}x the own server ({base:,.0f} ev/s);"
          f" notifyctl sandbox + tail {best_separate:,.0f} ev/s = {best_separate / base:.2f}x"
          f" (achieved_rate up to {achieved:,.0f} = {achieved / base:.2f}x)")


# -- the driver ----------------------------------------------------------------------------
class Server:
    def __init__(self, events: int, frame: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--events", str(events), "--frame", str(frame)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        hello = json.loads(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{hello['port']}"
        self.bytes = hello["bytes"]

    def result(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the server exited")
        data: dict[str, Any] = json.loads(line)
        return data

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


CHILD_CPU = [0.0]  # CPU seconds of the last child (user + system): steadier than wall time


def wait_rusage(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, int]:
    """Wait for the child (bounded) and return (exit code, peak RSS in KiB)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            CHILD_CPU[0] = usage.ru_utime + usage.ru_stime
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss
        time.sleep(0.01)
    proc.kill()
    raise RuntimeError(f"{proc.args} did not finish within {timeout:g} s")


def run_child(args: list[str], stdout: int, env: dict[str, str], timeout: float,
              ) -> tuple[int, int, str]:
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=stdout, stderr=err, env=env)
        code, rss = wait_rusage(proc, timeout)
        err.seek(0)
        return code, rss, err.read().decode(errors="replace")[-2000:]


def drain(fd: int, redraws: list[int]) -> None:
    """Read the pty until it closes, counting status lines drawn (one per redraw)."""
    tail = b""
    try:
        while chunk := os.read(fd, 65536):
            data = tail + chunk
            redraws[0] += data.count(b" ev/s ")
            tail = data[-8:].replace(b" ev/s ", b"")
    except OSError:
        pass


def measure(server: Server, label: str, args: list[str], env: dict[str, str],
            use_pty: bool, events: int) -> dict[str, Any]:
    redraws = [0]
    if use_pty:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        reader = threading.Thread(target=drain, args=(master, redraws), daemon=True)
        reader.start()
        code, rss, err = run_child(args, slave, env, timeout=300)
        os.close(slave)
        reader.join(5)
        os.close(master)
    else:
        with open(os.devnull, "wb") as devnull:
            code, rss, err = run_child(args, devnull.fileno(), env, timeout=300)
    if code != 0:
        raise RuntimeError(f"{label}: exit {code}\n{err}")
    timing = server.result()
    rate = events / timing["seconds"]
    return {"label": label, "events_per_s": rate, "seconds": timing["seconds"],
            "cpu_s": CHILD_CPU[0],
            "mb_per_s": timing["bytes"] / timing["seconds"] / 1e6, "rss_mb": rss / 1024,
            "redraws": redraws[0]}


def verify(server: Server, args: list[str], env: dict[str, str], events: int) -> None:
    with tempfile.TemporaryFile() as out:
        code, _, err = run_child(args, out.fileno(), env, timeout=300)
        server.result()
        if code != 0:
            raise RuntimeError(f"verify: exit {code}\n{err}")
        out.seek(0)
        # A bitmap, not a set of ids: this process must stay small, since a forked child's
        # ru_maxrss starts from the parent's size.
        seen, lines = bytearray(events), 0
        for line in out:
            seen[int(json.loads(line)["id"][:8], 16)] = 1
            lines += 1
    if lines != events or sum(seen) != events:
        raise RuntimeError(f"verify: {lines} lines, {sum(seen)} distinct ids")
    print(f"verified: {events:,} distinct events written by notifyctl tail -o jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--frame", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reference", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--no-table", action="store_true", help="skip the -o table run")
    parser.add_argument("--table-only", action="store_true",
                        help="only the -o table run (e.g. a long run to watch peak RSS)")
    parser.add_argument("--accounting", action="store_true",
                        help="compare -o jsonl without accounting, with it, and with --metrics")
    parser.add_argument("--without-accounting", nargs=argparse.REMAINDER,
                        help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", action="store_true",
                        help="the sandbox's generator (tail --sandbox, notifyctl sandbox) as"
                             " a ratio to this benchmark's own server")
    parser.add_argument("--rate", type=float, default=1_000_000,
                        help="--sandbox: the generator's --rate (a ceiling)")
    parser.add_argument("--verify", action="store_true",
                        help="first run -o jsonl into a file and check every event came once")
    options = parser.parse_args()
    if options.serve:
        serve(options.events, options.frame)
        return 0
    if options.reference:
        reference(options.reference, options.events)
        return 0
    if options.without_accounting is not None:
        return without_accounting(options.without_accounting)

    events = options.events
    xdg = tempfile.mkdtemp(prefix="notifyctl-bench-")
    env = dict(os.environ, NOTIFYCTL_API_KEY=API_KEY, XDG_CONFIG_HOME=xdg,
               PYTHONPATH=str(ROOT / "src"))
    env.pop("NOTIFYCTL_PROFILE", None)
    tail = [sys.executable, "-m", "notifyctl", "tail", "--provider", "pelion", "--api-url"]
    server = Server(events, options.frame)
    ws_url = server.url.replace("http://", "ws://") + "/v2/notification/websocket-connect"
    print(f"{events:,} events in frames of {options.frame:,}"
          f" ({server.bytes / events:.0f} B/event); server {server.url}")
    results: list[dict[str, Any]] = []
    if options.sandbox:
        try:
            sandbox_bench(server, tail, env, events, options.rate, options.runs)
        finally:
            server.close()
        return 0
    try:
        if options.verify:
            verify(server, [*tail, server.url, "-o", "jsonl", "--count", str(events)], env,
                   events)
        for run in range(options.runs):
            cases = [
                ("reference (json+base64)", [sys.executable, __file__, "--reference", ws_url,
                                             "--events", str(events)], False),
                ("notifyctl tail -o jsonl", [*tail, server.url, "-o", "jsonl", "--count",
                                             str(events)], False),
            ]
            if options.table_only:
                cases = []
            if options.accounting:  # rotated, so no case always runs first on a busy machine
                cases = accounting_cases(tail, server.url, events)
                cases = cases[run % 3:] + cases[:run % 3]
            elif not options.no_table:
                cases.append(("notifyctl tail -o table (pty)",
                              [*tail, server.url, "-o", "table", "--count", str(events)], True))
            for label, args, use_pty in cases:
                result = measure(server, label, args, env, use_pty, events)
                result["run"] = run
                results.append(result)
                print(f"  run {run}: {label:<32} {result['events_per_s']:>11,.0f} ev/s"
                      f"  {result['mb_per_s']:6.0f} MB/s  peak RSS {result['rss_mb']:5.1f} MB"
                      + f"  CPU {result['cpu_s']:.2f} s"
                      + (f"  {result['redraws']} redraws in {result['seconds']:.1f} s"
                         if use_pty else ""), flush=True)
    finally:
        server.close()

    def best(label: str) -> dict[str, Any]:
        return max((r for r in results if r["label"] == label), key=lambda r: r["events_per_s"])

    if options.accounting:
        import statistics

        def median(label: str) -> float:
            return statistics.median(r["events_per_s"] for r in results if r["label"] == label)

        def cpu(label: str) -> float:
            return min(r["cpu_s"] for r in results if r["label"] == label)

        base = best("tail -o jsonl, no accounting")["events_per_s"]
        middle = median("tail -o jsonl, no accounting")
        plain_cpu = cpu("tail -o jsonl, no accounting")
        for label in ("tail -o jsonl (accounting)", "tail -o jsonl --metrics"):
            rate = best(label)["events_per_s"]
            print(f"{label}: best {rate:,.0f} ev/s, {(1 - rate / base) * 100:+.1f}% cost vs"
                  f" {base:,.0f} without accounting; median {median(label):,.0f} ev/s,"
                  f" {(1 - median(label) / middle) * 100:+.1f}% vs {middle:,.0f}; least CPU"
                  f" {cpu(label):.2f} s, {(cpu(label) / plain_cpu - 1) * 100:+.1f}% vs"
                  f" {plain_cpu:.2f} s (goal <= 10%)")
        return 0
    if options.table_only:
        table = best("notifyctl tail -o table (pty)")
        print(f"table: {table['events_per_s']:,.0f} ev/s, peak RSS {table['rss_mb']:.1f} MB")
        return 0
    ref = best("reference (json+base64)")
    jsonl = best("notifyctl tail -o jsonl")
    ratio = jsonl["events_per_s"] / ref["events_per_s"]
    print(f"\njsonl / reference: {ratio:.2f}x (goal >= 1.8x);"
          f" jsonl {jsonl['events_per_s']:,.0f} ev/s (goal >= 500,000)")
    peak = max(r["rss_mb"] for r in results if r["label"].startswith("notifyctl"))
    if not options.no_table:
        table = best("notifyctl tail -o table (pty)")
        print(f"table: {table['events_per_s']:,.0f} ev/s (goal >= 300,000),"
              f" {table['events_per_s'] / ref['events_per_s']:.2f}x reference")
    print(f"notifyctl peak RSS: {peak:.1f} MB (goal < 64 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
