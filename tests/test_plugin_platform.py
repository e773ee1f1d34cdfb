"""A sixth platform as a third party would ship it: its own distribution, built and installed
into a folder of this test, found through the ``notifyctl.providers`` entry point, and driven
through every command with no edit to notifyctl.

The platform is ``tests/support/plugin_acme`` (Acme: hooks API, WebSocket stream, token-checked
callbacks, delivery rules, sandbox emulator, a fixture), plus a second, minimal platform in the
same distribution (``acmelite``: a receiver only) for the commands it cannot serve.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sandbox import SandboxThread
from waiting import wait_for

from conftest import SUPPORT, Result, subprocess_env

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "notifyctl-acme"
version = "1.0.0"
dependencies = ["notifyctl"]

[project.entry-points."notifyctl.providers"]
acme = "notifyctl_acme:PLATFORM"
acmelite = "notifyctl_acme.lite:PLATFORM"

[tool.setuptools.packages.find]
include = ["notifyctl_acme*"]

[tool.setuptools.package-data]
notifyctl_acme = ["fixtures/*"]
"""

LITE = '''"""Acme Lite: a platform with a receiver and nothing else."""

from notifyctl.contract import Platform

PLATFORM = Platform(
    name="acmelite",
    title="Acme Lite (a receiver only)",
    default_api_url="https://lite.acme.invalid",
    receiver="notifyctl_acme.receive:make",
)
'''


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Acme distribution written to a folder, built and installed into another one."""
    source = tmp_path_factory.mktemp("acme-src")
    shutil.copytree(SUPPORT / "plugin_acme" / "notifyctl_acme", source / "notifyctl_acme")
    (source / "notifyctl_acme" / "lite.py").write_text(LITE)
    (source / "pyproject.toml").write_text(PYPROJECT)
    site = tmp_path_factory.mktemp("acme-site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert list(site.glob("notifyctl_acme-1.0.0.dist-info/entry_points.txt"))
    return site


@pytest.fixture
def acme(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin importable in this process (and in subprocesses through PYTHONPATH), with the
    registry read afresh."""
    from notifyctl import registry

    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(plugin_site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "acme-key")
    registry.platforms.cache_clear()
    yield plugin_site
    registry.platforms.cache_clear()


def notifyctl(*args: str, timeout: float = 60) -> Result:
    proc = subprocess.run([sys.executable, "-m", "notifyctl", *args], capture_output=True,
                          text=True, timeout=timeout, env=subprocess_env())
    return Result(proc.returncode, proc.stdout, proc.stderr)


def test_the_entry_point_group_lists_the_plugin_after_the_built_ins(acme: Path) -> None:
    from notifyctl import registry

    names = registry.names()
    assert names[:6] == ["pelion", "thingspace", "sigfox", "circle", "iottly", "generic"]
    assert {"acme", "acmelite"} <= set(names)
    assert registry.get("acme").title == "Acme Sensors (a test plugin)"


def test_register_list_unregister_against_the_sandbox(acme: Path) -> None:
    with SandboxThread(retry_base=0.01) as sandbox:
        api = f"{sandbox.url}/acme"
        added = notifyctl("register", "http://127.0.0.1:9/hook", "--label", "lab",
                          "--provider", "acme", "--api-url", api)
        assert added.exit_code == 0, added.stderr
        hook_id = added.stdout.strip()
        listing = notifyctl("list", "-o", "json", "--provider", "acme", "--api-url", api)
        assert listing.exit_code == 0, listing.stderr
        assert [(h["id"], h["label"]) for h in listing.json()] == [(hook_id, "lab")]
        # Another platform's option is refused with the one message.
        foreign = notifyctl("register", "http://127.0.0.1:9/hook", "--include-uid",
                            "--provider", "acme", "--api-url", api)
        assert foreign.exit_code == 2
        assert "--include-uid is a pelion option, not for acme" in foreign.stderr
        removed = notifyctl("unregister", hook_id, "--provider", "acme", "--api-url", api)
        assert removed.exit_code == 0, removed.stderr
        assert sandbox.state()["acme"]["hooks"] == []


def test_tail_the_emulators_stream(acme: Path) -> None:
    with SandboxThread(retry_base=0.01) as sandbox:
        result: list[Result] = []
        runner = threading.Thread(target=lambda: result.append(notifyctl(
            "tail", "-o", "jsonl", "--count", "2", "--timeout", "60", "--provider", "acme",
            "--api-url", f"{sandbox.url}/acme")))
        runner.start()
        wait_for(lambda: sandbox.state()["acme"]["sockets"] == 1, what="tail connected")
        httpx.post(f"{sandbox.url}/_sandbox/acme/events",
                   json=[{"sensor": "s1", "value": 1}, {"sensor": "s2", "value": 2}], timeout=10)
        runner.join(90)
        [tailed] = result
        assert tailed.exit_code == 0, tailed.stderr
        events = [json.loads(line) for line in tailed.stdout.splitlines()]
        assert [(e["provider"], e["device"], e["payload"]) for e in events] == [
            ("acme", "s1", 1), ("acme", "s2", 2)]


def test_tail_without_a_stream_fails_cleanly(acme: Path) -> None:
    result = notifyctl("tail", "--provider", "acmelite", "--count", "1")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: acmelite has no live stream to tail")
    assert "Traceback" not in result.stderr


def test_fixtures_replayed_into_listen_decode_back(acme: Path, tmp_path: Path) -> None:
    from notifyctl.listen import BackgroundListener, Settings

    capture = tmp_path / "got.jsonl"
    settings = Settings(provider="acme", save=str(capture), count=2, verify_key="tok")
    with BackgroundListener(settings) as listener:
        sent = notifyctl("replay", "--fixture", "acme/readings", "--to", listener.url,
                         "--sign-key-env", "ACME_TOKEN")
        assert sent.exit_code == 2  # the variable is not set: refused before anything is sent
        os.environ["ACME_TOKEN"] = "tok"
        try:
            sent = notifyctl("replay", "--fixture", "acme/readings", "--to", listener.url,
                             "--sign-key-env", "ACME_TOKEN")
        finally:
            del os.environ["ACME_TOKEN"]
        assert sent.exit_code == 0, sent.stderr
        summary = listener.join(30)
    assert summary is not None and (summary.received, summary.failed) == (2, 0)
    lines = [json.loads(line) for line in capture.read_text().splitlines()]
    assert [line["verified"] for line in lines] == [True, True]
    bodies = [json.loads(line["body"]) for line in lines]
    assert [b[0]["sensor"] for b in bodies] == ["s1", "s2"]


def test_the_sandbox_delivers_to_a_registered_listener(acme: Path, tmp_path: Path) -> None:
    from notifyctl.listen import BackgroundListener, Settings

    settings = Settings(provider="acme", save=str(tmp_path / "cb.jsonl"), count=1)
    with SandboxThread(retry_base=0.01) as sandbox, BackgroundListener(settings) as listener:
        added = notifyctl("register", listener.url, "--provider", "acme", "--api-url",
                          f"{sandbox.url}/acme")
        assert added.exit_code == 0, added.stderr
        httpx.post(f"{sandbox.url}/_sandbox/acme/events", json={"sensor": "s9", "value": 9},
                   timeout=10)
        summary = listener.join(30)
        assert summary is not None and summary.received == 1
        wait_for(lambda: sandbox.state()["acme"]["delivered"] == 1, what="delivery counted")
