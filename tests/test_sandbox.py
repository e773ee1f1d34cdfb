"""The sandbox composes the emulators the registry declares and hands each the same context:
delivery through the replay engine on one session of its own; its banner is written from the
platforms' declarations, its first two lines as scripts read them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from notifyctl import registry
from notifyctl.errors import UsageError
from notifyctl.replay.engine import Deliverer
from notifyctl.replay.rules.base import RuleOptions
from notifyctl.replay.rules.pelion import PelionRules
from notifyctl.sandbox import EmulatorContext, Sandbox, SandboxConfig


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
            made = [context.sender(PelionRules(RuleOptions(target=f"http://127.0.0.1:9/{n}")),
                                   context.log("test")) for n in range(2)]
            assert all(not sender.session.closed for sender in made)
            return made
        finally:
            await context.close()

    first, second = asyncio.run(senders())
    assert isinstance(first, Deliverer) and isinstance(second, Deliverer)
    assert first.session is second.session and first.session.closed
    assert first.proxies is False  # a callback goes exactly where it was registered
    rules = PelionRules(RuleOptions(target="http://127.0.0.1:9/"))
    with pytest.raises(TypeError, match=r"EmulatorContext\.log"):
        context.sender(rules, object())  # type: ignore[arg-type]

