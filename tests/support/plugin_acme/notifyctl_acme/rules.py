"""Acme delivers each reading batch with ``POST`` and ``X-Acme-Token``; one retry."""

from __future__ import annotations

from collections.abc import Iterator

from notifyctl.contract.deliver import Decision, Item, Refused, Request, Rules, Verdict
from notifyctl.errors import WireError
from notifyctl_acme import wire


class AcmeRules(Rules):
    name = "acme"
    timeout = 5.0

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        headers = {"Content-Type": "application/json"}
        if self.options.sign_key:
            headers["X-Acme-Token"] = self.options.sign_key
        for index, item in enumerate(items):
            try:
                count = len(wire.decode(item.body))
            except WireError as exc:
                self.bad_input(item.where, exc.message)
                continue
            yield Request("POST", self.options.target, headers, item.body, count, item.where,
                          f"acme-{index}", item.at)

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        return Decision(Verdict.RETRY if attempt < 2 else Verdict.FAILED)
