"""Iottly webhooks: ``POST {"msg": ...}`` (or the payload alone with ``--payload-only``) with
only the configured headers (at most 5, as the project settings allow); no signature, no retry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from notifyctl.contract.deliver import Item, Refused, Request, Rules, configured_headers
from notifyctl.errors import WireError

MAX_HEADERS = 5


class IottlyRules(Rules):
    name = "iottly"
    timeout = 10.0

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        extra = configured_headers(self.options, limit=MAX_HEADERS)
        headers = {"Content-Type": "application/json", **extra}
        payload_only = bool(self.options.extra.get("payload_only"))
        for index, item in enumerate(items):
            body = item.body
            try:
                body = self.shape(body, payload_only)
            except WireError as exc:
                self.bad_input(item.where, exc.message)
                continue
            yield Request("POST", self.options.target, headers, body, 1, item.where,
                          f"iottly-{index}", item.at)

    @staticmethod
    def shape(body: bytes, payload_only: bool) -> bytes:
        """Captured bodies may be ``{"msg": ...}`` or a bare message; send what the webhook
        would: the envelope, or with payload-only the message's ``payload``."""
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise WireError("not a JSON iottly message") from exc
        wrapped = isinstance(doc, dict) and set(doc) == {"msg"}
        msg = doc["msg"] if wrapped else doc
        if payload_only:
            if wrapped or (isinstance(msg, dict) and "payload" in msg and "from" in msg):
                payload = msg.get("payload") if isinstance(msg, dict) else msg
                return json.dumps(payload, separators=(",", ":")).encode()
            return body  # already a bare payload: as captured
        if wrapped:
            return body  # byte for byte as captured
        return b'{"msg":' + body.strip() + b"}"
