"""Verizon ThingSpace callbacks (docs/platforms/thingspace.md): ``POST`` of the captured SOAP
``CallbackRequest`` (``text/xml``) or REST JSON body, one callback a request.

Each captured body is checked with the provider's ``wire`` decoder first (a body the platform
could not have sent is bad input). The credentials inside are what a receiver checks, and
``listen --save`` masks the password (``***``): ``--callback-username`` and
``--callback-password-env VAR`` put real ones back (``rewrite.with_credentials``; a SOAP body is
edited in place, a REST one re-serialised). A body whose password is still masked is not sent.

2xx is accepted; anything else (or no answer in 20 s) is sent again up to the body's
``maxCallbackThreshold`` sends (REST; SOAP bodies carry none: 4, the platform's), or
``--max-attempts``. The platform waits about 5 minutes between sends; a replay waits
``--retry-base`` seconds. REST bodies carry the send number in ``callbackCount``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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
)
from notifyctl.errors import UsageError, WireError
from notifyctl.secrets import from_env

DEFAULT_THRESHOLD = 4  # sends of an unacknowledged callback (SOAP bodies do not say)


@dataclass(slots=True)
class CallbackDelivery(Request):
    """A request plus the callbackCount its REST body carries (None: SOAP, or absent)."""

    rest: bool = False
    count: int | None = None


class ThingSpaceRules(Rules):
    name = "thingspace"
    timeout = 20.0

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        if options.max_attempts is not None and options.max_attempts < 1:
            raise UsageError(f"--max-attempts must be at least 1, got {options.max_attempts}")
        # The credentials put inside each body; None keeps the captured value. The password
        # comes from the variable --callback-password-env names, never from the command line.
        self.callback_username: str | None = options.extra.get("callback_username")
        self.callback_password = from_env("--callback-password-env",
                                           options.extra.get("callback_password_env"))

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        from notifyctl.providers.thingspace import rewrite, wire

        extra = configured_headers(self.options)
        username, password = self.callback_username, self.callback_password
        for index, item in enumerate(items):
            captured_type = header(item.headers, "content-type")
            try:
                callback = wire.decode_callback(item.body, captured_type)
                body = item.body
                if username is not None or password is not None:
                    body = rewrite.with_credentials(body, username, password, captured_type)
            except WireError as exc:
                self.bad_input(item.where, f"not a ThingSpace callback: {exc.message}")
                continue
            if password is None and callback.password == wire.MASK:
                yield Refused(item.where, "the captured password is masked (***): pass "
                              "--callback-password-env VAR to send the real one")
                continue
            rest = callback.form == "rest"
            threshold = callback.max_callback_threshold if rest else None
            attempts = self.options.max_attempts or threshold or DEFAULT_THRESHOLD
            content_type = wire.JSON_CONTENT_TYPE if rest else wire.SOAP_CONTENT_TYPE
            headers = {"Content-Type": content_type, **extra}
            yield CallbackDelivery("POST", self.options.target, headers, body, 1, item.where,
                                   f"thingspace-{index}", item.at, max(attempts, 1), rest,
                                   callback.callback_count if rest else None)

    def attempt_body(self, request: Request, attempt: int) -> bytes:
        if not isinstance(request, CallbackDelivery) or not request.rest \
                or request.count == attempt:
            return request.body
        from notifyctl.providers.thingspace import rewrite

        return rewrite.with_callback_count(request.body, attempt)

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        # The bound is each body's own (Request.max_attempts); the engine stops there.
        return Decision(Verdict.RETRY, self.options.retry_base)
