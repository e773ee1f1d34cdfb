"""Iottly provider: the WebSocket stream API (telemetry subscriptions and remote commands) and
the dashboard-only webhooks, which notifyctl can only check, not register.

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (pure decode/encode of stream messages, the stream URL and its redaction),
``webhooks`` (the YAML webhook description checker), ``stream`` (telemetry tail and command
execution over one socket), ``emulator`` (sandbox routes).
"""

from __future__ import annotations

from notifyctl.contract import Column, Opt, Platform, Setting
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
    columns=(Column("time", "time", 12, keep=4), Column("kind", "kind", 14, keep=5),
             Column("device", "device", 18, keep=3), Column("stream", "stream", 12, keep=2)),
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
    receiver="notifyctl.providers.iottly.receive:make",
    rules="notifyctl.providers.iottly.rules:IottlyRules",
    commands="notifyctl.providers.iottly.commands:app",
    emulator="notifyctl.providers.iottly.emulator:for_sandbox",
    hints={"channels": "Iottly webhooks cannot be managed through an API: they are set in the "
                       "dashboard (Project settings -> Configure webhooks); check a YAML "
                       "description of them first with 'notifyctl iottly check-webhooks FILE'"},
)
