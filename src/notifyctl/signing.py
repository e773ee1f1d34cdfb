"""Signatures shared by delivery rules (signing) and receivers (verifying), and what replay
does with a captured signature.

- Standard Webhooks v1: ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">``,
  space-separated list, secret given as ``whsec_<base64>`` (or bare base64, padding optional).
- ``hmac_b64``: the base64 HMAC-SHA256 a platform's own scheme builds on (a platform's own
  header scheme lives in its package).
- On replay a captured signature is kept, re-signed or refused, never sent stale silently:
  with a key (``--sign-key-env VAR``) the exact bytes sent are signed, and a captured signature
  that does not match them counts as re-signed in the report; without one, a captured
  signature on an unchanged body is sent as captured, and on a changed body (the rules rewrote
  it, or its captured Content-Length no longer fits) the delivery is refused
  (``no_key_refusal``).

Comparisons are constant-time; the exact bytes are signed, never re-serialised JSON. Header
values are whatever a sender put there (any text, any length): checking one never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from notifyctl.errors import UsageError

STANDARD_TOLERANCE_S = 5 * 60


def hmac_b64(key: bytes, message: bytes) -> str:
    """Base64 of the HMAC-SHA256 of ``message`` under ``key``."""
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode("ascii")


def _bytes(text: str) -> bytes:
    """Header text as the bytes it came from: aiohttp keeps non-UTF-8 bytes as surrogates."""
    return text.encode("utf-8", "surrogateescape")


def same(presented: str, expected: str) -> bool:
    """Constant-time equality of a presented header value and the expected one."""
    return hmac.compare_digest(_bytes(presented), _bytes(expected))


def standard_secret(secret: str) -> bytes:
    """The key bytes of a Standard Webhooks secret (``whsec_`` prefix and padding optional)."""
    raw = secret.removeprefix("whsec_")
    if not raw:
        raise UsageError("the Standard Webhooks secret is empty")
    try:
        return base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except ValueError as exc:
        raise UsageError("the Standard Webhooks secret is not base64 (whsec_...)") from exc


def standard_sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt. The id is signed as it is, dots
    included: the official libraries sign and verify ``f"{id}.{timestamp}.{body}"`` verbatim."""
    signed = _bytes(f"{msg_id}.{timestamp}.") + body
    return "v1," + hmac_b64(standard_secret(secret), signed)


def standard_verify(
    secret: str,
    headers: dict[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = STANDARD_TOLERANCE_S,
) -> str | None:
    """None when valid, else what is wrong. ``headers`` keys must be lowercase."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    # Plain ASCII digits only (int() also takes "1_0", " 10", "+10", other scripts' digits),
    # and short enough that a float holds it: a 400-digit stamp must not overflow.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 20):
        return "webhook-timestamp is not an integer number of seconds"
    timestamp = int(stamp)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return f"webhook-timestamp is more than {tolerance} s away from now"
    expected = standard_sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and same(value, expected):
            return None
    return "no webhook-signature entry matches"


def standard_matches(key: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether captured Standard Webhooks headers sign this body (their age is not checked:
    a capture is old by nature)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        stamp = int(lowered.get("webhook-timestamp", ""))
    except ValueError:
        return False
    return standard_verify(key, lowered, body, now=stamp) is None


def no_key_refusal(header: str, captured: str | None, changed: bool, key_env: str | None,
                   *, required: bool) -> str | None:
    """Why a delivery cannot be sent without a key, or None when it can go as captured."""
    hint = f"pass --sign-key-env {key_env or 'VAR'} with the key in that variable to sign it"
    if not captured:
        return f"unsigned: {header} is required and no key was given; {hint}" if required else None
    if changed:
        return f"the captured {header} no longer matches the changed body; {hint}"
    return None
