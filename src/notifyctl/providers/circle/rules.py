"""Logitech Circle server notifications (docs/platforms/circle.md): ``POST`` JSON signed with
``X-Logi-Verify`` (base64 HMAC-SHA256 of the exact body, key from ``--sign-key-env``).

5 s per event; 2xx accepted; 410 means "remove this registration": nothing more is sent to the
target; any other status, a timeout or a network error gets two more immediate attempts, then
the event is dropped. Redirects are never followed (the engine never follows any).
"""

from __future__ import annotations

from collections.abc import Iterator

from notifyctl.contract.deliver import (
    Decision,
    Item,
    Refused,
    Request,
    Rules,
    Verdict,
    configured_headers,
    header,
    length_mismatch,
)
from notifyctl.providers.circle.signing import circle_matches, circle_sign
from notifyctl.signing import no_key_refusal

ATTEMPTS = 3  # the first try and "two more times in quick succession"


class CircleRules(Rules):
    name = "circle"
    timeout = 5.0

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        extra = configured_headers(self.options)
        key = self.options.sign_key
        target = self.options.target
        for index, item in enumerate(items):
            body = item.body
            captured = header(item.headers, "x-logi-verify")
            if key is None:
                reason = no_key_refusal("X-Logi-Verify", captured, length_mismatch(item),
                                        self.options.sign_key_env, required=True)
                if reason or captured is None:
                    yield Refused(item.where, reason or "unsigned")
                    continue
                signature = captured
            elif captured:
                signature, matched = circle_matches(key, captured, body)
                self.resigned += not matched
            else:
                signature = circle_sign(key, body)
            headers = {"Content-Type": "application/json", **extra, "X-Logi-Verify": signature}
            yield Request("POST", target, headers, body, 1, item.where, f"circle-{index}", item.at)

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        if status == 410:
            return Decision(Verdict.GONE)
        return Decision(Verdict.RETRY if attempt < ATTEMPTS else Verdict.FAILED)
