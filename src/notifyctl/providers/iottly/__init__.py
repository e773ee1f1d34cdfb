"""Iottly provider: the WebSocket stream API (telemetry subscriptions and remote commands) and
the dashboard-only webhooks, which notifyctl can only check, not register.

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (pure decode/encode of stream messages, the stream URL and its redaction),
``webhooks`` (the YAML webhook description checker), ``stream`` (telemetry tail and command
execution over one socket), ``emulator`` (sandbox routes).
"""

from __future__ import annotations

from notifyctl.contract import DEVICE, KIND, TIME, Column, Opt, Platform, Setting
from notifyctl.providers.iottly.kinds import KINDS

PLATFORM = Platform(
    name="iottly",
    rank=50,
    title="Iottly",
    default_api_url="https://api.cloud.iottly.com/v1.0",
    sandbox_path="/v1.0",
    secrets=("api_key",),
    settings={"stream_url": Setting("the stream API's URL when it is not derived from api_url",
                                    prefixes=("wss://", "ws://", "https://", "http://"))},
    kinds=KINDS,
    # A value means nothing without its stream; there are no resource paths.
    columns=(TIME, KIND, DEVICE, Column("stream", "stream", fit=True, keep=70),
             Column("content", "value", width=8, keep=80)),
    options={
        "tail": (
            Opt("--stream", "Subscribe each --device to this stream only (repeatable; default "
                "all).", multiple=True),
        ),
        "replay": (
            Opt("--payload-only", "Send the payload, not {\"msg\": ...}.", bool, False),
        ),
    },
    fixtures="notifyctl.providers.iottly:fixtures",
    stream="notifyctl.providers.iottly.stream:opener",
    receiver="notifyctl.providers.iottly.receive:make",
    rules="notifyctl.providers.iottly.rules:IottlyRules",
    commands="notifyctl.providers.iottly.commands:app",
    emulator="notifyctl.providers.iottly.emulator:IottlySandbox",
    trigger="notifyctl.providers.iottly.trigger:events",
    hints={"channels": "Iottly webhooks cannot be managed through an API: they are set in the "
                       "dashboard (Project settings -> Configure webhooks); check a YAML "
                       "description of them first with 'notifyctl iottly check-webhooks FILE'"},
    sandbox_args={"tail": ("--device", "dev_01")},
)
