"""The receiver side of the contract: what ``listen`` hands a platform's receiver and what it
gets back, plus the helpers receivers share.

A receiver is a factory ``(ReceiverSettings) -> Handler``. A handler is small and pure: it gets
a ``Request`` (method, path, query, headers, exact body) and returns an ``Outcome`` (the events
it decoded, whether the request passed the platform's check, and what to answer). It never does
I/O and never raises for anything a sender can put in a request, so the server owns capture,
errors on purpose, forwarding and output for every platform alike. A factory raises
``UsageError`` for settings no run could use (a missing key the platform needs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from notifyctl.errors import WireError
from notifyctl.events import Event
from notifyctl.signing import same


@dataclass(frozen=True)
class ReceiverSettings:
    """What a receiver is configured with: the verification secret (read from the variable
    ``--verify-key-env`` names; never printed) and the platform's own ``listen`` options."""

    verify_key: str | None = field(default=None, repr=False)
    options: Mapping[str, Any] = field(default_factory=dict)
    # The caller wants the events, not a verdict (``replay --where`` selecting captured
    # deliveries): a receiver that needs a key to verify decodes without one, unverified.
    decode_only: bool = False


@dataclass(slots=True)
class Request:
    """One received request as a handler sees it; ``headers`` match names case-insensitively."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    at: str

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class Outcome:
    """What a handler made of a request.

    ``verified`` is None when the platform has no check configured, True/False otherwise, with
    ``error`` saying what failed. ``invalid`` is set for a body that is not the platform's format
    (answered 400). ``kind`` names the request line printed when there are no events.
    ``capture_body``, when set, is written to the capture instead of the received body: the
    same request with a secret inside it masked (ThingSpace's callback password).
    """

    events: list[Event] = field(default_factory=list)
    status: int = 200
    body: bytes = b""
    content_type: str | None = None
    kind: str = "request"
    verified: bool | None = None
    error: str | None = None
    invalid: str | None = None
    capture_body: bytes | None = field(default=None, repr=False)


class Handler(Protocol):
    provider: str

    def handle(self, request: Request) -> Outcome:
        """Check, decode and choose the answer for one request; never raises on bad input."""
        ...


# -- helpers handlers share ---------------------------------------------------------------------


def json_body(body: bytes) -> Any:
    """Decode a JSON body; ``WireError`` names what is wrong."""
    import msgspec

    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise WireError(f"malformed JSON: {exc}") from exc


def invalid(message: str, verified: bool | None = None) -> Outcome:
    return Outcome(status=400, body=message.encode() + b"\n", content_type="text/plain",
                   kind="invalid", invalid=message, verified=verified)


def unverified(message: str) -> Outcome:
    """A request whose check failed; the server decides between 401 and the normal answer."""
    return Outcome(kind="unverified", verified=False, error=message)


def iso_time(value: Any) -> str | None:
    """Epoch seconds or milliseconds (number or digits) as ISO-8601 UTC; other text as given."""
    if value is None or isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value or None
    if number is None:
        return None
    if number > 1e11:  # milliseconds: 1e11 s is the year 5138
        number /= 1000
    try:
        stamp = datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        return str(value)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def header_secret_check(headers: Mapping[str, str], secret: str | None) -> str | None:
    """For platforms whose only check is a header set at registration (Pelion, Iottly, Sigfox):
    ``Authorization`` must be the secret, bare or after a scheme. None when it matches or no
    secret is configured, else what is wrong."""
    if secret is None:
        return None
    value = headers.get("Authorization")
    if not value:
        return "missing Authorization header"
    presented = value.partition(" ")[2] if " " in value else value
    if same(presented, secret) or same(value, secret):
        return None
    return "Authorization header does not match the key"


class HeaderKeyed:
    """Base of the handlers whose only check is ``header_secret_check`` (Pelion, Iottly,
    Sigfox): ``handle`` runs the check, then ``accept`` decodes the request knowing
    ``verified`` (None when no secret is configured, else True)."""

    provider: str
    secret: str | None

    def handle(self, request: Request) -> Outcome:
        problem = header_secret_check(request.headers, self.secret)
        if problem:
            return unverified(problem)
        return self.accept(request, None if self.secret is None else True)

    def accept(self, request: Request, verified: bool | None) -> Outcome:
        raise NotImplementedError


def header_text(value: str) -> str:
    """A header value safe to print and store as JSON. aiohttp keeps bytes that are not UTF-8
    as lone surrogates, which no JSON encoder takes: such a value is read byte for byte as
    ISO-8859-1 (HTTP's historical header charset) instead. Handlers verify signatures on the
    value as received (``signing`` encodes surrogates back to the sent bytes)."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


def as_text(value: Any) -> str | None:
    return None if value is None else str(value)
