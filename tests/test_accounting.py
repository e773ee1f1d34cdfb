"""Loss accounting (issue 14): what ``tail`` and ``listen`` received and what they can tell
was lost, per platform as declared (``Platform.unique_ids``, ``Platform.numbering``).

The counting rules are checked on ``notifyctl.accounting`` directly (pure); the whole path runs
against the real sandbox: its Sigfox ``sequence`` fault loses and duplicates messages on their
way to a real ``notifyctl listen`` subprocess, whose ``--summary`` names exactly those numbers,
and ``--summary`` is written when tail or listen end on SIGTERM.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from waiting import Lines, wait_for

from conftest import subprocess_env
from notifyctl.accounting import Accounting
from notifyctl.contract import Numbering
from notifyctl.events import Event

DT = "5a1b2c3d4e5f"


def numbered(*numbers: int, device: str = "CAFE") -> list[Event]:
    return [Event(provider="x", kind="uplink", device=device, raw={"seqNumber": str(n)})
            for n in numbers]


def sigfox_like() -> Accounting:
    return Accounting(unique_ids=False, numbering=Numbering("seqNumber", 4096))


def test_numbers_wrap_at_the_modulus_and_late_messages_are_struck_off() -> None:
    accounting = sigfox_like()
    accounting.add(numbered(4093, 4095, 2, 4094))  # 4094 arrives late; 0 and 1 never
    summary = accounting.summary()
    assert summary["gaps"] == [{"stream": "CAFE", "missing": [0, 1]}]
    assert (summary["duplicates"], summary["resets"]) == (0, 0)


def test_a_jump_back_is_a_reset_not_thousands_missing() -> None:
    accounting = sigfox_like()
    accounting.add(numbered(100, 101, 7, 8))
    summary = accounting.summary()
    assert (summary["gaps"], summary["resets"]) == ([], 1)


def test_repeated_numbers_are_duplicates_per_device() -> None:
    accounting = sigfox_like()
    accounting.add(numbered(1, 2, 2) + numbered(2, device="BEEF"))
    summary = accounting.summary()
    assert summary["duplicates"] == 1
    assert summary["duplicated"] == [{"stream": "CAFE", "sequence": 2}]


def test_what_a_platform_cannot_know_is_null_never_zero() -> None:
    accounting = Accounting(unique_ids=False, numbering=None)
    accounting.add([Event(provider="x", kind="activity", id="a"),
                    Event(provider="x", kind="activity", id="a")])
    summary = accounting.summary()
    assert summary["received"] == 2 and summary["by_kind"] == {"activity": 2}
    assert summary["duplicates"] is None and summary["gaps"] is None
    assert summary["max_age_seconds"] is None and summary["reconnects"] is None
    assert "duplicates not known, gaps not known" in "\n".join(accounting.lines("listen:"))


def test_unique_ids_count_duplicates_and_time_gives_the_age() -> None:
    accounting = Accounting(unique_ids=True, numbering=None)
    events = [Event(provider="x", kind="n", id=i, time="2026-01-01T00:00:00Z") for i in "aba"]
    accounting.add(events, now=1767225600.0 + 90)
    summary = accounting.summary()
    assert (summary["duplicates"], summary["max_age_seconds"]) == (1, 90.0)


# -- against the sandbox --------------------------------------------------------------------
def uplinks(sandbox: Any, device: str, numbers: range) -> None:
    messages = [{"device": device, "time": 1700000000 + n, "data": f"{n:016x}", "seqNumber": n,
                 "deviceTypeId": DT} for n in numbers]
    response = httpx.post(f"{sandbox.url}/_sandbox/sigfox/events", json=messages, timeout=10)
    assert response.status_code == 200, response.text


def start(command: str, *args: str) -> tuple[subprocess.Popen[str], Lines, Lines]:
    proc = subprocess.Popen([sys.executable, "-m", "notifyctl", command, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env())
    return proc, Lines(proc.stdout), Lines(proc.stderr)


def test_lost_and_duplicated_sigfox_messages_are_named_in_the_summary(
        cli: Any, sandbox: Any, sfx: str, tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    proc, out, err = start("listen", "--provider", "sigfox", "-o", "jsonl",
                           "--summary", str(summary_file))
    try:
        [url] = err.wait(1, what="listen's URL")
        made = cli("-p", sfx, "register", url.strip() + "sf", "--device-type", DT)
        assert made.exit_code == 0, made.stderr
        uplinks(sandbox, "CAFE", range(1, 3))
        out.wait(2, what="the two messages before the fault")
        fault = httpx.post(f"{sandbox.url}/_sandbox/faults", timeout=10, json={
            "action": "sequence", "provider": "sigfox", "device": "CAFE",
            "lose": 3, "duplicate": 2})
        assert fault.status_code == 200, fault.text
        uplinks(sandbox, "CAFE", range(3, 13))  # 3-5 lost, 6 and 7 twice
        out.wait(2 + 7 + 2, what="every delivered message")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 143, err.finish()
    summary = json.loads(summary_file.read_text())
    assert summary["gaps"] == [{"stream": "CAFE", "missing": [3, 4, 5]}]
    assert summary["duplicates"] == 2
    assert sorted(d["sequence"] for d in summary["duplicated"]) == [6, 7]
    assert summary["received"] == 11 and summary["answers"] == {"204": 11}
    assert summary["resets"] == 0 and summary["max_age_seconds"] is not None
    assert "missing 3, 4, 5" in "".join(err.finish())


def test_tail_writes_the_summary_on_sigterm(tmp_path: Path) -> None:
    summary_file = tmp_path / "summary.json"
    proc, out, err = start("tail", "--sandbox", "--rate", "50", "-o", "jsonl",
                           "--summary", str(summary_file))
    try:
        out.wait(3, what="three events")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 143, err.finish()
    summary = json.loads(summary_file.read_text())
    shown = len(out.finish())
    assert summary["received"] == shown == sum(summary["by_kind"].values())
    assert summary["reconnects"] == 0 and summary["duplicates"] == 0
    assert summary["gaps"] is None  # Pelion does not number its notifications
    wait_for(lambda: any("max age" in line for line in err.lines), what="the stderr summary")


def test_the_sequence_fault_loses_then_duplicates_then_reorders() -> None:
    import asyncio

    from notifyctl.providers.sigfox.emulator import SigfoxEmulator

    emulator = SigfoxEmulator()
    fault = {"action": "sequence", "device": "CAFE", "lose": 1, "duplicate": 1, "reorder": 1}
    assert asyncio.run(emulator.fault(fault)) == 1
    messages = [{"device": "CAFE", "seqNumber": n} for n in range(1, 6)]
    out = emulator.apply_faults([*messages, {"device": "BEEF", "seqNumber": 9}])
    assert [(m["seqNumber"], m.get("duplicate", False)) for m in out] == [
        (2, False), (2, True), (4, False), (3, False), (5, False), (9, False)]
    assert not emulator.sequence_faults  # used up
    with pytest.raises(ValueError, match="'lose' must be a count"):
        asyncio.run(emulator.fault({**fault, "lose": -1}))


def test_an_unwritable_summary_file_is_refused_before_the_run(run: Any, tmp_path: Path) -> None:
    target = str(tmp_path / "no-such-dir" / "summary.json")
    result = run("listen", "--provider", "sigfox", "--summary", target)
    assert result.exit_code == 2, result.stderr
    assert f"--summary {target}: cannot write the summary" in result.stderr
