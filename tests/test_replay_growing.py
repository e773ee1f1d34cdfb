"""replay reads each file as it was when the replay started: a capture that grows while it is
replayed (even by the receiver replay delivers to, ``listen --save`` of the same file) ends with
exactly the deliveries it held, for every provider and every input format."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import subprocess_env
from notifyctl.replay import inputs


def capture_line(provider: str, body: Any, path: str = "/hook",
                 content_type: str = "application/json") -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return json.dumps({"v": 1, "provider": provider, "source": "callback",
                       "at": "2026-11-23T09:00:00.000Z", "method": "POST", "path": path,
                       "headers": {"Content-Type": content_type}, "body": text}) + "\n"


def pelion_batch(i: int) -> dict[str, Any]:
    return {"notifications": [{"ep": f"dev{i}", "path": "/3303/0/5700", "ct": "text/plain",
                               "payload": base64.b64encode(str(i).encode()).decode(),
                               "max-age": 0}]}


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CASES = {
    "generic": ([capture_line("generic", {"n": i}) for i in range(4)],
                ["-c", "1", "--sign", "standard-webhooks", "--sign-key-env", "WH"]),
    "iottly": ([capture_line("iottly", {"from": "d1", "payload": {"t": i}}) for i in range(4)],
               ["-c", "1"]),
    "pelion": ([capture_line("pelion", pelion_batch(i)) for i in range(4)], []),
    "sigfox": ([capture_line("sigfox", f"device=1A2B&time=170000000{i}&data=0{i}&seqNumber={i}",
                             content_type="application/x-www-form-urlencoded")
                for i in range(4)], ["-c", "1"]),
}


@pytest.mark.parametrize("provider", sorted(CASES))
def test_replay_into_a_listen_saving_the_same_file_ends(tmp_path: Path, provider: str) -> None:
    from notifyctl.listen.run import BackgroundListener
    from notifyctl.listen.settings import Settings
    from notifyctl.listen.view import ListSink

    lines, extra = CASES[provider]
    capture = tmp_path / "c.jsonl"
    capture.write_text("".join(lines))
    sink = ListSink()
    settings = Settings(provider=provider, save=str(capture), output="none",
                        verify_key=SECRET if provider == "generic" else None)
    with BackgroundListener(settings, sink) as listener:
        proc = subprocess.Popen(
            [sys.executable, "-m", "notifyctl", "replay", str(capture), "--to",
             listener.url + "/hook", "--provider", provider, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=subprocess_env(WH=SECRET))
        try:
            deadline = time.monotonic() + 60
            # A replay following its own output never ends: stop it once it clearly re-sent
            # what it had delivered.
            while proc.poll() is None and time.monotonic() < deadline \
                    and len(sink.seen) <= 3 * len(lines):
                time.sleep(0.02)
            running = proc.poll() is None
            if running:
                proc.kill()
            _, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert not running, f"replay was still running after {len(sink.seen)} deliveries"
    assert proc.returncode == 0, stderr
    assert len(sink.seen) == len(lines)  # exactly the captured deliveries, once each
    assert len(capture.read_text().splitlines()) == 2 * len(lines)


@pytest.mark.parametrize(("name", "document", "appended"), [
    ("c.jsonl", capture_line("generic", {"n": 0}), capture_line("generic", {"n": 1})),
    ("b.json", '{"n": 0}\n', '{"n": 1}\n'),
    ("s.har", json.dumps({"log": {"entries": [{"request": {
        "method": "POST", "url": "http://h/x", "postData": {"text": '{"n": 0}'}}}]}}) + "\n",
     '{"more": true}\n'),
])
def test_every_format_reads_what_the_file_held_at_the_start(tmp_path: Path, name: str,
                                                            document: str,
                                                            appended: str) -> None:
    path = tmp_path / name
    path.write_text(document)
    items = inputs.read_inputs([str(path)])
    with path.open("a") as more:
        more.write(appended)  # written after the replay started, before anything was read
    assert [json.loads(item.body) for item in items] == [{"n": 0}]


def test_a_line_cut_by_the_start_is_left_to_its_writer(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    whole, next_line = capture_line("generic", {"n": 0}), capture_line("generic", {"n": 1})
    path.write_text(whole + next_line[:20])  # the writer is half-way through line 2
    items = inputs.read_inputs([str(path)])
    with path.open("a") as more:
        more.write(next_line[20:])
    assert [json.loads(item.body) for item in items] == [{"n": 0}]
