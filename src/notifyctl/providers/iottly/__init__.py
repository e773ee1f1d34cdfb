"""Iottly provider: the WebSocket stream API (telemetry subscriptions and remote commands) and
the dashboard-only webhooks, which notifyctl can only check, not register.

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (pure decode/encode of stream messages, the stream URL and its redaction),
``webhooks`` (the YAML webhook description checker), ``stream`` (telemetry tail and command
execution over one socket), ``emulator`` (sandbox routes).
"""
