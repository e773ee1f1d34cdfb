"""The sandbox side of the contract: what a platform's emulator offers the sandbox, and the
``SandboxContext`` the sandbox hands it.

The capability is a factory ``(SandboxContext) -> Emulator``. The context carries the settings
every emulator reads, a task spawner that keeps background sends alive, and the delivery
engine: ``context.sender(rules, log)`` delivers requests by the platform's own ``Rules`` (the
same engine ``replay`` uses), counting into a ``DeliveryLog`` from ``context.log(...)``. So an
emulator never imports the replay engine or the sandbox.

A platform with fixtures and an emulator may also declare ``trigger``, a ``Trigger``: given
the device to set (or None), a converter of captured fixture deliveries into what
``notifyctl trigger`` posts to ``/_sandbox/{platform}/events``, in the emulator's own inject
format, every event's device set. It is handed the deliveries in the order they are injected,
a fixture again for each ``--count``: where the platform's ids mark duplicates, a repeated
event gets fresh ones (a new event, not a re-send). Pure (no I/O); ``ValueError`` says why a
delivery cannot be injected (not the platform's format, or no device in it to set).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from aiohttp import web

    from notifyctl.contract.deliver import DeliveryLog, Item, Rules, Sender

T = TypeVar("T")
# Events an emulator lets wait for one live reader before it generates no more (two Pelion
# frames of 10,000): enough to keep a fast reader busy between generator ticks, small enough
# that a frame's worth of work never sits in memory for nothing.
GENERATOR_BACKLOG = 20_000
# A captured fixture delivery -> the bodies to inject for it.
Converter = Callable[["Item"], list[Any]]
# The device to set (or None) -> the converter of one ``notifyctl trigger`` run.
Trigger = Callable[["str | None"], Converter]


@dataclass(frozen=True)
class SandboxConfig:
    """Settings every emulator reads; times are in seconds."""

    devices: int = 5
    api_key: str | None = None  # None: any well-formed key is accepted, each with its own state
    retry_base: float = 1.0  # multiplies every callback back-off delay (tests use 0.01)
    queue_limit: int = 100_000  # items per key; the oldest are dropped beyond it
    callback_timeout: float = 20.0
    ping_interval: float = 20.0
    seed: int = 0


class SandboxContext(Protocol):
    config: SandboxConfig

    def spawn(self, tasks: set[asyncio.Task[T]], job: Coroutine[Any, Any, T]) -> None:
        """Run ``job`` in the background, held in ``tasks`` until it ends."""

    def log(self, what: str) -> DeliveryLog:
        """A fresh delivery log (its counts show in the emulator's state)."""

    def sender(self, rules: Rules, log: DeliveryLog) -> Sender:
        """A sender of requests by ``rules``, straight to the URL (no proxy), into ``log``."""


class Emulator(Protocol):
    """What the sandbox needs from a platform's emulator."""

    name: str

    def setup(self, app: web.Application) -> None:
        """Add the platform's routes to the app."""

    async def start(self) -> None: ...

    async def stop(self) -> None:
        """Close connections (1001 going away) and stop deliveries."""

    def inject(self, body: Any, api_key: str | None) -> dict[str, Any]:
        """Queue injected events; raise ValueError (answered 400) on a malformed body."""

    async def fault(self, fault: dict[str, Any]) -> int:
        """Apply a socket fault; returns how many connections it hit. ValueError -> 400."""

    def generate(self, count: int) -> int | None:
        """Produce up to ``count`` synthetic events for the channels that exist, and return
        how many it produced (None: all ``count``). It produces fewer when its live readers
        already have a backlog (``GENERATOR_BACKLOG`` or so queued): the sandbox's rate is a
        ceiling, so a reader slower than the rate is fed as fast as it reads, not buried
        under events that would only be dropped. Fast: never a task per event."""

    def state(self) -> dict[str, Any]: ...


def fixture_object(item: Item, what: str) -> dict[str, Any]:
    """A fixture delivery's JSON object body, for a ``Trigger``; ValueError naming ``what`` it
    should have been (``a Circle notification``) when it is not one."""
    import json

    try:
        found = json.loads(item.body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"not {what}: the body is not JSON") from None
    if not isinstance(found, dict):
        raise ValueError(f"not {what}: the body is not a JSON object")
    return found
