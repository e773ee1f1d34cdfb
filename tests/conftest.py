"""Shared fixtures: an isolated config and keyring per test, and two ways to run the real CLI.

``cli(...)`` runs ``notifyctl.cli.main`` in-process (fast, for behaviour); ``run(...)`` runs
``python -m notifyctl`` as a subprocess (for exit codes, signals and startup imports).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SUPPORT = Path(__file__).parent / "support"
sys.path.insert(0, str(SUPPORT))
KEYRING_BACKEND = "file_keyring.IsolatedKeyring"  # keyrings.alt's file backend, see there
os.environ["PYTHON_KEYRING_BACKEND"] = KEYRING_BACKEND
from sandbox import sandbox, sfx  # noqa: E402, F401

# Scale for timing-sensitive tests on slow or loaded machines.
MS = float(os.environ.get("NOTIFYCTL_TEST_MS", "1.0")) / 1000


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own config folder and keyring file, and no ambient secrets."""
    for name in list(os.environ):
        if name.startswith("NOTIFYCTL_") and name != "NOTIFYCTL_TEST_MS":
            monkeypatch.delenv(name)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))  # where the keyring file goes
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", KEYRING_BACKEND)
    yield tmp_path


@pytest.fixture
def config_file(isolated: Path) -> Path:
    return isolated / "xdg" / "notifyctl" / "config.yaml"


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the CLI in-process: ``cli("profile", "list", input="...")`` -> Result."""
    from notifyctl.cli import main

    def invoke(*args: str, input: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())

    return invoke


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(SUPPORT), str(Path(__file__).parents[1] / "src"), env.get("PYTHONPATH", "")]
    )
    env.update(extra)
    return env


@pytest.fixture
def run():  # type: ignore[no-untyped-def]
    """Run ``python -m notifyctl`` as a subprocess: ``run("--version")`` -> Result."""

    def invoke(*args: str, input: str = "", timeout: float = 60, **env: str) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "notifyctl", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=subprocess_env(**env),
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return invoke
