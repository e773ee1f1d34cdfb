"""Pelion / Izuma Device Management provider: notification channels, their wire format and emulator.

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (pure decode/encode of NotificationMessages; ``wire_values`` renders payloads and
timestamps for it), ``tlv`` (OMA LwM2M TLV payloads),
``api`` (channel management), ``stream`` (the WebSocket channel), ``emulator`` (sandbox routes).
"""
