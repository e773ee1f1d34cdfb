"""Sigfox callbacks (docs/platforms/sigfox.md): the requests a custom callback would send for
captured messages, rendered from the replay options as a callback definition.

- URL channel (default): one request per message, ``--method GET|POST|PUT`` (default POST),
  the URL from ``--url-template`` (a full URL, or a suffix such as ``?id={device}`` added to
  ``--to``), the body from ``--body-template`` with ``--content-type`` (GET sends no body).
- ``--batch`` (BATCH_URL): one ``--line-pattern`` line per message, messages grouped by their
  one-second ``time`` window, one request per group.

Every template is checked before anything is sent: an unknown ``{variable}`` is a usage error
listing the valid ones for ``--callback-type`` (default data/uplink). Captured deliveries are
decoded with ``providers.sigfox.wire`` (JSON, form, query string, lines) back to each message's
variables. 10 s timeout; a failed attempt is retried once. With ``--callback-type data/bidir``
the receiver's answers are decoded (gzip, deflate), parsed and shown (``downlinkData`` must be
16 hex characters); an answer that cannot be read fails its delivery (exit 6).

The sandbox renders its registered callbacks through ``callback_request`` and delivers them
with these rules, so replay and the sandbox send the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from notifyctl import output
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

ATTEMPTS = 2  # the first send and one retry
BIDIR = "data/bidir"


def callback_request(callback: Mapping[str, Any], messages: Sequence[Mapping[str, Any]],
                     where: str, key: str, at: str | None = None) -> Request:
    """The request a callback (create body or list item) sends for ``messages``: one message
    for the URL channel, a one-second group for BATCH_URL. ``WireError`` when a variable has
    no value in a message."""
    from notifyctl.providers.sigfox import wire

    if callback.get("channel") == "BATCH_URL":
        rendered = wire.render_batch(callback, messages)
    else:
        rendered = wire.render_request(callback, messages[0])
    return Request(rendered.method, rendered.url, dict(rendered.headers), rendered.body,
                   len(messages), where, key, at)


class SigfoxRules(Rules):
    name = "sigfox"
    timeout = 10.0

    def __init__(self, options: RuleOptions) -> None:
        super().__init__(options)
        self.callback_type: str = options.extra.get("callback_type") or "data/uplink"
        self.line_pattern: str | None = options.extra.get("line_pattern")
        self.callback = self._callback(options)
        self.downlinks: dict[str, str | None] = {}  # the last BIDIR answer per device
        self.show_answers = True  # False: only record them (the sandbox)

    def _callback(self, options: RuleOptions) -> dict[str, Any]:
        """The options as a callback definition, checked with the platform's own spec."""
        from notifyctl.providers.sigfox.spec import CallbackSpec

        extra = options.extra
        template = extra.get("url_template") or ""
        if template and not urlsplit(template).scheme:
            template = options.target + template  # a suffix of --to (path or query)
        spec = CallbackSpec(
            type=self.callback_type,
            channel="batch_url" if extra.get("batch") else "url",
            url=template or options.target,
            method=(extra.get("method") or "POST").upper(),
            headers=configured_headers(options),
            body_template=extra.get("body_template"),
            content_type=extra.get("content_type"),
            line_pattern=self.line_pattern,
        )
        if self.line_pattern and not extra.get("batch"):
            raise UsageError("--line-pattern needs --batch (the BATCH_URL channel)")
        return spec.body()

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        batch = self.callback.get("channel") == "BATCH_URL"
        group: list[dict[str, Any]] = []
        group_where, group_at, window = "", None, None
        count = 0
        for item in items:
            for fields in self._messages(item):
                if not batch:
                    yield from self._one([fields], item.where, f"sigfox-{count}", item.at)
                    count += 1
                    continue
                second = _second(fields.get("time"))
                if group and second != window:
                    yield from self._one(group, group_where, f"sigfox-{count}", group_at)
                    count += 1
                    group = []
                if not group:
                    group_where, group_at, window = item.where, item.at, second
                group.append(fields)
        if group:
            yield from self._one(group, group_where, f"sigfox-{count}", group_at)

    def _messages(self, item: Item) -> list[dict[str, Any]]:
        from notifyctl.providers.sigfox import wire

        query = urlsplit(item.path or "").query
        content_type = header(item.headers, "content-type")
        # Captured BATCH_URL lines are read back through the same pattern, when it is given.
        lines = self.line_pattern if content_type and content_type.startswith(
            "text/plain") else None
        try:
            events = wire.decode(item.body, content_type=content_type, query=query,
                                 line_pattern=lines, kind=self.callback_type)
        except WireError as exc:
            self.bad_input(item.where, exc.message)
            return []
        messages = [event.raw for event in events if isinstance(event.raw, dict)]
        if len(messages) != len(events):
            self.bad_input(item.where, "a line without callback variables cannot be re-rendered")
        return messages

    def _one(self, messages: list[dict[str, Any]], where: str, key: str,
             at: str | None) -> Iterator[Request | Refused]:
        try:
            yield callback_request(self.callback, messages, where, key, at)
        except WireError as exc:
            self.bad_input(where, exc.message)

    def decide(self, status: int | None, attempt: int) -> Decision:
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        return Decision(Verdict.RETRY if attempt < ATTEMPTS else Verdict.FAILED)

    def answered(self, request: Request, status: int, content_type: str | None,
                 body: bytes) -> str | None:
        """A receiver's (decoded) answer, which the engine hands over: BIDIR downlinks are
        parsed and shown. Returns why an answer that should carry them is unusable: the
        engine counts that delivery as failed, as the downlink is lost."""
        if self.callback_type != BIDIR or not 200 <= status < 300:
            return None
        from notifyctl.providers.sigfox import wire

        try:
            answers = wire.parse_bidir_answer(status, body, content_type)
        except WireError as exc:
            return exc.message
        for device, data in answers.items():
            self.downlinks[device] = data
            if self.show_answers and self.options.notify is not None:
                shown = data if data is not None else "no data"
                self.options.notify(f"{request.where}: downlink for "
                                    f"{output.inert_str(device)}: {shown}")
        return None


def _second(value: object) -> int | None:
    try:
        return int(float(str(value)))
    except ValueError:
        return None
