"""``replay --loop``: a signal stops the run and the report is written wherever the signal
lands, inside a pass or between two (when each pass had its own event loop, a signal between
passes was a bare KeyboardInterrupt: no report, or a loop that never stopped)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from recorder import Recorder
from waiting import wait_for

from conftest import subprocess_env
from notifyctl.events import CaptureWriter, Delivery


def test_a_signal_anywhere_in_a_fast_loop_writes_the_report(tmp_path: Path) -> None:
    capture = tmp_path / "cap.jsonl"
    with CaptureWriter(capture) as writer:  # two tiny deliveries: passes take milliseconds
        for device in ("d1", "d2"):
            body = json.dumps({"msg": {"from": device, "payload": {"t": 1}}}).encode()
            writer.write(Delivery.capture("iottly", "callback", body, method="POST",
                                          path="/in"))
    with Recorder() as rec:
        for attempt in range(8):  # signals at different points of the passes
            report_file = tmp_path / f"report{attempt}.json"
            already = len(rec.requests)
            proc = subprocess.Popen(
                [sys.executable, "-m", "notifyctl", "replay", str(capture), "--to",
                 rec.url + "/hook", "--loop", "0", "--report", str(report_file)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=subprocess_env())
            try:
                wait_for(lambda: len(rec.requests) >= already + 3 + attempt,  # noqa: B023
                         what="a few passes")
                proc.send_signal(signal.SIGINT)
                _out, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
            assert proc.returncode == 130, err
            report = json.loads(report_file.read_text())
            assert report["passes"] and report["stopped"]
            assert sum(p["deliveries"] for p in report["passes"]) == report["deliveries"]
