"""Pelion / Izuma Device Management provider: notification channels, their wire format and emulator.

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (pure decode/encode of NotificationMessages; ``wire_values`` renders payloads and
timestamps for it), ``tlv`` (OMA LwM2M TLV payloads),
``api`` (channel management), ``stream`` (the WebSocket channel), ``emulator`` (sandbox routes).
"""

from __future__ import annotations

from notifyctl.contract import CONTENT, DEVICE, HEADER_OPTIONS, KIND, TIME, Column, Opt, Platform
from notifyctl.providers.pelion.kinds import KINDS

PLATFORM = Platform(
    name="pelion",
    rank=10,
    title="Pelion / Izuma Device Management",
    default_api_url="https://api.us-east-1.mbedcloud.com",
    unique_ids=True,
    # Event lifetime and queue bound of the service (docs/platforms/pelion.md).
    retention="pelion drops events after 24 h and queues at most 50 MB per key",
    secrets=("api_key",),
    kinds=KINDS,
    # Endpoint ids are 32 hex digits; the resource path says what the payload is.
    columns=(TIME, KIND, DEVICE, Column("path", "path", width=10, most=16, keep=50), CONTENT),
    options={
        "tail": (
            # Only Pelion events have resource paths.
            Opt("--path", "Only resource paths matching this glob (repeatable).",
                multiple=True),
        ),
        "register": (
            *HEADER_OPTIONS,
            Opt("--max-chunk-size", "Events per delivery, 100..10000 (platform default 10000).",
                int),
            Opt("--include-uid", "Add a uid to each event (for de-duplication).", bool, False),
            Opt("--include-timestamp", "Add the receive time to each event.", bool, False),
            Opt("--include-original-ep", "Add the device's original endpoint name.", bool,
                False),
            Opt("--deregistrations-as-object",
                "De-registrations as objects instead of plain device ids.", bool, False),
        ),
        "unregister": (
            Opt("--websocket", "Delete the WebSocket channel instead.", bool, False),
        ),
        "replay": (
            Opt("--batch-size", "Re-chunk the events into batches of N (max 10000); default: "
                "each captured batch as captured, one PUT each.", int),
            Opt("--handshake", "Send the verification PUT {} first.", bool, False),
        ),
    },
    fixtures="notifyctl.providers.pelion:fixtures",
    stream="notifyctl.providers.pelion.stream:opener",
    channels="notifyctl.providers.pelion.manage:make",
    receiver="notifyctl.providers.pelion.receive:make",
    rules="notifyctl.providers.pelion.rules:PelionRules",
    emulator="notifyctl.providers.pelion.emulator:PelionEmulator",
    trigger="notifyctl.providers.pelion.trigger:events",
)
