"""What every sink shares: the ``--sink`` URL (parsed, checked, its password refused and masked),
the address template over event fields, the message (address, id, body) and the client protocol
each system's module implements.

A template names event fields in braces (``iot/{provider}/{device}/{kind}``); a value is
escaped (``%XX``) where the system forbids its characters inside one level of an address
(MQTT: ``+ # /`` and NUL; NATS: ``. * >`` and whitespace), ``%`` included so the escape is
reversible; a field an event lacks becomes ``_``. Naming a field events do not have is exit 2.

The body of a message is the event's JSON line exactly as ``-o jsonl`` prints it. Its id (NATS
``Nats-Msg-Id``, the Redis entry's ``id`` field) is the event's own id where the platform's ids
name one event each (``Platform.unique_ids``), else derived: a hash of the provider, kind,
device, time and the item as received (``raw``), so a re-sent item gets the same id.
"""

from __future__ import annotations

import hashlib
import os
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol
from urllib.parse import parse_qsl, urlsplit

from notifyctl.errors import UsageError
from notifyctl.events import Event

__all__ = ["Client", "Message", "SinkDown", "SinkRefused", "SinkUrl", "Template", "message_ids",
           "parse_url"]

# scheme -> its system (and extra); tls:// is NATS over TLS, as NATS spells its server URLs
SCHEMES = {"mqtt": "mqtt", "mqtts": "mqtt", "nats": "nats", "tls": "nats", "redis": "redis"}
TLS_SCHEMES = frozenset({"mqtts", "tls"})  # TLS with tls.client_context (--ca-bundle etc.)
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883, "nats": 4222, "tls": 4222, "redis": 6379}
EVENT_FIELDS = tuple(Event.__struct_fields__)
PASSWORD_ENV = "NOTIFYCTL_SINK_PASSWORD"
MISSING_VALUE = "_"


class SinkDown(Exception):
    """The broker cannot take messages now (connection lost, refused, timed out); retryable."""


class SinkRefused(SinkDown):
    """The broker refuses this client as configured: its credentials (``credentials``) or, over
    TLS, its certificate is not trusted. Retrying the same cannot help: the run ends."""

    def __init__(self, reason: str, *, credentials: bool = False) -> None:
        super().__init__(reason)
        self.credentials = credentials


class Message(NamedTuple):
    """One message: a tuple, the cheapest record to build once per event."""

    address: str  # topic, subject or stream key
    id: str
    body: bytes


class Client(Protocol):
    """One broker connection, as each system's module provides it."""

    max_message: int  # bytes a message body may have (known once connected)
    duplicates: int  # messages the broker said it already had (JetStream), else 0
    max_address: int  # bytes a topic, subject or key may have (UTF-8)

    async def connect(self) -> None:
        """Connect (again); raises SinkDown when the broker cannot be reached."""
        ...

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish all and wait until the broker acknowledged each; SinkDown otherwise."""
        ...

    async def close(self) -> None: ...


# -- the URL --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SinkUrl:
    """A parsed ``--sink`` URL; ``shown`` is the URL safe to print."""

    scheme: str
    host: str
    port: int
    username: str | None
    path: str  # after the first '/', unquoted as typed
    query: dict[str, str] = field(default_factory=dict)
    shown: str = ""

    @property
    def system(self) -> str:
        """The message system (and extra) of the scheme: ``mqtts`` is MQTT over TLS."""
        return SCHEMES[self.scheme]

    @property
    def tls(self) -> bool:
        return self.scheme in TLS_SCHEMES

    def password(self, keyring: Callable[[str], str | None] | None = None,
                 env: Mapping[str, str] = os.environ) -> str | None:
        """The password from the environment (per scheme first) or the keyring, if any."""
        value = env.get(password_env(self.scheme)) or env.get(PASSWORD_ENV)
        if value:
            return value
        return keyring(f"{self.system}-password") if keyring is not None else None


def password_env(scheme: str) -> str:
    """The variable holding a sink's password: one per system (mqtt:// and mqtts:// share)."""
    return f"NOTIFYCTL_{SCHEMES.get(scheme, scheme).upper()}_PASSWORD"


def mask_url(url: str) -> str:
    """``url`` with the password part of its userinfo replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{hostport}{slash}{tail}"


def parse_url(url: str) -> SinkUrl:
    """Parse and check one ``--sink`` URL (exit 2 naming it and the fix)."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"--sink {shown}: not a URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UsageError(f"--sink {shown}: unknown scheme {parts.scheme + '://'!r}",
                         hint="use mqtt://host:port/TOPIC (mqtts:// over TLS), "
                              "nats://host:port/SUBJECT (tls:// over TLS) or "
                              "redis://host:port/DB?stream=KEY")
    if parts.password is not None:
        raise UsageError(f"--sink {shown}: a password in the URL is visible to every process "
                         "on this machine",
                         hint=f"remove it and set {password_env(scheme)} (or {PASSWORD_ENV}), "
                              "or store it with the profile's keyring as "
                              f"'{SCHEMES[scheme]}-password'")
    if not parts.hostname:
        raise UsageError(f"--sink {shown}: no host", hint=f"e.g. {scheme}://127.0.0.1/...")
    return SinkUrl(scheme, parts.hostname, port or DEFAULT_PORTS[scheme], parts.username or None,
                   parts.path[1:], dict(parse_qsl(parts.query)), shown)


# -- templates ------------------------------------------------------------------------------
def _escapes(forbidden: str) -> dict[int, str]:
    return {ord(char): f"%{ord(char):02X}" for char in "%" + forbidden}


ESCAPES = {
    "mqtt": _escapes("+#/\x00"),
    "nats": _escapes(".*> \t\r\n\x00"),
    "redis": _escapes(""),
}


class Template:
    """An address template compiled once; ``render(event)`` is the address of one event."""

    def __init__(self, text: str, scheme: str, what: str, shown: str) -> None:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise UsageError(f"--sink {shown}: bad {what} template {text!r}: {exc}",
                             hint="fields are written {name}; a literal brace is {{ or }}"
                             ) from exc
        names = [name for _, name, _, _ in parsed if name is not None]
        for name in names:
            if name not in EVENT_FIELDS:
                raise UsageError(f"--sink {shown}: the {what} template names {{{name}}}, a "
                                 "field events do not have",
                                 hint=f"fields: {', '.join(EVENT_FIELDS)}")
        self.text, self.what, self.shown = text, what, shown
        self.fields = tuple(dict.fromkeys(names))
        self._table = ESCAPES[scheme]

    @property
    def constant(self) -> bool:
        return not self.fields

    def render(self, event: Event) -> str:
        if not self.fields:
            return self.text
        table = self._table
        values = {}
        for name in self.fields:
            value = getattr(event, name)
            text = MISSING_VALUE if value is None or value == "" else str(value)
            values[name] = text.translate(table)
        return self.text.format_map(values)

    def refuse(self, characters: str, why: str) -> None:
        """Exit 2 when the template's own text holds one of ``characters``."""
        literal = self.wildcard("")
        if any(char in literal for char in characters):
            raise UsageError(f"--sink {self.shown}: the {self.what} {self.text!r} {why}",
                             hint="values from event fields are escaped; the text is not")

    def wildcard(self, token: str) -> str:
        """The template with every field replaced by ``token`` (a subscription pattern)."""
        return self.text.format_map({name: token for name in self.fields})


# -- message ids ----------------------------------------------------------------------------
def derived_id(event: Event) -> str:
    from notifyctl.events import encode_jsonl

    key = encode_jsonl([Event(event.provider, event.kind, event.device, event.time,
                              raw=event.raw if event.raw is not None else event.payload)])
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def message_ids(events: Sequence[Event], unique_ids: bool) -> list[str]:
    """Each event's message id: its own where ids are unique, else derived (module doc)."""
    if unique_ids:
        return [event.id if event.id is not None else derived_id(event) for event in events]
    return [derived_id(event) for event in events]
