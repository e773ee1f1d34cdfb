"""Micro-benchmark of the Pelion wire decoder: one 10,000-item notifications frame, in memory.

Measures, in the same run (the machine is shared, so the ratio is the meaningful figure):
- ``wire.decode`` alone and ``wire.decode`` + ``wire.encode_jsonl`` (what ``tail -o jsonl`` does
  per frame, minus the socket and the write);
- a stdlib reference: ``json.loads`` + ``base64.b64decode`` + ``json.dumps`` per event.

Usage: ``.venv/bin/python bench/decode.py [--items N] [--repeat R] [--seconds S]``. Each variant
runs R times (bounded also by S seconds) and the best run is reported.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from collections.abc import Callable
from typing import Any

from notifyctl.providers.pelion import wire


def frame(count: int) -> bytes:
    """A NotificationMessage like a busy channel with include_uid/include_timestamp on."""
    items = [
        {
            "ep": f"01767982c92500000000000100{i % 1000:06x}",
            "path": "/3200/0/5501",
            "ct": "text/plain",
            "payload": "NDA2",
            "max-age": 0,
            "uid": f"0d8e08c3-2311-4ede-aa53-{i:012x}",
            "timestamp": 1614180566644 + i,  # a distinct millisecond each: the worst case
            "original-ep": f"device-{i % 1000}",
        }
        for i in range(count)
    ]
    return json.dumps({"notifications": items}, separators=(",", ":")).encode()


def reference(body: bytes) -> bytes:
    """The plain client: stdlib json + base64, one JSON line per event."""
    lines = []
    for item in json.loads(body)["notifications"]:
        payload = base64.b64decode(item["payload"]).decode()
        event = {
            "provider": "pelion",
            "kind": "notification",
            "device": item["ep"],
            "id": item.get("uid"),
            "path": item["path"],
            "payload": payload,
            "content_type": item.get("ct"),
            "raw": item,
        }
        lines.append(json.dumps(event, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def best(run: Callable[[], Any], repeat: int, seconds: float) -> float:
    """Best wall time of up to ``repeat`` runs, stopping early after ``seconds``."""
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
        if time.perf_counter() > deadline:
            break
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    body = frame(args.items)
    events = wire.decode(body)
    assert len(events) == args.items and events[0].payload == "406"

    decode = best(lambda: wire.decode(body), args.repeat, args.seconds)
    both = best(lambda: wire.encode_jsonl(wire.decode(body)), args.repeat, args.seconds)
    ref = best(lambda: reference(body), args.repeat, args.seconds)
    rate = {name: args.items / t for name, t in
            (("decode", decode), ("decode+encode_jsonl", both), ("stdlib reference", ref))}
    print(f"frame: {args.items} items, {len(body) / 1e6:.2f} MB; best of {args.repeat}")
    for name, value in rate.items():
        print(f"{name:>22}: {value / 1e3:8.0f} k events/s")
    print(f"{'ratio':>22}: {rate['decode+encode_jsonl'] / rate['stdlib reference']:.2f}x "
          "(decode+encode_jsonl / stdlib reference)")


if __name__ == "__main__":
    main()
