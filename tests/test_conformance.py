"""The platform conformance suite: every registered platform, every capability it declares,
exercised against the real sandbox through the real CLI.

Nothing here names a platform. What a platform needs to work against the sandbox (the
``--service`` of a ThingSpace registration, the ``--device`` of an Iottly tail, a signing key)
comes from its declaration's ``sandbox_args``; every secret is the sandbox's (it accepts any),
and ``CONFORMANCE_KEY`` is a key every signing scheme accepts (the Standard Webhooks test
secret, which the generic fixtures are signed with).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import IO, Any

import pytest
from sandbox import SandboxThread
from waiting import wait_for

from conftest import Result, subprocess_env
from notifyctl import registry
from notifyctl.contract import CAPABILITIES, Platform

KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = ("NOTIFYCTL_USERNAME", "NOTIFYCTL_PASSWORD", "NOTIFYCTL_CLIENT_ID",
           "NOTIFYCTL_CLIENT_SECRET", "NOTIFYCTL_ACCESS_TOKEN")


def having(*capabilities: str) -> list[str]:
    return [name for name, platform in registry.platforms().items()
            if all(platform.has(c) for c in capabilities)]  # type: ignore[arg-type]


def env(sandbox: SandboxThread | None = None) -> dict[str, str]:
    values = {name: "sandbox" for name in SECRETS}
    values["CONFORMANCE_KEY"] = KEY
    if sandbox is not None:
        values["NOTIFYCTL_API_KEY"] = sandbox.api_key
    return subprocess_env(**values)


def notifyctl(*args: str, sandbox: SandboxThread | None = None, timeout: float = 90) -> Result:
    proc = subprocess.run([sys.executable, "-m", "notifyctl", *args], capture_output=True,
                          text=True, timeout=timeout, env=env(sandbox))
    return Result(proc.returncode, proc.stdout, proc.stderr)


def args(platform: Platform, command: str) -> tuple[str, ...]:
    return tuple(platform.sandbox_args.get(command, ()))


def connection(platform: Platform, sandbox: SandboxThread) -> tuple[str, ...]:
    return ("--provider", platform.name, "--api-url", sandbox.url + platform.sandbox_path)


NOT_EVENTS = frozenset({"handshake", "request", "invalid", "unverified", "error", "too-large"})


class Listening:
    """``notifyctl listen`` as a subprocess; its JSON lines are collected as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        assert process.stdout is not None and process.stderr is not None
        self.url = process.stderr.readline().strip()
        assert self.url.startswith("http://127.0.0.1:"), self.url
        self.lines: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(json.loads(line))

    def events(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("kind") not in NOT_EVENTS]

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self._reader.join(timeout)
        return code


@contextlib.contextmanager
def listen(platform: Platform, *extra: str, sandbox: SandboxThread | None = None
           ) -> Iterator[Listening]:
    process = subprocess.Popen(
        [sys.executable, "-m", "notifyctl", "listen", "--provider", platform.name, "-o",
         "jsonl", "--timeout", "90", *args(platform, "listen"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(sandbox))
    try:
        yield Listening(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("name", registry.names())
def test_every_declared_capability_loads_with_its_shape(name: str) -> None:
    import typer

    from notifyctl.contract.deliver import Rules
    from notifyctl.events import Event

    platform = registry.get(name)
    declared = [c for c in CAPABILITIES if platform.has(c)]
    assert declared, f"{name} declares no capability"
    for capability in declared:
        loaded = platform.load(capability)
        if capability == "rules":
            assert isinstance(loaded, type) and issubclass(loaded, Rules)
        elif capability == "commands":
            assert isinstance(loaded, typer.Typer)
        else:
            assert callable(loaded)
    for command, options in platform.options.items():
        dests = [opt.dest for opt in options]
        assert len(dests) == len(set(dests)), (command, dests)
    fields = {*Event.__struct_fields__, "content"}  # content: payload, value or output chunk
    assert {column.field for column in platform.columns} <= fields
    for key, setting in platform.settings.items():
        assert setting.default is None or setting.problem(setting.default) is None, key
    if platform.has("stream"):
        assert platform.kinds, f"{name} streams events of no declared kind"


@pytest.mark.parametrize("name", having("channels", "emulator", "receiver"))
def test_management_round_trip_and_the_emulators_deliveries_reach_the_receiver(
        name: str) -> None:
    platform = registry.get(name)
    with SandboxThread(retry_base=0.01, rate=20) as sandbox, listen(
            platform, sandbox=sandbox) as listening:
        added = notifyctl("register", listening.url, *connection(platform, sandbox),
                          *args(platform, "register"), sandbox=sandbox)
        assert added.exit_code == 0, added.stderr
        wait_for(lambda: bool(listening.events()), what=f"a {name} delivery the receiver decodes")
        assert {event["provider"] for event in listening.events()} == {name}
        assert all(line.get("kind") != "unverified" for line in listening.lines)
        listed = notifyctl("list", "-o", "json", *connection(platform, sandbox),
                           *args(platform, "list"), sandbox=sandbox)
        if "has no API that lists" not in listed.stderr:  # Circle registers write-only
            assert listed.exit_code == 0, listed.stderr
            assert listening.url.split("//")[1] in listed.stdout
        target = added.stdout.strip().splitlines()[-1:] if added.stdout.strip() else []
        removed = notifyctl("unregister", *target, *connection(platform, sandbox),
                            *args(platform, "unregister"), sandbox=sandbox)
        assert removed.exit_code == 0, removed.stderr


@pytest.mark.parametrize("name", having("stream", "emulator"))
def test_tail_of_the_emulators_stream(name: str) -> None:
    platform = registry.get(name)
    with SandboxThread(retry_base=0.01, rate=50) as sandbox:
        tailed = notifyctl("tail", "-o", "jsonl", "--count", "3", "--timeout", "60",
                           *connection(platform, sandbox), *args(platform, "tail"),
                           sandbox=sandbox)
    assert tailed.exit_code == 0, tailed.stderr
    events = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert len(events) == 3 and {event["provider"] for event in events} == {name}
    assert {event["kind"] for event in events} <= set(platform.kinds)


def _fixtures(name: str) -> list[str]:
    from notifyctl.replay import fixtures

    return [fixture for fixture in fixtures.available() if fixture.startswith(f"{name}/")]


def _rule_options(platform: Platform, target: str) -> Any:
    """The RuleOptions the replay arguments of ``sandbox_args`` stand for."""
    from notifyctl.contract.deliver import RuleOptions

    given = list(args(platform, "replay"))
    extra: dict[str, Any] = {}
    for opt in platform.options_for("replay"):
        if opt.flag in given:
            at = given.index(opt.flag)
            extra[opt.dest] = True if opt.kind is bool else given[at + 1]
    key = KEY if "--sign-key-env" in given else None
    return RuleOptions(target=target, sign_key=key, sign_key_env="CONFORMANCE_KEY", extra=extra)


@pytest.mark.parametrize(("name", "fixture"), [
    (name, fixture) for name in having("rules", "receiver") for fixture in _fixtures(name)])
def test_fixtures_replayed_into_listen_decode_to_the_same_events(name: str, fixture: str
                                                                 ) -> None:
    """Over the wire (replay -> listen, the real CLI) and in process (the platform's rules'
    requests handed to its receiver) a fixture gives the same events."""
    from notifyctl.contract.deliver import Request as Delivery
    from notifyctl.contract.receive import ReceiverSettings, Request
    from notifyctl.events import now_iso
    from notifyctl.replay import fixtures, inputs

    platform = registry.get(name)
    handler = platform.load("receiver")(ReceiverSettings(
        verify_key=KEY if "--verify-key-env" in args(platform, "listen") else None))
    rules = platform.load("rules")(_rule_options(platform, "http://127.0.0.1/hook"))
    expected, sent = [], 0
    for request in rules.requests(inputs.read_inputs([fixtures.source(fixture)])):
        assert isinstance(request, Delivery), request
        sent += 1
        outcome = handler.handle(Request(
            request.method, "/hook", "", rules.attempt_headers(request, 1),
            rules.attempt_body(request, 1), now_iso()))
        expected += [(event.kind, event.device, event.payload) for event in outcome.events]
    with listen(platform, "--count", str(sent)) as listening:
        replayed = notifyctl("replay", "--fixture", fixture, "--to", listening.url,
                             *args(platform, "replay"))
        assert replayed.exit_code == 0, replayed.stderr
        assert listening.finish() == 0
    got = [(e["kind"], e.get("device"), e.get("payload")) for e in listening.events()]
    assert got == expected and expected
