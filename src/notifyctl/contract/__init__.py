"""The platform contract: what a platform package offers notifyctl, and what notifyctl hands it.

Both sides import this package and nothing of each other. Engines (``tail``, ``listen``,
``replay``, ``sandbox``) and the commands in ``cli/`` get platforms only from
``notifyctl.registry``; a platform package (``providers/<name>/``) imports only this contract,
the shared infrastructure and the core modules.

A platform is one ``Platform`` declaration: cheap data (names, secrets, settings, options, kinds,
columns) that ``--help`` and TAB completion read without importing any platform code, plus its
capabilities as ``"module:attribute"`` import strings, loaded only when an engine uses them:

=============  ========================================  ======================================
capability     what the attribute is                     who uses it
=============  ========================================  ======================================
``channels``   ``(ManageContext) -> Channels``           ``register``, ``list``, ``unregister``
``stream``     ``(StreamContext) -> Opener``             ``tail``
``receiver``   ``(ReceiverSettings) -> Handler``          ``listen``
``rules``      ``(RuleOptions) -> Rules`` (a class)       ``replay`` and the sandbox
``emulator``   ``(SandboxContext) -> Emulator``           ``sandbox``
``commands``   a ``typer.Typer`` of extra subcommands    ``notifyctl <name> ...``
``trigger``    ``(Item, device) -> list`` (``emulate``)  ``trigger``
=============  ========================================  ======================================

A platform declares only what it has; asking for a missing capability raises ``Missing`` (a
usage error, exit 2) with the platform's own hint, e.g. "sigfox has no live stream to tail
(receive its callbacks with 'notifyctl listen --provider sigfox')".
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from notifyctl.contract.options import (
    CONTENT,
    DEFAULT_COLUMNS,
    DEVICE,
    HEADER_OPTIONS,
    KIND,
    TIME,
    Column,
    Opt,
    Setting,
)
from notifyctl.errors import UsageError

__all__ = [
    "CAPABILITIES",
    "CONTENT",
    "DEFAULT_COLUMNS",
    "DEVICE",
    "HEADER_OPTIONS",
    "KIND",
    "TIME",
    "Column",
    "Missing",
    "Numbering",
    "Opt",
    "Platform",
    "Setting",
]

Capability = Literal["channels", "stream", "receiver", "rules", "emulator", "commands",
                     "trigger"]
CAPABILITIES: tuple[Capability, ...] = (
    "channels", "stream", "receiver", "rules", "emulator", "commands", "trigger")

# What an engine was trying to do, for the message when a platform lacks the capability.
_WANTED: dict[Capability, str] = {
    "channels": "management API for register/list/unregister",
    "stream": "live stream to tail",
    "receiver": "callbacks for listen to receive",
    "rules": "delivery rules for replay",
    "emulator": "emulator in the sandbox",
    "commands": "commands of its own",
    "trigger": "fixtures the sandbox can inject",
}


class Missing(UsageError):
    """A platform was asked for a capability it does not declare."""


@dataclass(frozen=True)
class Numbering:
    """How a platform numbers its messages, so the engines can count what was lost.

    Each device numbers its own messages: the number is ``raw[field]`` of the device's events
    (an int, or a string of one), counting up by one and wrapping to 0 at ``modulus``
    (Sigfox's ``seqNumber``: 4096). A repeated (device, number) is a duplicate.
    """

    field: str
    modulus: int

    def of(self, raw: object) -> int | None:
        """The message's number, or None where the item has none."""
        if not isinstance(raw, Mapping):
            return None
        value = raw.get(self.field)
        if isinstance(value, bool):
            return None
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        return value % self.modulus if isinstance(value, int) else None


@dataclass(frozen=True)
class Platform:
    """Everything notifyctl knows about a platform before importing its code.

    ``secrets`` are the names ``auth login`` stores (keys of ``notifyctl.secrets.SECRET_ENV``
    where an environment variable exists); ``settings`` the profile keys beyond
    provider/api_url/account; ``options`` the platform's own options per command name;
    ``hints`` what to tell a user who asks for a capability the platform lacks.
    """

    name: str
    title: str
    default_api_url: str | None = None
    secrets: tuple[str, ...] = ()
    settings: Mapping[str, Setting] = field(default_factory=dict)
    # Secrets a profile may store but needs only in some setups: a secret -> (setting, value),
    # needed only when the setting has that value; a secret -> None, never required.
    conditional_secrets: Mapping[str, tuple[str, str] | None] = field(default_factory=dict)
    # The keyring-only secret that signs the platform's callbacks (Circle's authKey): what
    # listen verifies with and replay signs with when no --...-key-env variable is given.
    signing_secret: str | None = None
    kinds: tuple[str, ...] = ()
    # tail's live table (``DEFAULT_COLUMNS`` when empty): the one place a platform says them.
    columns: tuple[Column, ...] = ()
    options: Mapping[str, tuple[Opt, ...]] = field(default_factory=dict)
    # "package:folder": <kind>.jsonl captures and index.json (kind -> description) there.
    fixtures: str | None = None
    channels: str | None = None
    stream: str | None = None
    receiver: str | None = None
    rules: str | None = None
    emulator: str | None = None
    commands: str | None = None
    # Its fixtures as events for its emulator (``contract.emulate.Trigger``): ``trigger``.
    trigger: str | None = None
    hints: Mapping[str, str] = field(default_factory=dict)
    # The platform's API under the sandbox's URL (``tail --sandbox``, the sandbox's banner).
    sandbox_path: str = ""
    # Arguments each command needs to work against the sandbox (a ThingSpace --service, an
    # Iottly --device, a signing key's variable: CONFORMANCE_KEY): what the conformance suite
    # runs every platform with.
    sandbox_args: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # What the sandbox's banner adds to the platform's line after its --api-url: more of the
    # profile (``--account sandbox``) or a sentence of its own; ``{url}`` is the sandbox's URL.
    sandbox_note: str = ""
    # Event ids name one event each, so tail drops a repeated id (Pelion re-sends batches);
    # False where an id names something events share (a Circle activity).
    unique_ids: bool = False
    # Where the platform numbers its messages per device (gaps and duplicates can be counted);
    # None where it does not, so the accounting says "not known" rather than 0 lost.
    numbering: Numbering | None = None
    # What the platform loses when a reader falls behind, in a few words for the warning of a
    # run whose newest event is older than --warn-age ("pelion drops events after 24 h").
    retention: str = ""
    # Listing order (lower first); the built-ins take 10, 20, ... so plugins come after them.
    rank: int = 100

    def required_secrets(self, settings: Mapping[str, object]) -> tuple[str, ...]:
        """The secrets a profile with ``settings`` cannot work without."""

        def needed(secret: str) -> bool:
            if secret not in self.conditional_secrets:
                return True
            condition = self.conditional_secrets[secret]
            if condition is None:
                return False
            key, wanted = condition
            value = settings.get(key) or self.settings[key].default
            return str(value).strip().lower() == wanted

        return tuple(secret for secret in self.secrets if needed(secret))

    def setting_problem(self, key: str, value: object) -> str | None:
        """Why ``key: value`` cannot be in a profile of this platform, or None when it can."""
        from notifyctl.suggest import did_you_mean

        setting = self.settings.get(key)
        if setting is None:
            valid = ", ".join(("provider", "api_url", "account", *self.settings))
            return (f"not a {self.name} setting ({did_you_mean(key, self.settings)}"
                    f"a {self.name} profile holds {valid})")
        return setting.problem(value)

    def has(self, capability: Capability) -> bool:
        return getattr(self, capability) is not None

    def load(self, capability: Capability) -> Any:
        """Import and return the capability's attribute; ``Missing`` when not declared."""
        target: str | None = getattr(self, capability)
        if target is None:
            raise Missing(f"{self.name} has no {_WANTED[capability]}",
                          hint=self.hints.get(capability))
        module, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def options_for(self, command: str) -> tuple[Opt, ...]:
        return self.options.get(command, ())
