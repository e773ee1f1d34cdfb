"""A closed stdout (``notifyctl ... | head``) ends every command quietly with exit 0: streams
(``tail``, ``listen``), JSON documents, Rich tables and help, whoever sees the broken pipe first
(our code, Click or Rich) — no message, no traceback (DESIGN.md "Exit codes")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import subprocess_env


def spawn(args: list[str], stdout: int, err: Path, **env: str) -> subprocess.Popen[bytes]:
    with err.open("wb") as handle:
        return subprocess.Popen([sys.executable, "-m", "notifyctl", *args], stdout=stdout,
                                stderr=handle, env=subprocess_env(**env))


def assert_quiet_success(proc: subprocess.Popen[bytes], err: Path) -> None:
    code = proc.wait(60)
    stderr = err.read_text()
    assert code == 0, stderr
    assert "Traceback" not in stderr and "error" not in stderr.lower(), stderr
    assert "Exception ignored" not in stderr and "Broken pipe" not in stderr, stderr


def test_tail_into_a_reader_of_one_line_exits_0(tmp_path: Path) -> None:
    """``tail --sandbox -o jsonl | head -1``: tail writes on after the reader has gone."""
    read_end, write_end = os.pipe()
    proc = spawn(["tail", "--sandbox", "-o", "jsonl"], write_end, tmp_path / "err")
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.readline().startswith(b"{")
    assert_quiet_success(proc, tmp_path / "err")


@pytest.mark.parametrize("args", [
    ["replay", "--list-fixtures"],            # a JSON document
    ["profile", "list", "-o", "json"],        # a JSON document, from a config-reading command
    ["profile", "show", "p", "-o", "table"],  # a Rich table (Rich turns EPIPE into exit 1)
    ["--help"],                               # Click's own output
    ["--version"],                            # the fast path, before any command machinery
    ["completion", "bash"],                   # buffered: fails only in the flush at exit
], ids=["fixtures-json", "profile-json", "rich-table", "help", "version", "completion"])
def test_documents_into_a_closed_pipe_exit_0(tmp_path: Path, args: list[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("profiles:\n  p:\n    provider: pelion\n")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written: EPIPE on the first write
    proc = spawn(args, write_end, tmp_path / "err", NOTIFYCTL_CONFIG=str(config))
    os.close(write_end)
    assert_quiet_success(proc, tmp_path / "err")


def test_listen_into_a_closed_pipe_exits_0(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    err = tmp_path / "err"
    proc = spawn(["listen", "--provider", "iottly", "-o", "jsonl", "--timeout", "60"], write_end,
                 err)
    os.close(write_end)
    os.close(read_end)
    deadline = time.monotonic() + 30
    while "\n" not in err.read_text() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    url = err.read_text().splitlines()[0]
    with httpx.Client(timeout=10) as client:
        client.post(url, json={"msg": {"from": "d1", "payload": 1}})
    assert_quiet_success(proc, err)


def test_a_broken_pipe_elsewhere_is_still_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only stdout's reader going away is quiet: an EPIPE from a socket of ours while stdout's
    reader is still there stays an error (exit 1, reported as a bug)."""
    from notifyctl import pipes

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as stdout:
        monkeypatch.setattr(sys, "stdout", stdout)
        epipe = BrokenPipeError(32, "Broken pipe")
        assert not pipes.stdout_closed(epipe)
        os.close(read_end)
        assert pipes.stdout_closed(epipe)
        assert not pipes.stdout_closed(ValueError("not a pipe error"))
        monkeypatch.undo()
