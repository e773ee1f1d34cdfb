"""Signatures shared by ``replay`` (signing) and ``listen`` (verifying).

- Standard Webhooks v1: ``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">``,
  space-separated list, secret given as ``whsec_<base64>`` (or bare base64, padding optional).
- Logitech Circle: ``X-Logi-Verify: <base64 HMAC-SHA256 of the exact body>``.

Comparisons are constant-time; the exact bytes are signed, never re-serialised JSON. Header
values are whatever a sender put there (any text, any length): checking one never raises.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from notifyctl.errors import UsageError

STANDARD_TOLERANCE_S = 5 * 60


def _hmac_b64(key: bytes, message: bytes) -> str:
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
    return "v1," + _hmac_b64(standard_secret(secret), signed)


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


def circle_sign(key: str, body: bytes) -> str:
    """The ``X-Logi-Verify`` value: base64 HMAC-SHA256 of the exact body."""
    return _hmac_b64(key.encode("utf-8"), body)


def circle_verify(key: str, header: str | None, body: bytes) -> str | None:
    """None when ``header`` matches the body, else what is wrong."""
    if not header:
        return "missing X-Logi-Verify"
    if same(header, circle_sign(key, body)):
        return None
    return "X-Logi-Verify does not match the body"
