"""Logitech Circle provider: server notifications (register/unregister, signed JSON deliveries)
and client notifications (the one-time WebSocket used by ``tail``).

Modules (each imported only by the command that needs it, so importing this package is free):
``wire`` (event types, pure decode/encode of event bodies), ``api`` (the management client and
the one assumption about the server-notification route), ``stream`` (client notifications),
``emulator`` (sandbox routes). Signatures live in ``notifyctl.signing`` (circle_sign/verify).
"""
