"""Generic webhooks: any sender or receiver speaking Standard Webhooks v1 (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``: HMAC-SHA256 over ``id.timestamp.body``).

Not a platform with an API: it has no management, stream or emulator, only ``listen``'s
receiver (signature and ±5 minute timestamp check) and ``replay``'s rules (captured requests
re-sent as they were, optionally signed).
"""

from __future__ import annotations

from notifyctl.contract import Opt, Platform

PLATFORM = Platform(
    name="generic",
    rank=60,
    title="Standard Webhooks (any sender)",
    options={
        "replay": (
            Opt("--sign", "Sign with 'standard-webhooks'.", choices=("standard-webhooks",)),
            Opt("--keep-path", "Append each captured path and query to --to's path "
                "(http://h/base + /hook?x=1 -> http://h/base/hook?x=1).", bool, False),
        ),
    },
    fixtures="notifyctl.providers.generic:fixtures",
    receiver="notifyctl.providers.generic.receive:make",
    rules="notifyctl.providers.generic.rules:GenericRules",
    hints={"channels": "generic webhooks are registered with the sender itself",
           "stream": "receive them with 'notifyctl listen --provider generic'"},
    sandbox_args={"listen": ("--verify-key-env", "CONFORMANCE_KEY"),
                  "replay": ("--sign", "standard-webhooks", "--sign-key-env", "CONFORMANCE_KEY")},
)
