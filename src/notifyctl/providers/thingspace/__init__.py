"""Verizon ThingSpace M2M provider: callback registration over SOAP (UWS) and REST, the delivered
callback formats, and the sandbox emulator.

Modules (each imported only by the command that needs it, so importing this package is free):
``services`` (known service names, allowed callback ports), ``wire`` (pure decode/encode of
delivered callbacks, SOAP ``CallbackRequest`` and REST JSON), ``soap`` (UWS envelopes and
faults), ``api`` (``SoapApi`` and ``RestApi`` management clients on httpx), ``emulator`` (the
SessionService, CallbackRegistrationService and REST routes for an aiohttp application).
"""

from __future__ import annotations

from notifyctl.contract import Opt, Platform, Setting

_USERNAME = Opt("--callback-username", "The username inside each callback.")
_PASSWORD_ENV = Opt("--callback-password-env", "Environment variable holding the password "
                    "inside each callback (masked in captures).", metavar="VAR")
_SERVICE = Opt("--service", "The callback service, e.g. DeviceUsage.",
               completer="notifyctl.providers.thingspace.services:complete")

PLATFORM = Platform(
    name="thingspace",
    rank=20,
    title="Verizon ThingSpace M2M",
    default_api_url="https://thingspace.verizon.com/api",
    # callback_password: what ThingSpace sends to the callback URL; keyring only.
    sandbox_path="/api",
    sandbox_note=" --account sandbox (SOAP: --set api=soap --api-url {url}/api/v2)",
    secrets=("username", "password", "client_id", "client_secret", "callback_password"),
    settings={"api": Setting("which management API: the REST API or SOAP (UWS)",
                             choices=("rest", "soap"), default="rest")},
    # The REST API's OAuth2 client; callback_password only for --callback-username.
    conditional_secrets={"client_id": ("api", "rest"), "client_secret": ("api", "rest"),
                         "callback_password": None},
    options={
        "register": (
            _SERVICE,
            Opt("--allow-unknown-service", "Send a service name not in the known list.", bool,
                False),
            _USERNAME,
            Opt("--callback-password-env", "Variable holding its password (else the keyring's "
                "callback_password, or a prompt).", metavar="VAR"),
        ),
        "unregister": (_SERVICE,),
        "listen": (_USERNAME, _PASSWORD_ENV),
        "replay": (_USERNAME, _PASSWORD_ENV),
    },
    channels="notifyctl.providers.thingspace.manage:make",
    receiver="notifyctl.providers.thingspace.receive:make",
    rules="notifyctl.providers.thingspace.rules:ThingSpaceRules",
    emulator="notifyctl.providers.thingspace.emulator_delivery:for_sandbox",
    hints={"stream": "ThingSpace has no live stream; receive its callbacks with "
                     "'notifyctl listen --provider thingspace'"},
    sandbox_args={
        "register": ("--account", "sandbox", "--service", "DeviceUsage", "--callback-username",
                     "hook", "--callback-password-env", "CONFORMANCE_KEY"),
        "unregister": ("--account", "sandbox", "--service", "DeviceUsage"),
        "list": ("--account", "sandbox"),
        "listen": ("--callback-username", "hook", "--callback-password-env", "CONFORMANCE_KEY"),
    },
)
