"""Verizon ThingSpace M2M provider: callback registration over SOAP (UWS) and REST, the delivered
callback formats, and the sandbox emulator.

Modules (each imported only by the command that needs it, so importing this package is free):
``services`` (known service names, allowed callback ports), ``wire`` (pure decode/encode of
delivered callbacks, SOAP ``CallbackRequest`` and REST JSON), ``soap`` (UWS envelopes and
faults), ``api`` (``SoapApi`` and ``RestApi`` management clients on httpx), ``emulator`` (the
SessionService, CallbackRegistrationService and REST routes for an aiohttp application).
"""
