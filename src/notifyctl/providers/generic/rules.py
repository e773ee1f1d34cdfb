"""Generic webhooks: each captured request re-sent as it was (method, headers minus hop-by-hop
and masked secrets) to ``--to`` exactly, or with ``--keep-path`` to ``--to`` with the captured
path and query appended (``join_url``); optionally signed with Standard Webhooks v1.

``--sign standard-webhooks --sign-key-env VAR`` adds ``webhook-id`` (the captured one, or one
made per delivery: stable across retries and duplicates), ``webhook-timestamp`` (of each
attempt) and ``webhook-signature``. Without ``--max-attempts`` nothing is retried; with it,
timeouts, network errors, 429 and 5xx are retried with exponential back-off.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

from notifyctl import signing
from notifyctl.contract.deliver import (
    Decision,
    Item,
    Refused,
    Request,
    RuleOptions,
    Rules,
    Verdict,
    configured_headers,
    header,
    join_url,
    length_mismatch,
    replayable_headers,
)
from notifyctl.errors import UsageError
from notifyctl.signing import no_key_refusal, standard_matches

STANDARD = "standard-webhooks"
_SW_HEADERS = frozenset({"webhook-id", "webhook-timestamp", "webhook-signature"})


class GenericRules(Rules):
    name = "generic"
    timeout = 30.0  # Standard Webhooks advises senders 15-30 s

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        self.sign: str | None = options.extra.get("sign")  # --sign
        self.keep_path = bool(options.extra.get("keep_path"))  # --keep-path
        if self.sign not in (None, STANDARD):
            raise UsageError(f"--sign {self.sign!r} is not supported", hint=f"use {STANDARD}")
        if self.sign and not options.sign_key:
            raise UsageError(f"--sign {STANDARD} needs the secret: pass --sign-key-env VAR")
        if options.sign_key and self.sign:
            signing.standard_secret(options.sign_key)  # a malformed secret fails before sending
        self.attempts = options.max_attempts or 1
        self._run = secrets.token_hex(4)

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        extra = configured_headers(self.options)
        sign = self.sign == STANDARD
        key = self.options.sign_key
        for index, item in enumerate(items):
            headers = replayable_headers(item.headers)
            captured = header(headers, "webhook-signature")
            msg_id = header(headers, "webhook-id") or f"msg_{self._run}{index:x}"
            if sign and key:
                if captured and not standard_matches(key, headers, item.body):
                    self.resigned += 1
                headers = {k: v for k, v in headers.items() if k.lower() not in _SW_HEADERS}
                headers["webhook-id"] = msg_id
            else:
                reason = no_key_refusal("webhook-signature", captured, length_mismatch(item),
                                        self.options.sign_key_env, required=False)
                if reason:
                    yield Refused(item.where, reason)
                    continue
            headers.update(extra)
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
            yield Request(item.method or "POST", self._url(item), headers, item.body, 1,
                          item.where, msg_id, item.at)

    def _url(self, item: Item) -> str:
        if self.keep_path:
            return join_url(self.options.target, item.path)
        return self.options.target

    def attempt_headers(self, request: Request, attempt: int) -> dict[str, str]:
        if self.sign != STANDARD or self.options.sign_key is None:
            return request.headers
        stamp = int(time.time())
        signature = signing.standard_sign(self.options.sign_key, request.key, stamp, request.body)
        return {**request.headers, "webhook-timestamp": str(stamp),
                "webhook-signature": signature}

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        if status == 410:
            return Decision(Verdict.GONE)
        transient = status is None or status == 429 or status >= 500
        if transient and attempt < self.attempts:
            return Decision(Verdict.RETRY, self.options.retry_base * 2 ** (attempt - 1))
        return Decision(Verdict.FAILED)


