"""The sandbox composes the emulators the registry declares and hands each the same context:
delivery through the replay engine on one session of its own; its banner is written from the
platforms' declarations, its first two lines as scripts read them."""

from __future__ import annotations

import asyncio
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import subprocess_env
from notifyctl import registry
from notifyctl.contract.deliver import RuleOptions, Rules
from notifyctl.contract.emulate import SandboxConfig
from notifyctl.errors import UsageError
from notifyctl.replay.engine import Deliverer
from notifyctl.sandbox import EmulatorContext, Sandbox


def test_every_declared_emulator_is_composed_and_providers_narrow_them() -> None:
    declared = registry.names("emulator")
    assert {"pelion", "thingspace", "sigfox", "circle", "iottly"} <= set(declared)
    assert list(Sandbox().emulators) == declared
    for name, emulator in Sandbox().emulators.items():
        assert emulator.name == name
    assert list(Sandbox(providers=["iottly"]).emulators) == ["iottly"]
    with pytest.raises(UsageError, match="sandbox: no emulator for generic, nope"):
        Sandbox(providers=["iottly", "generic", "nope"])


def test_the_context_sends_with_the_replay_engine_on_one_session() -> None:
    context = EmulatorContext(SandboxConfig())

    async def senders() -> list[Any]:
        try:
            made = [context.sender(Rules(RuleOptions(target=f"http://127.0.0.1:9/{n}")),
                                   context.log("test")) for n in range(2)]
            assert all(not sender.session.closed for sender in made)
            return made
        finally:
            await context.close()

    first, second = asyncio.run(senders())
    assert isinstance(first, Deliverer) and isinstance(second, Deliverer)
    assert first.session is second.session and first.session.closed
    assert first.proxies is False  # a callback goes exactly where it was registered
    rules = Rules(RuleOptions(target="http://127.0.0.1:9/"))
    with pytest.raises(TypeError, match=r"EmulatorContext\.log"):
        context.sender(rules, object())  # type: ignore[arg-type]


def banner(tmp_path: Path, *args: str) -> tuple[list[str], int]:
    """The sandbox's start-up lines on stderr, and its exit status after Ctrl-C."""
    err = tmp_path / "banner.txt"
    with err.open("wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "notifyctl", "sandbox", "--rate", "0",
                                 *args], stdout=subprocess.DEVNULL, stderr=handle,
                                env=subprocess_env())
    try:
        deadline = time.monotonic() + 20
        while "Ctrl-C" not in err.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, err.read_text()
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(20)
    return err.read_text().splitlines(), proc.returncode


def test_banner_first_two_lines_then_one_per_platform_from_its_declaration(
        tmp_path: Path, cli: Any) -> None:
    lines, status = banner(tmp_path, "--api-key", "ak_banner_key")
    assert status == 130
    first = re.fullmatch(r"sandbox listening on (http://127\.0\.0\.1:\d+); use it with: "
                         r"notifyctl profile add sandbox --provider pelion --api-url (\S+)",
                         lines[0])
    assert first is not None and first[1] == first[2], lines[0]
    url = first[1]
    assert lines[1] == ("API key (a sandbox key, safe to show): export "
                        "NOTIFYCTL_API_KEY=ak_banner_key")
    for name in registry.names("emulator")[1:]:
        platform = registry.get(name)
        [line] = [text for text in lines if text.startswith(f"{platform.title}: ")]
        command = line.split(": ", 1)[1]
        assert f"--provider {name} --api-url {url}{platform.sandbox_path}" in command
        added = cli(*shlex.split(command.split(" (", 1)[0])[1:])
        assert added.exit_code == 0, (command, added.stderr)
    assert f"(SOAP: --set api=soap --api-url {url}/api/v2)" in "\n".join(lines)
    logins = [text for text in lines if " logins (sandbox values, safe to show): " in text]
    assert logins[0].endswith("export NOTIFYCTL_USERNAME=sandbox NOTIFYCTL_PASSWORD=sandbox "
                              "NOTIFYCTL_CLIENT_ID=sandbox NOTIFYCTL_CLIENT_SECRET=sandbox")
    assert not any("NOTIFYCTL_API_KEY" in text for text in logins)  # the key is line 2's
    assert "any key starting with ak_" not in "\n".join(lines)  # only the one key here
    assert "synthetic events: 0/s; press Ctrl-C to stop" in lines
