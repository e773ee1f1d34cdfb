"""What ``--where`` costs per event: the jq bindings (chosen) against JMESPath, 100k events.

Both get the same 100,000 ``events.Event``s and an equivalent expression
(jq ``.kind == "notification" and (.device | startswith("0176"))``, JMESPath
``kind == 'notification' && starts_with(device, '0176')``), each the way notifyctl would hand
it over: jq the msgspec-encoded event line as text (what ``notifyctl.where`` does), JMESPath
the line decoded to a dict (it takes Python values only). A third of the events have no device
(a jq error for ``startswith``, which ``notifyctl.where`` counts as no match).

Usage: ``.venv/bin/pip install jmespath && .venv/bin/python bench/where.py [--events N]``.
Prints compile time and microseconds per event (best of 3) for each.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from typing import Any

import msgspec

from notifyctl.events import Event
from notifyctl.where import compile_where


def events(count: int) -> list[Event]:
    return [Event(provider="pelion", kind="notification" if i % 3 else "registration",
                  device=None if i % 3 == 1 else f"{'0176' if i % 2 else '0999'}{i:06d}",
                  time="2026-01-01T00:00:00Z", id=str(i), path="/3303/0/5700",
                  payload="21.5", raw=msgspec.Raw(b'{"ep":"x","v":1}'))
            for i in range(count)]


def best(run: Callable[[], int], repeat: int = 3) -> tuple[float, int]:
    times, kept = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        kept = run()
        times.append(time.perf_counter() - start)
    return min(times), kept


def jq_case(evs: list[Event]) -> tuple[float, float, int]:
    start = time.perf_counter()
    matches = compile_where('.kind == "notification" and (.device | startswith("0176"))')
    compiled = time.perf_counter() - start
    took, kept = best(lambda: sum(1 for e in evs if matches(e)))
    return compiled, took, kept


def jmespath_case(evs: list[Event]) -> tuple[float, float, int]:
    import jmespath

    encode, decode = msgspec.json.Encoder().encode, msgspec.json.decode
    start = time.perf_counter()
    query: Any = jmespath.compile("kind == 'notification' && starts_with(device, '0176')")
    compiled = time.perf_counter() - start

    def run() -> int:
        kept = 0
        for e in evs:
            with contextlib.suppress(jmespath.exceptions.JMESPathError):
                kept += query.search(decode(encode(e))) is True
        return kept

    took, kept = best(run)
    return compiled, took, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    count = parser.parse_args().events
    evs = events(count)
    for name, case in (("jq", jq_case), ("jmespath", jmespath_case)):
        compiled, took, kept = case(evs)
        print(f"{name:9} compile {compiled * 1e3:6.2f} ms   {took / count * 1e6:5.2f} us/event"
              f"   {count / took:9,.0f} events/s   kept {kept}")


if __name__ == "__main__":
    main()
