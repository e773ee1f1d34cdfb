"""Where a Pelion replay's CPU goes per 10,000-event batch, stage by stage (best of 3), with no
network: what bounds ``pelion_vs_bare_client`` in ``bench/replay.py`` (docs/decisions.md,
"Replay as a load generator").

    .venv/bin/python bench/replay_stages.py

Stages: reading the capture line (replay's reader), decoding it (the body is a JSON string
inside JSON), encoding the body to bytes, and counting and type-checking its items
(``wire.count``, what replay does to a batch it sends as captured).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from notifyctl.events import capture_lines, parse_capture_line
from notifyctl.providers.pelion import wire
from notifyctl.replay import inputs
from replay import pelion_capture  # the bench's own capture builder


def best_ms(stage: Callable[[], int]) -> float:
    """Best of 3 runs of ``stage`` (which returns how many batches it did), ms per batch."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        batches = stage()
        times.append((time.perf_counter() - started) / batches * 1000)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pelion.jsonl"
        pelion_capture(path, 100 * 1024 * 1024)
        source = inputs.Source(str(path), "pelion.jsonl")

        def read() -> int:
            lines = 0
            for item in inputs.read_inputs([source], fmt="capture"):
                lines += bool(item)
            return lines

        raw_lines = [line for _, line in capture_lines(path.open("rb"), "pelion.jsonl")]
        deliveries = [parse_capture_line(line, "x") for line in raw_lines]
        bodies = [delivery.body_bytes() for delivery in deliveries]

        def read_lines() -> int:
            with path.open("rb") as handle:
                return sum(1 for _ in capture_lines(handle, "pelion.jsonl"))

        def each(stage: Callable[[object], object], inputs_: list[object]) -> Callable[[], int]:
            def run() -> int:
                for value in inputs_:
                    stage(value)  # nothing kept: memory is reused, as when streaming
                return len(inputs_)
            return run

        stages = {
            "read the capture line": read_lines,
            "decode the capture line": each(lambda line: parse_capture_line(line, "x"),
                                            list(raw_lines)),
            "encode the body": each(lambda d: d.body_bytes(), list(deliveries)),
            "count and type-check": each(wire.count, list(bodies)),
            "replay's reader (all three)": read,
        }
        print(f"{len(bodies)} batches of 10,000 events; ms per batch, best of 3")
        for name, stage in stages.items():
            print(f"{name:28} {best_ms(stage):6.2f}")


if __name__ == "__main__":
    main()
