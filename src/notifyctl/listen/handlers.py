"""The handler of one ``listen`` run: the receiver capability of the platform it names, taken
from the registry.

What a handler trades with the server (``Request``, ``Outcome``, ``Handler``) and the helpers
receivers share live in ``notifyctl.contract.receive``; each platform's receiver is its package's
``receive.py``, declared as ``Platform.receiver``. This module names no platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from notifyctl import registry
from notifyctl.contract.receive import Handler, ReceiverSettings
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.contract import Platform
    from notifyctl.listen.settings import Settings


def receiver_platform(name: str) -> Platform:
    """The platform called ``name``, which must have a receiver: a usage error naming the ones
    that do (with "did you mean" for a near miss) otherwise."""
    try:
        return registry.get(name, "receiver")
    except UsageError as exc:
        if name in registry.platforms():  # it exists but lacks a receiver: its own hint
            raise
        raise UsageError(f"listen has no provider {name!r}", hint=exc.hint) from exc


def make_handler(settings: Settings) -> Handler:
    """The handler of ``settings.provider``, configured with the run's key and its options."""
    factory = receiver_platform(settings.provider).load("receiver")
    handler: Handler = factory(ReceiverSettings(settings.verify_key, dict(settings.options)))
    return handler
