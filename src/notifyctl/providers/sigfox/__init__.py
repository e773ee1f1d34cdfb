"""Sigfox backend API v2 provider: device-type callbacks, their templates and delivery formats.

Modules (each imported only by the command that needs it, so importing this package is free):
``spec`` (callback types, channels and the create body), ``templates`` (``{variable}`` checking
and rendering, ``payloadConfig``), ``wire`` (pure decode of deliveries into events, request
rendering for replay and the sandbox, BIDIR answers), ``api`` (the management client),
``emulator`` (sandbox routes). Sigfox has no live stream.
"""

from __future__ import annotations

from notifyctl.contract import HEADER_OPTIONS, Numbering, Opt, Platform

DEVICE_TYPE = Opt("--device-type", "The device type the callbacks belong to.")
_BODY = Opt("--body-template", "Body with {variables} (checked against the type's variables).")
_CONTENT_TYPE = Opt("--content-type", "The body's content type.")
_LINE = Opt("--line-pattern", "BATCH_URL: each message's line, e.g. '{device};{time};{data}'.")
_METHOD = Opt("--method", "GET, POST or PUT (default POST).", choices=("GET", "POST", "PUT"))

PLATFORM = Platform(
    name="sigfox",
    rank=30,
    title="Sigfox backend API v2",
    default_api_url="https://api.sigfox.com/v2",
    sandbox_path="/v2",
    secrets=("username", "password"),
    kinds=("uplink", "status", "acknowledge", "message"),
    # Each device numbers its uplinks 0-4095, then starts again at 0; the backend may send
    # one message twice ("send duplicate"), so (device, seqNumber) is what repeats.
    numbering=Numbering("seqNumber", 4096),
    options={
        "register": (
            DEVICE_TYPE,
            *HEADER_OPTIONS,
            Opt("--type", "data/uplink, data/bidir, error, service/status, service/geoloc, "
                "service/ack, service/data-advanced.", default="data/uplink"),
            Opt("--channel", "url, batch_url or email.", default="url",
                choices=("url", "batch_url", "email")),
            _METHOD,
            _BODY,
            _CONTENT_TYPE,
            _LINE,
            Opt("--send-duplicate", "Also send duplicate messages.", bool, False),
            Opt("--sni", "Send TLS SNI.", bool, True, negative="--no-sni"),
            Opt("--payload-config", "'name:byte:type[:len]' fields, usable as "
                "{customData#name}."),
        ),
        "unregister": (DEVICE_TYPE,),
        "list": (DEVICE_TYPE,),
        "listen": (
            Opt("--downlink-data", "Answer BIDIR requests with this downlink "
                "(16 hex characters)."),
        ),
        "replay": (
            Opt("--callback-type", "The callback type whose {variables} the templates may use "
                "(default data/uplink; data/bidir shows downlink answers)."),
            Opt("--url-template", "URL with {variables}, or a suffix of --to such as "
                "'?id={device}'."),
            _METHOD,
            _BODY,
            _CONTENT_TYPE,
            Opt("--batch", "BATCH_URL: one --line-pattern line per message, grouped by "
                "one-second windows.", bool, False),
            _LINE,
        ),
    },
    fixtures="notifyctl.providers.sigfox:fixtures",
    receiver="notifyctl.providers.sigfox.receive:make",
    rules="notifyctl.providers.sigfox.rules:SigfoxRules",
    channels="notifyctl.providers.sigfox.manage:make",
    commands="notifyctl.providers.sigfox.commands:app",
    emulator="notifyctl.providers.sigfox.emulator_delivery:SigfoxSandbox",
    trigger="notifyctl.providers.sigfox.trigger:events",
    hints={"stream": "receive its callbacks with 'notifyctl listen --provider sigfox'"},
    sandbox_args={command: ("--device-type", "sandbox")  # what the generator's messages are
                  for command in ("register", "unregister", "list")},
)
