"""Signatures, checked against the Standard Webhooks test vector and an independent HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from notifyctl.errors import UsageError
from notifyctl.providers.circle.signing import circle_sign, circle_verify
from notifyctl.signing import standard_sign, standard_verify

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TS = 1614265330
BODY = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature: str = EXPECTED, ts: int = TS) -> dict[str, str]:
    return {"webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_standard_webhooks_vector() -> None:
    assert standard_sign(SECRET, MSG_ID, TS, BODY) == EXPECTED
    assert standard_verify(SECRET, headers(), BODY, now=TS) is None
    # without the prefix, and with the padding stripped
    assert standard_sign(SECRET.removeprefix("whsec_").rstrip("="), MSG_ID, TS, BODY) == EXPECTED


def test_standard_webhooks_negative_cases() -> None:
    assert standard_verify(SECRET, headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="),
                           BODY, now=TS)
    assert standard_verify(SECRET, {"webhook-id": MSG_ID}, BODY, now=TS)
    assert standard_verify(SECRET, headers(), BODY + b" ", now=TS)
    assert standard_verify(SECRET, headers(), BODY, now=TS + 301)  # outside tolerance
    assert standard_verify(SECRET, headers(f"v1a,xyz {EXPECTED}"), BODY, now=TS) is None
    with pytest.raises(UsageError):
        standard_sign("whsec_", MSG_ID, TS, BODY)


def test_circle_signature_matches_an_independent_hmac() -> None:
    body = b'{"eventType":"motion","accessoryId":"a1"}'
    independent = base64.b64encode(hmac.new(b"k3y", body, hashlib.sha256).digest()).decode()
    assert circle_sign("k3y", body) == independent
    assert circle_verify("k3y", independent, body) is None
    assert circle_verify("k3y", independent, body + b"x")
    assert circle_verify("k3y", None, body)


def test_standard_webhooks_id_with_dots_is_signed_verbatim() -> None:
    # The official libraries sign f"{id}.{timestamp}.{body}" whatever the id holds.
    msg_id = "evt.2026.11.23"
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    independent = base64.b64encode(hmac.new(key, f"{msg_id}.{TS}.".encode() + BODY,
                                            hashlib.sha256).digest()).decode()
    assert standard_sign(SECRET, msg_id, TS, BODY) == "v1," + independent
    signed = {"webhook-id": msg_id, "webhook-timestamp": str(TS),
              "webhook-signature": "v1," + independent}
    assert standard_verify(SECRET, signed, BODY, now=TS) is None


@pytest.mark.parametrize("stamp", ["9" * 400, "9" * 5000, "1_614_265_330", " 1614265330",
                                   "+1614265330", "١٦١٤٢٦٥٣٣٠", "-1", "1e9", "\udcff"])
def test_standard_webhooks_odd_timestamps_fail_without_raising(stamp: str) -> None:
    odd = {**headers(), "webhook-timestamp": stamp}
    assert standard_verify(SECRET, odd, BODY, now=TS)


@pytest.mark.parametrize("value", ["v1,\udcff\u00e9", "v1,\u00e9" * 5000, "\x00"])
def test_odd_signature_values_fail_without_raising(value: str) -> None:
    assert standard_verify(SECRET, headers(value), BODY, now=TS)
    assert standard_verify(SECRET, {**headers(), "webhook-id": "\udcff"}, BODY, now=TS)
    assert circle_verify("k3y", value, BODY)
