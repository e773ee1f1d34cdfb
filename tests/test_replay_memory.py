"""replay runs in constant memory: a subprocess replaying a 200 MB capture peaks no higher than
one replaying 20 MB (the 1 GB measurement is in bench/replay.py)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import subprocess_env
from test_replay import receiver

__all__ = ["receiver"]


def pelion_capture(path: Path, megabytes: int) -> tuple[int, int]:
    """A capture of batches of 5,000 events: (lines, events)."""
    items = [{"ep": f"dev{i:028d}", "path": "/3303/0/5700", "ct": "text/plain",
              "payload": base64.b64encode(str(i).encode()).decode(), "max-age": 0}
             for i in range(5000)]
    body = json.dumps({"notifications": items}, separators=(",", ":"))
    line = json.dumps({"v": 1, "provider": "pelion", "source": "callback",
                       "at": "2026-11-23T09:00:00.000Z", "body": body}) + "\n"
    lines = max(1, megabytes * 1024 * 1024 // len(line))
    with path.open("w") as out:
        for _ in range(lines):
            out.write(line)
    return lines, lines * len(items)


def peak_rss_mb(args: list[str], timeout: float = 60) -> tuple[int, float]:
    proc = subprocess.Popen([sys.executable, "-m", "notifyctl", "-q", "replay", *args],
                            env=subprocess_env(), stderr=subprocess.PIPE)
    status = Path(f"/proc/{proc.pid}/status")
    peak, deadline = 0.0, time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            found = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
            peak = max(peak, int(found.group(1)) / 1024) if found else peak
        except OSError:
            pass
        time.sleep(0.02)
    if proc.poll() is None:
        proc.kill()
        pytest.fail("replay did not finish in time")
    assert proc.stderr is not None
    return proc.wait(), peak


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_memory_stays_flat_on_a_large_capture(tmp_path, receiver):
    server = receiver(record=False)
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small_lines, _ = pelion_capture(small, 20)
    large_lines, large_events = pelion_capture(large, 200)
    code, small_peak = peak_rss_mb([str(small), "--to", server.url])
    assert code == 0
    sent_small = server.count
    assert sent_small == small_lines  # each captured batch as captured
    code, large_peak = peak_rss_mb([str(large), "--to", server.url, "--batch-size", "10000"])
    assert code == 0
    # Every event arrived, re-chunked into full batches of 10,000.
    assert server.count - sent_small == -(-large_events // 10_000)
    assert large_lines > 1
    assert large_peak < 100, large_peak
    assert large_peak - small_peak < 15, (small_peak, large_peak)
