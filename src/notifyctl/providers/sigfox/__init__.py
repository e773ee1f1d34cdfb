"""Sigfox backend API v2 provider: device-type callbacks, their templates and delivery formats.

Modules (each imported only by the command that needs it, so importing this package is free):
``spec`` (callback types, channels and the create body), ``templates`` (``{variable}`` checking
and rendering, ``payloadConfig``), ``wire`` (pure decode of deliveries into events, request
rendering for replay and the sandbox, BIDIR answers), ``api`` (the management client),
``emulator`` (sandbox routes). Sigfox has no live stream.
"""
