"""Acme: a sixth platform, written the way a third party would write one, for the plugin test.

Everything it offers notifyctl is declared here and implemented in its own modules, importing
only notifyctl's contract, shared infrastructure and core: a REST management API of callback
hooks (``manage``), a WebSocket stream (``stream``), a receiver that checks ``X-Acme-Token``
(``receive``), delivery rules (``rules``) and an emulator for the sandbox (``emulator``).
"""

from __future__ import annotations

from notifyctl.contract import Column, Opt, Platform

PLATFORM = Platform(
    name="acme",
    title="Acme Sensors (a test plugin)",
    default_api_url="https://api.acme.invalid",
    sandbox_path="/acme",
    secrets=("api_key",),
    kinds=("reading", "alarm"),
    columns=(Column("time", "time", 12, keep=4), Column("kind", "kind", 8, keep=5),
             Column("device", "sensor", 12, keep=3)),
    options={"register": (Opt("--label", "A label stored with the hook."),)},
    fixtures="notifyctl_acme:fixtures",
    channels="notifyctl_acme.manage:AcmeChannels",
    stream="notifyctl_acme.stream:opener",
    receiver="notifyctl_acme.receive:make",
    rules="notifyctl_acme.rules:AcmeRules",
    emulator="notifyctl_acme.emulator:AcmeEmulator",
)
