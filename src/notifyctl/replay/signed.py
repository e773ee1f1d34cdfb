"""Captured signatures on replay: keep, re-sign or refuse (never send a stale one silently).

- A key given (``--sign-key-env VAR``): the exact bytes sent are signed; a captured signature
  that does not match them counts as re-signed in the report.
- No key: a captured signature on an unchanged body is sent as captured; on a changed body (the
  rules rewrote it, or its captured Content-Length no longer fits) the delivery is refused and
  reported. Signing itself lives in ``notifyctl.signing``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from notifyctl import signing


def no_key_refusal(header: str, captured: str | None, changed: bool, key_env: str | None,
                   *, required: bool) -> str | None:
    """Why a delivery cannot be sent without a key, or None when it can go as captured."""
    hint = f"pass --sign-key-env {key_env or 'VAR'} with the key in that variable to sign it"
    if not captured:
        return f"unsigned: {header} is required and no key was given; {hint}" if required else None
    if changed:
        return f"the captured {header} no longer matches the changed body; {hint}"
    return None


def circle_matches(key: str, captured: str, body: bytes) -> tuple[str, bool]:
    """The fresh X-Logi-Verify, and whether the captured one matched it."""
    fresh = signing.circle_sign(key, body)
    return fresh, hmac.compare_digest(captured.encode(), fresh.encode())


def standard_matches(key: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether captured Standard Webhooks headers sign this body (their age is not checked:
    a capture is old by nature)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        stamp = int(lowered.get("webhook-timestamp", ""))
    except ValueError:
        return False
    return signing.standard_verify(key, lowered, body, now=stamp) is None
