"""Logitech Circle provider: server notifications (register/unregister, signed JSON deliveries)
and client notifications (the one-time WebSocket used by ``tail``).

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (event types, pure decode/encode of event bodies), ``api`` (the management client and
the one assumption about the server-notification route), ``stream`` (client notifications),
``emulator`` (sandbox routes), ``rules`` (delivery for replay and the sandbox), ``signing``
(``X-Logi-Verify``), ``fixtures/`` (captures for ``replay --fixture``).
"""

from __future__ import annotations

from notifyctl.contract import KIND, TIME, Column, Opt, Platform, Setting
from notifyctl.providers.circle.kinds import EVENT_TYPES

_METHODS = ("POST", "PUT", "PATCH", "DELETE")

PLATFORM = Platform(
    name="circle",
    rank=40,
    title="Logitech Circle",
    default_api_url="https://api.circle.logi.com",
    secrets=("api_key", "access_token"),
    # register generates the authKey and keeps it here; listen and replay read it.
    signing_secret="auth_key",
    # The server-notification route is an assumption (providers/circle/api.py).
    settings={
        "server_notifications_path": Setting("path of Register/Unregister Server "
                                             "Notifications", prefixes=("/",)),
        "server_notifications_register_method": Setting(
            "HTTP method registering a server notification", choices=_METHODS),
        "server_notifications_unregister_method": Setting(
            "HTTP method unregistering a server notification", choices=_METHODS),
    },
    kinds=EVENT_TYPES,
    # No resource paths; accessory ids are UUIDs, event types up to 26 characters.
    columns=(TIME, KIND, Column("device", "accessory", width=12, most=36, keep=60),
             Column("content", "eventData", width=8, keep=80)),
    options={
        "register": (
            Opt("--event-type", "An event type to receive (repeatable).", multiple=True,
                choices=EVENT_TYPES),
            Opt("--yes-motion", "Really register the high-frequency motion events.", bool,
                False),
            Opt("--user-data", "JSON echoed in every delivery."),
            Opt("--auth-key-env", "Variable holding the authKey (default: generate one, store "
                "it in the keyring, show it once).", metavar="VAR"),
        ),
    },
    fixtures="notifyctl.providers.circle:fixtures",
    stream="notifyctl.providers.circle.stream:opener",
    channels="notifyctl.providers.circle.manage:make",
    receiver="notifyctl.providers.circle.receive:make",
    rules="notifyctl.providers.circle.rules:CircleRules",
    emulator="notifyctl.providers.circle.emulator_delivery:CircleSandbox",
    trigger="notifyctl.providers.circle.trigger:events",
    sandbox_args={"register": ("--event-type", "activity_created", "--auth-key-env",
                               "CONFORMANCE_KEY"),
                  "listen": ("--verify-key-env", "CONFORMANCE_KEY"),
                  "replay": ("--sign-key-env", "CONFORMANCE_KEY")},
)
