"""replay throughput and memory, against a minimal local endpoint, beside a baseline client in
the same run.

    .venv/bin/python bench/replay.py [--quick] [--runs N]

1. a raw asyncio HTTP/1.1 responder (its own process: one core) answers 204 to everything;
2. circle, signed, one POST per event (``notifyctl replay -c 16`` as a subprocess) against
   ``hey -c 16`` POSTing one such body (``apt-get install hey``): requests/s and the ratio
   ``circle_vs_hey`` (goals: >= 8,000 req/s and >= 0.4x hey);
3. pelion, 10,000-event batches sent as captured (one in flight) against a bare aiohttp client
   PUTting the same captured bodies from memory, one in flight, in its own process: events/s
   and the ratio ``pelion_vs_bare_client`` (goals: >= 1,000,000 events/s and >= 0.6x);
4. peak RSS replaying a 1 GB pelion capture (goal < 80 MB, flat).

Each baseline runs right before its subject, ``--runs`` times (default 3), so both see the
same load; every figure is printed as median [min - max] over the runs, and the ratios are
taken run by run. Numbers are noisy on a shared 2-core machine: the ratios are the figures to
compare.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NOTIFYCTL_BENCH_KEY": "bench-key"}

RESPONDER = r'''
import asyncio, sys

class Responder(asyncio.Protocol):
    def connection_made(self, transport):
        self.t = transport; self.buf = b""; self.need = -1
    def data_received(self, data):
        buf = self.buf + data
        while True:
            if self.need < 0:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[:end].lower()
                i = head.find(b"content-length:")
                stop = head.find(b"\r\n", i)
                length = int(head[i + 15:stop if stop > 0 else None]) if i >= 0 else 0
                buf = buf[end + 4:]
                self.need = length
            if len(buf) < self.need:
                break
            buf = buf[self.need:]
            self.need = -1
            self.t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        self.buf = buf

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Responder, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    print("ready", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_responder() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", RESPONDER, str(port)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}/hook"


def hey(url: str, requests: int, concurrency: int, body: str) -> float:
    if not shutil.which("hey"):
        return float("nan")
    out = subprocess.run(
        ["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST",
         "-T", "application/json", "-d", body, url],
        capture_output=True, text=True, timeout=300,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else float("nan")


BARE_CLIENT = r'''
import asyncio, json, sys, time
import aiohttp

async def main(path, url):
    bodies = [json.loads(line)["body"].encode() for line in open(path, "rb") if line.strip()]
    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        for body in bodies:
            async with session.put(url, data=body,
                                   headers={"Content-Type": "application/json"}) as answer:
                await answer.read()
                assert answer.status == 204, answer.status
        print(len(bodies) / (time.perf_counter() - started))

asyncio.run(main(sys.argv[1], sys.argv[2]))
'''


def bare_client(capture: Path, url: str, events_per_body: int) -> float:
    """Events/s of a bare aiohttp client PUTting the capture's bodies from memory, one in
    flight (Pelion's rule), timed from the first PUT to the last answer."""
    out = subprocess.run([sys.executable, "-c", BARE_CLIENT, str(capture), url],
                         capture_output=True, text=True, timeout=600, env=ENV)
    if out.returncode != 0:
        raise SystemExit(f"bare client failed: {out.stderr.strip()}")
    return float(out.stdout) * events_per_body


def circle_capture(path: Path, n: int) -> str:
    body = {"accountId": "9385e6f9-70c3-45b2-62e4-ace3d027988a", "eventType": "motion_started",
            "eventData": {"accessoryId": "a1b2c3d4-0000-4e5f-8a9b-0c1d2e3f4a5b", "n": 0}}
    with path.open("w") as out:
        for i in range(n):
            body["eventData"]["n"] = i  # type: ignore[index]
            out.write(json.dumps({"v": 1, "provider": "circle", "source": "callback",
                                  "at": "2026-11-23T09:00:00.000Z", "method": "POST",
                                  "path": "/c", "headers": {}, "body": json.dumps(body)}) + "\n")
    return json.dumps(body)


def pelion_line(batch: int, size: int = 10_000) -> str:
    items = [{"ep": f"0176798{batch:05d}{i:020d}", "path": "/3303/0/5700", "ct": "text/plain",
              "payload": base64.b64encode(f"{20 + i % 50 / 10:.1f}".encode()).decode(),
              "max-age": 0, "timestamp": 1795424400000 + i} for i in range(size)]
    body = json.dumps({"notifications": items}, separators=(",", ":"))
    return json.dumps({"v": 1, "provider": "pelion", "source": "callback",
                       "at": "2026-11-23T09:00:00.000Z", "method": "PUT", "path": "/p",
                       "headers": {}, "body": body}) + "\n"


def pelion_capture(path: Path, target_bytes: int) -> int:
    lines = [pelion_line(b) for b in range(4)]
    written = batches = 0
    with path.open("w") as out:
        while written < target_bytes:
            line = lines[batches % len(lines)]
            out.write(line)
            written += len(line)
            batches += 1
    return batches * 10_000


def replay(args: list[str], timeout: float = 600) -> tuple[dict[str, object], float, float]:
    """Run notifyctl replay; returns (report, wall seconds, peak RSS MB sampled from /proc)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "notifyctl", "-q", "replay", *args,
                                 "--report", report.name], env=ENV)
        peak = 0.0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None and time.monotonic() - started < timeout:
            try:
                text = status.read_text()
                match = re.search(r"VmHWM:\s+(\d+) kB", text)
                if match:
                    peak = max(peak, int(match.group(1)) / 1024)
            except OSError:
                pass
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        wall = time.monotonic() - started
        data = json.loads(Path(report.name).read_text() or "{}")
    return data, wall, peak


def median(values: list[float]) -> float:
    ordered, half = sorted(values), len(values) // 2
    return ordered[half] if len(values) % 2 else (ordered[half - 1] + ordered[half]) / 2


def spread(values: list[float]) -> str:
    """``median [min - max]``."""
    return f"{median(values):14,.2f}  [{min(values):,.2f} - {max(values):,.2f}]"


def circle_runs(tmp: Path, url: str, n_circle: int, runs: int,
                results: dict[str, list[float]]) -> None:
    cap = tmp / "circle.jsonl"
    body = circle_capture(cap, n_circle)
    for _ in range(runs):
        hey_rps = hey(url, n_circle, 16, body)
        report, _wall, _ = replay([str(cap), "--provider", "circle", "--sign-key-env",
                                   "NOTIFYCTL_BENCH_KEY", "--to", url, "-c", "16"])
        assert report.get("accepted") == n_circle, report
        rps = float(report["deliveries_per_s"])  # type: ignore[arg-type]
        results["hey_rps"].append(hey_rps)
        results["circle_rps"].append(rps)
        results["circle_vs_hey"].append(rps / hey_rps)


def pelion_runs(tmp: Path, url: str, runs: int, results: dict[str, list[float]]) -> None:
    pcap = tmp / "pelion.jsonl"
    events = pelion_capture(pcap, 150 * 1024 * 1024)
    for _ in range(runs):
        bare = bare_client(pcap, url, 10_000)
        report, _wall, peak = replay([str(pcap), "--provider", "pelion", "--to", url])
        assert report.get("events_accepted") == events, report
        eps = float(report["events_per_s"])  # type: ignore[arg-type]
        results["bare_client_events_per_s"].append(bare)
        results["pelion_events_per_s"].append(eps)
        results["pelion_vs_bare_client"].append(eps / bare)
        results["pelion_rss_150MB"].append(peak)
    pcap.unlink()


GOALS = {"circle_rps": 8000, "circle_vs_hey": 0.4, "pelion_events_per_s": 1_000_000,
         "pelion_vs_bare_client": 0.6}


def main() -> None:
    quick = "--quick" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    n_circle = 20_000 if quick else 60_000
    gigabyte = (200 if quick else 1024) * 1024 * 1024
    if not shutil.which("hey"):
        raise SystemExit("hey is not installed (apt-get install hey): circle_vs_hey needs it")
    responder, url = start_responder()
    results: dict[str, list[float]] = defaultdict(list)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            circle_runs(Path(tmp), url, n_circle, runs, results)
            pelion_runs(Path(tmp), url, runs, results)
            big = Path(tmp) / "big.jsonl"
            events = pelion_capture(big, gigabyte)
            report, _wall, peak = replay([str(big), "--provider", "pelion", "--to", url])
            assert report.get("events_accepted") == events, report
            results["pelion_big_events_per_s"].append(
                float(report["events_per_s"]))  # type: ignore[arg-type]
            results[f"pelion_rss_{gigabyte >> 20}MB"].append(peak)
    finally:
        responder.kill()
    print(f"{runs} run(s), each baseline right before its subject; median [min - max]")
    for name, values in results.items():
        goal = GOALS.get(name)
        mark = "" if goal is None else (f"  ok (goal {goal:,})" if median(values) >= goal
                                        else f"  BELOW goal {goal:,}")
        print(f"{name:26} {spread(values)}{mark}")
    big_rss = max(results[f"pelion_rss_{gigabyte >> 20}MB"])
    small_rss = max(results["pelion_rss_150MB"])
    print(f"{'rss goal (< 80 MB, flat)':26} {'ok' if big_rss < 80 else 'ABOVE'}"
          f" (150 MB: {small_rss:.1f} MB, {gigabyte >> 20} MB: {big_rss:.1f} MB)")


if __name__ == "__main__":
    asyncio.set_event_loop_policy(None)
    main()
