"""The Sigfox callback as the API v2 knows it: type names <-> ``callbackType``/``callbackSubtype``
codes, channels, and the create body built from command-line options (checked before sending).

``callbackType`` 0 DATA, 1 SERVICE, 2 ERROR; ``callbackSubtype`` 0 STATUS, 1 GEOLOC, 2 UPLINK,
3 BIDIR, 4 ACKNOWLEDGE, 5 REPEATER, 6 DATA_ADVANCED (docs/platforms/sigfox.md). ERROR callbacks
have no
documented subtype; 0 is sent [inf].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from notifyctl.errors import UsageError
from notifyctl.providers.sigfox.templates import CUSTOM_DATA_TYPES, check_template

TYPES: dict[str, tuple[int, int]] = {
    "data/uplink": (0, 2),
    "data/bidir": (0, 3),
    "error": (2, 0),
    "service/status": (1, 0),
    "service/geoloc": (1, 1),
    "service/ack": (1, 4),
    "service/data-advanced": (1, 6),
}
# Shown by list but not creatable from the CLI.
KNOWN_CODES: dict[tuple[int, int], str] = {**{v: k for k, v in TYPES.items()},
                                           (1, 5): "service/repeater"}
CHANNELS = {"url": "URL", "batch_url": "BATCH_URL", "email": "EMAIL"}
METHODS = ("GET", "POST", "PUT")
CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json", "text/plain")
# Sigfox refuses standard header names as custom headers, Authorization excepted.
STANDARD_HEADERS = frozenset(
    {"accept", "accept-charset", "accept-encoding", "accept-language", "cache-control",
     "connection", "content-length", "content-type", "content-encoding", "cookie", "date",
     "expect", "host", "origin", "pragma", "referer", "te", "transfer-encoding", "upgrade",
     "user-agent", "via"}
)


def type_name(callback_type: object, callback_subtype: object) -> str:
    """The CLI name of a code pair; unknown pairs read ``type/subtype`` numerically."""
    key = (callback_type, callback_subtype)
    if isinstance(callback_type, int) and isinstance(callback_subtype, int):
        known = KNOWN_CODES.get((callback_type, callback_subtype))
        if known:
            return known
    return f"{key[0]}/{key[1]}"


@dataclass
class CallbackSpec:
    """What ``register`` was asked for; ``body()`` checks it and builds the API's JSON."""

    type: str = "data/uplink"
    channel: str = "url"
    url: str | None = None
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body_template: str | None = None
    content_type: str | None = None
    line_pattern: str | None = None
    send_duplicate: bool = False
    send_sni: bool = True
    payload_config: str | None = None
    enabled: bool = True
    # EMAIL channel
    subject: str | None = None
    recipient: str | None = None
    message: str | None = None

    def body(self) -> dict[str, Any]:
        """The create body; a ``UsageError`` naming the option for anything Sigfox would
        refuse, including a template variable the callback type does not offer."""
        if self.type not in TYPES:
            raise UsageError(f"--type {self.type!r} is not a callback type",
                             hint=f"types: {', '.join(TYPES)}")
        channel = CHANNELS.get(self.channel.lower())
        if channel is None:
            raise UsageError(f"--channel {self.channel!r} is not a channel",
                             hint=f"channels: {', '.join(CHANNELS)}")
        callback_type, subtype = TYPES[self.type]
        body: dict[str, Any] = {
            "channel": channel,
            "callbackType": callback_type,
            "callbackSubtype": subtype,
            "enabled": self.enabled,
            "sendDuplicate": self.send_duplicate,
        }
        if self.payload_config:
            if self.type not in CUSTOM_DATA_TYPES:
                raise UsageError(f"--payload-config applies to data callbacks, not {self.type}")
            body["payloadConfig"] = self.payload_config
        if channel == "EMAIL":
            body.update(self._email())
        else:
            body.update(self._http(channel))
        return body

    def _check(self, template: str, where: str) -> None:
        check_template(template, self.type, where=where, payload_config=self.payload_config)

    def _http(self, channel: str) -> dict[str, Any]:
        url = self.url or ""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"URL {url!r} is not an http(s) URL")
        self._check(url, "URL")
        method = self.method.upper()
        if method not in METHODS:
            raise UsageError(f"--method {self.method!r}: use {', '.join(METHODS)}")
        out: dict[str, Any] = {"url": url, "httpMethod": method, "sendSni": self.send_sni}
        if channel == "BATCH_URL":
            if self.headers or self.body_template or self.content_type:
                raise UsageError("--header, --body-template and --content-type are for the url "
                                 "channel; batch_url sends --line-pattern lines")
            if not self.line_pattern:
                raise UsageError("--channel batch_url needs --line-pattern",
                                 hint="e.g. --line-pattern '{device};{time};{data};'")
            self._check(self.line_pattern, "--line-pattern")
            out["linePattern"] = self.line_pattern
            return out
        if self.line_pattern:
            raise UsageError("--line-pattern is for --channel batch_url")
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            if name.lower() in STANDARD_HEADERS:
                raise UsageError(f"--header {name}: Sigfox refuses standard headers "
                                 "(Authorization excepted)")
            self._check(value, f"--header {name}")
            headers[name] = value
        if headers:
            out["headers"] = headers
        if self.body_template is not None or self.content_type is not None:
            if method == "GET":
                raise UsageError("--body-template and --content-type need --method POST or PUT "
                                 "(GET sends the variables in the query string)")
            content_type = self.content_type or CONTENT_TYPES[0]
            if content_type not in CONTENT_TYPES:
                raise UsageError(f"--content-type {content_type!r}",
                                 hint=f"Sigfox sends {', '.join(CONTENT_TYPES)}")
            if self.type == "service/data-advanced" and content_type != "application/json":
                raise UsageError("service/data-advanced callbacks send JSON only: "
                                 "--content-type application/json")
            if self.body_template is not None:
                self._check(self.body_template, "--body-template")
                out["bodyTemplate"] = self.body_template
            out["contentType"] = content_type
        return out

    def _email(self) -> dict[str, Any]:
        if not self.recipient or "@" not in self.recipient:
            raise UsageError("--channel email needs a recipient address")
        if self.url or self.line_pattern or self.body_template or self.headers:
            raise UsageError("the email channel takes a recipient, subject and message only")
        subject = self.subject or "Sigfox {device}"
        message = self.message or "{device} {time} {data}"
        self._check(subject, "--subject")
        self._check(message, "--message")
        return {"recipient": self.recipient, "subject": subject, "message": message}


def describe(item: Mapping[str, Any]) -> dict[str, Any]:
    """A list item in the shape ``notifyctl list`` shows (one row per callback)."""
    return {
        "id": item.get("id"),
        "type": type_name(item.get("callbackType"), item.get("callbackSubtype")),
        "channel": str(item.get("channel", "")).lower(),
        "target": item.get("url") or item.get("recipient"),
        "method": item.get("httpMethod"),
        "enabled": bool(item.get("enabled")),
        "dead": bool(item.get("dead")),
        "downlink": bool(item.get("downlinkHook")),
    }
