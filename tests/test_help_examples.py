"""Every example of ``notifyctl sandbox --help`` and ``notifyctl iottly exec --help`` runs, as
written, against a real sandbox (``8099`` becomes the port actually used), so documented
examples cannot rot. Each runs in ``bash`` with this checkout's ``notifyctl`` first on PATH; a
``|| fallback`` is cut off, since the command itself must succeed."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import subprocess_env

DOC_PORT = "8099"
COMMANDS = ("notifyctl ", "NOTIFYCTL_", "curl ")


def examples(cli: Any, *command: str) -> list[str]:
    """The example lines of a command's --help (continuation lines joined)."""
    shown = cli(*command, "--help")
    assert shown.exit_code == 0, shown.stderr
    lines: list[str] = []
    block = False
    for raw in shown.stdout.splitlines():
        text = raw.strip()
        if text.startswith("Example"):
            block = True
        elif block and not text:
            break
        elif block and lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + " " + text
        elif block and text.startswith(COMMANDS):
            lines.append(text)
    assert lines, f"no examples in {' '.join(command)} --help"
    return lines


def shell_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = subprocess_env(**extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CONFIG_HOME"] = str(tmp / "xdg")
    return env


def run_example(line: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = line.split(" || ", maxsplit=1)[0]
    done = subprocess.run(["bash", "-c", "set -o pipefail; " + command], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "error:" not in done.stderr, (line, done.stderr)
    return done


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples use curl")
def test_every_sandbox_help_example_works(cli: Any, tmp_path: Path) -> None:
    lines = examples(cli, "sandbox")
    port = free_port()
    env = shell_env(tmp_path)
    server, *rest = (line.replace(DOC_PORT, port) for line in lines)
    assert server.startswith("notifyctl sandbox ") and server.endswith(" &")
    proc = subprocess.Popen(["bash", "-c", "exec " + server.removesuffix(" &")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, "sandbox did not start"
            try:
                httpx.get(f"http://127.0.0.1:{port}/_sandbox/state", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        outputs = [run_example(line, env) for line in rest]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    tailed = next(out for line, out in zip(rest, outputs, strict=True) if " tail " in line)
    assert len(tailed.stdout.splitlines()) == 20


def test_every_iottly_exec_help_example_works(cli: Any, sandbox: Any, tmp_path: Path) -> None:
    env = shell_env(tmp_path, NOTIFYCTL_API_KEY="iot-help-examples")
    added = subprocess.run(["notifyctl", "profile", "add", "iot", "--provider", "iottly",
                            "--api-url", f"{sandbox.url}/v1.0"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    outputs = {line: run_example(line, env) for line in examples(cli, "iottly", "exec")}
    tails = [out for line, out in outputs.items() if "-- tail -n 50" in line]
    assert tails and len(tails[0].stdout.splitlines()) == 50
