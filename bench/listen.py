"""Throughput of ``notifyctl listen`` against a minimal aiohttp app, in the same run.

``wrk`` POSTs one 300-byte Circle-signed event (``X-Logi-Verify``) for S seconds to:
1. a minimal aiohttp app (reads the body, answers 200): the server-stack baseline;
2. ``notifyctl listen --provider circle --verify-key-env K --save FILE -o jsonl > /dev/null``.
Then listen gets SIGTERM and the capture is checked: every line parses as a capture line with
a verified signature, and there are at least as many lines as requests answered 2xx.

Goals (issue 5): >= 5,000 requests/s, >= 0.5x the minimal app, nothing answered 2xx missing.

Usage: ``.venv/bin/python bench/listen.py [--seconds 10] [--connections 32] [--threads 1]``
(wrk from Debian's package; both servers bind 127.0.0.1 port 0).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notifyctl.providers.circle.signing import circle_sign

KEY = "bench-circle-auth-key"
MINIMAL_APP = """
import sys
from aiohttp import web

async def hook(request):
    await request.read()
    return web.Response(status=200)

app = web.Application()
app.router.add_route("*", "/{tail:.*}", hook)

async def main():
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    sys.stderr.write(f"http://127.0.0.1:{port}/\\n")
    sys.stderr.flush()
    import asyncio
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""


def event_body(size: int = 300) -> bytes:
    """A Circle motion event padded (in userData) to exactly ``size`` bytes."""
    base = {
        "accountId": "9385e6f9-70c3-45b2-62e4-ace3d027988a",
        "eventType": "motion_started",
        "eventData": {"accessoryId": "a1b2c3d4-0000-4000-8000-000000000001",
                      "activityId": "act-000001"},
        "userData": {"pad": ""},
    }
    raw = json.dumps(base, separators=(",", ":"))
    base["userData"] = {"pad": "x" * (size - len(raw))}
    body = json.dumps(base, separators=(",", ":")).encode()
    assert len(body) == size, len(body)
    return body


def lua_script(body: bytes, directory: Path) -> Path:
    script = directory / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Logi-Verify"] = "{circle_sign(KEY, body)}"\n'
    )
    return script


def start(cmd: list[str], env: dict[str, str], stdout: int | None = None
          ) -> tuple[subprocess.Popen[bytes], str]:
    """Start a server and read the URL from its first stderr line (bounded to 15 s)."""
    proc = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    deadline = time.monotonic() + 15
    line = proc.stderr.readline().decode().strip()
    if not line.startswith("http://") or time.monotonic() > deadline:
        proc.kill()
        raise SystemExit(f"server did not start: {cmd!r}: {line!r}")
    return proc, line


def wrk(url: str, script: Path, seconds: int, connections: int, threads: int) -> dict[str, float]:
    proc = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True, text=True, timeout=seconds + 30,
    )
    text = proc.stdout
    total = int(re.search(r"(\d+) requests in", text).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    latency = re.search(r"Latency\s+(\S+)", text)
    return {
        "requests": total,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "rate": rate,
        "latency_avg": latency.group(1) if latency else "?",  # type: ignore[dict-item]
    }


def check_capture(path: Path) -> tuple[int, int]:
    """(lines that parse as verified capture lines, lines that do not)."""
    from notifyctl.events import parse_capture_line

    good = bad = 0
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            try:
                parse_capture_line(line, f"{path}:{number}")
                good += json.loads(line).get("verified") is True
            except Exception:
                bad += 1
    return good, bad


def one_round(args: argparse.Namespace, env: dict[str, str], directory: Path,
              script: Path) -> dict[str, object]:
    """The minimal app, then listen, each for ``args.seconds``; listen ends with SIGTERM."""
    capture = directory / "capture.jsonl"
    capture.unlink(missing_ok=True)
    minimal, url = start([sys.executable, "-c", MINIMAL_APP], env)
    try:
        base = wrk(url, script, args.seconds, args.connections, args.threads)
    finally:
        minimal.kill()
        minimal.wait()
    cmd = [sys.executable, "-m", "notifyctl", "listen", "--provider", "circle",
           "--verify-key-env", "BENCH_CIRCLE_KEY", "--save", str(capture), "-o", "jsonl"]
    with open(os.devnull, "wb") as devnull:
        listener, url = start(cmd, env, stdout=devnull.fileno())
        try:
            ours = wrk(url, script, args.seconds, args.connections, args.threads)
        finally:
            listener.send_signal(signal.SIGTERM)
            code = listener.wait(timeout=30)
    good, bad = check_capture(capture)
    answered = int(ours["requests"] - ours["non2xx"])
    return {"base": base, "ours": ours, "good": good, "bad": bad, "answered": answered,
            "code": code, "ratio": ours["rate"] / base["rate"] if base["rate"] else 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate minimal/listen this many times (the machine is shared)")
    args = parser.parse_args()

    src = Path(__file__).resolve().parents[1] / "src"
    env = dict(os.environ, PYTHONPATH=str(src), BENCH_CIRCLE_KEY=KEY)
    print("command: notifyctl listen --provider circle --verify-key-env BENCH_CIRCLE_KEY "
          "--save FILE -o jsonl > /dev/null")
    print(f"load: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s, "
          "one 300-byte Circle-signed event (X-Logi-Verify) per POST")
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        script = lua_script(event_body(), directory)
        for number in range(1, args.rounds + 1):
            r = one_round(args, env, directory, script)
            rounds.append(r)
            base, ours = r["base"], r["ours"]
            assert isinstance(base, dict) and isinstance(ours, dict)
            print(f"round {number}: minimal {base['rate']:8.0f} req/s | listen {ours['rate']:8.0f}"
                  f" req/s (latency {ours['latency_avg']}, non-2xx {ours['non2xx']}, socket "
                  f"errors {ours['socket_errors']}) | ratio {r['ratio']:.2f} | capture "
                  f"{r['good']} verified lines, {r['bad']} bad, answered 2xx {r['answered']} "
                  f"| exit {r['code']}")
    rates = sorted(float(r["ours"]["rate"]) for r in rounds)  # type: ignore[index]
    ratios = sorted(float(r["ratio"]) for r in rounds)  # type: ignore[arg-type]
    rate, ratio = rates[len(rates) // 2], ratios[len(ratios) // 2]
    complete = all(r["bad"] == 0 and int(r["good"]) >= int(r["answered"])  # type: ignore[call-overload]
                   and r["code"] == 143 for r in rounds)
    print(f"median: listen {rate:.0f} req/s (goal >= 5000), ratio {ratio:.2f} (goal >= 0.5), "
          f"capture complete in every round: {complete}")
    ok = rate >= 5000 and ratio >= 0.5 and complete
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
