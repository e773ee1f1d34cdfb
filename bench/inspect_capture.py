"""``notifyctl inspect`` on a ~1 GB capture: how long it takes to open and how much memory it
holds, beside plain line counts of the same file in the same run.

    .venv/bin/python bench/inspect_capture.py [--mb 1024]

1. writes a capture of ``--mb`` MB in a temporary folder, every platform's fixtures repeated;
2. baselines, each in its own process: ``wc -l`` and a plain Python ``for line in file`` count
   (seconds and peak RSS);
3. the byte-offset index alone (``notifyctl.inspect.index.open_inputs``): seconds and peak RSS;
4. the whole UI headless at 120x40 (Textual's ``run_test``) until the first screen, the status
   bar's span and sparkline included, is drawn: seconds and peak RSS (goal: seconds, < 150 MB).

Ratios are to the Python line count (the same file, warm in the page cache). Numbers are
noisy on a shared 2-core machine; compare the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

PYTHON_COUNT = """
import sys
count = 0
with open(sys.argv[1], "rb") as handle:
    for _line in handle:
        count += 1
print(count)
"""

INDEX = """
import sys
from notifyctl.inspect.index import open_inputs
from notifyctl.replay.inputs import Source
deliveries = open_inputs([Source(sys.argv[1], "capture.jsonl")])
print(len(deliveries))
"""

UI = """
import asyncio, sys
from notifyctl.inspect.app import InspectApp
from notifyctl.inspect.index import open_inputs
from notifyctl.replay.inputs import Source

async def main() -> None:
    app = InspectApp(open_inputs([Source(sys.argv[1], "capture.jsonl")]))
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.settled:
            await pilot.pause(0.05)
        await pilot.press("end", "enter")  # the last row decoded and shown in detail
        await pilot.pause()
        print(app.status_text.replace(chr(10), " | "))
        await pilot.press("q")

asyncio.run(main())
"""


def write_capture(path: Path, megabytes: int) -> int:
    """Every fixture line of every platform, repeated up to ``megabytes``; returns the size."""
    lines = b"".join(sorted(
        fixture.read_bytes().rstrip(b"\n") + b"\n"
        for fixture in (ROOT / "src/notifyctl/providers").glob("*/fixtures/*.jsonl")))
    target = megabytes * 1024 * 1024
    block = lines * max(1, (4 << 20) // len(lines))
    written = 0
    with path.open("wb") as handle:
        while written < target:
            handle.write(block)
            written += len(block)
    return written


def measured(command: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    _pid, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command[:3])} failed: {err[-2000:]}")
    return took, usage.ru_maxrss / 1024, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=1024, help="capture size in MB")
    megabytes = parser.parse_args().mb
    folder = Path(tempfile.mkdtemp(prefix="inspect-bench-"))
    try:
        capture = folder / "capture.jsonl"
        size = write_capture(capture, megabytes)
        print(f"capture: {size / 2**20:,.0f} MB in {capture}")
        runs = {
            "wc -l": ["wc", "-l", str(capture)],
            "python line count": [sys.executable, "-c", PYTHON_COUNT, str(capture)],
            "inspect index": [sys.executable, "-c", INDEX, str(capture)],
            "inspect UI, first screen": [sys.executable, "-c", UI, str(capture)],
        }
        measured(runs["wc -l"])  # the file into the page cache: every run reads it warm
        results = {name: measured(command) for name, command in runs.items()}
        base_s, base_mb, _ = results["python line count"]
        for name, (took, rss, out) in results.items():
            print(f"{name:26} {took:7.2f} s ({took / base_s:5.2f}x python)  "
                  f"peak RSS {rss:6.1f} MB ({rss / base_mb:5.2f}x)   {out.split(chr(10))[-1]}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
