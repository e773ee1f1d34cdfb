"""Circle's callback signature: ``X-Logi-Verify: <base64 HMAC-SHA256 of the exact body>``,
keyed with the registration's authKey (docs/platforms/circle.md). The emulator and the rules
sign with it, the receiver verifies with it; comparisons are constant-time.
"""

from __future__ import annotations

from notifyctl.signing import hmac_b64, same


def circle_sign(key: str, body: bytes) -> str:
    """The ``X-Logi-Verify`` value: base64 HMAC-SHA256 of the exact body."""
    return hmac_b64(key.encode("utf-8"), body)


def circle_verify(key: str, header: str | None, body: bytes) -> str | None:
    """None when ``header`` matches the body, else what is wrong."""
    if not header:
        return "missing X-Logi-Verify"
    if same(header, circle_sign(key, body)):
        return None
    return "X-Logi-Verify does not match the body"


def circle_matches(key: str, captured: str, body: bytes) -> tuple[str, bool]:
    """The fresh X-Logi-Verify, and whether the captured one matched it."""
    fresh = circle_sign(key, body)
    return fresh, same(captured, fresh)
