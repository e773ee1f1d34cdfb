"""Iottly webhooks are configured in the dashboard only (no public API); this module checks a
YAML description of them against the platform's limits before someone types them in.

Format (a top-level list is also accepted)::

    webhooks:
      - description: orders backend      # optional text
        url: https://example.com/hook    # required, HTTPS
        type: iottly                     # iottly (agent messages) | user (management scripts)
        channel: telemetry               # optional: only messages with this channel
        payload_only: false              # optional boolean
        headers:                         # optional, at most 5
          Authorization: Bearer xyz

At most 5 webhooks per project. Every error names the file, the webhook index and the field:
``hooks.yaml: webhooks[2].url: must be an https:// URL``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from notifyctl.errors import UsageError

MAX_WEBHOOKS = 5
MAX_HEADERS = 5
TYPES = ("iottly", "user")
KEYS = ("description", "url", "type", "channel", "payload_only", "headers")
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass(frozen=True)
class Webhook:
    url: str
    type: str
    description: str = ""
    channel: str | None = None
    payload_only: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What may be shown: header values can be credentials, so only their names."""
        return {"description": self.description, "url": self.url, "type": self.type,
                "channel": self.channel, "payload_only": self.payload_only,
                "headers": sorted(self.headers)}


def load_file(path: str | Path) -> list[Webhook]:
    """Read and check a webhook description file (``UsageError`` on anything wrong)."""
    import yaml

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8"
        raise UsageError(f"{name}: cannot read: {reason}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
        raise UsageError(f"{where}: {exc.problem or 'malformed YAML'}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"{name}: malformed YAML: {exc}") from exc
    return validate(data, name)


def validate(data: object, name: str) -> list[Webhook]:
    """Check parsed YAML data; ``name`` prefixes every error."""
    if isinstance(data, dict):
        unknown = [k for k in data if k != "webhooks"]
        if unknown:
            raise UsageError(f"{name}: unknown top-level key {str(unknown[0])!r} "
                             "(expected 'webhooks')")
        data = data.get("webhooks")
    if not isinstance(data, list):
        raise UsageError(f"{name}: expected a list under 'webhooks'")
    if len(data) > MAX_WEBHOOKS:
        raise UsageError(f"{name}: webhooks: {len(data)} webhooks, Iottly allows at most "
                         f"{MAX_WEBHOOKS} per project")
    return [_webhook(item, f"{name}: webhooks[{index}]") for index, item in enumerate(data)]


def _webhook(item: object, where: str) -> Webhook:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: expected a mapping with url and type")
    for key in item:
        if key not in KEYS:
            raise UsageError(f"{where}.{key}: unknown field", hint=f"fields: {', '.join(KEYS)}")
    url = item.get("url")
    if not isinstance(url, str) or not url:
        raise UsageError(f"{where}.url: missing")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UsageError(f"{where}.url: must be an https:// URL, got {url[:80]!r}")
    kind = item.get("type")
    if kind not in TYPES:
        raise UsageError(f"{where}.type: {kind!r} is not one of {', '.join(TYPES)}")
    description = item.get("description", "")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise UsageError(f"{where}.description: must be text")
    channel = item.get("channel")
    if channel is not None and not isinstance(channel, str):
        raise UsageError(f"{where}.channel: must be text")
    payload_only = item.get("payload_only", False)
    if not isinstance(payload_only, bool):
        raise UsageError(f"{where}.payload_only: must be true or false")
    return Webhook(url, str(kind), description, channel, payload_only,
                   _headers(item.get("headers"), f"{where}.headers"))


def _headers(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{where}: expected a mapping of name: value")
    if len(value) > MAX_HEADERS:
        raise UsageError(f"{where}: {len(value)} headers, Iottly allows at most {MAX_HEADERS}")
    headers: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not name or not set(name) <= _TOKEN:
            raise UsageError(f"{where}: {str(name)[:40]!r} is not a valid header name")
        if not isinstance(text, (str, int, float)) or isinstance(text, bool):
            raise UsageError(f"{where}.{name}: the value must be text")
        if any(c in str(text) for c in "\r\n\x00"):
            raise UsageError(f"{where}.{name}: the value must be one line")
        if name.lower() in (h.lower() for h in headers):
            raise UsageError(f"{where}.{name}: given twice")
        headers[name] = str(text)
    return headers
