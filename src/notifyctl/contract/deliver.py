"""The delivery side of the contract: a platform's ``Rules`` (what requests it would send for
captured deliveries, and what each answer means), the values they trade with the delivery
engine, and what the sandbox hands an emulator that delivers callbacks.

A platform adds replay and sandbox delivery by subclassing ``Rules`` in its ``rules.py``: it
turns captured deliveries (``Item``) into the requests its platform would send (``requests``),
adds per-attempt headers or bodies (``attempt_headers``, ``attempt_body``), and says what each
answer means (``decide``). Pacing, concurrency, timeouts, the transport and the report belong
to the engine (``notifyctl.replay``); the platform's own ``replay`` options arrive in
``RuleOptions.extra``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from notifyctl.errors import UsageError


@dataclass(slots=True)
class Item:
    """One captured delivery: the exact body and, where the input has them, request details."""

    where: str  # FILE:LINE (or FILE:entry N for HAR)
    body: bytes
    method: str | None = None
    path: str | None = None
    headers: dict[str, str] | None = None
    at: str | None = None  # ISO capture time
    provider: str | None = None
    edited: bool = False  # the body is no longer the captured one (``replay --patch``)


@dataclass
class InputStats:
    """Counts the engine's report takes over: what was read and what was skipped."""

    read: int = 0
    invalid: int = 0
    problems: list[str] = field(default_factory=list)  # the first few skipped, FILE:LINE: why

    def skip(self, message: str) -> None:
        self.invalid += 1
        if len(self.problems) < 20:
            self.problems.append(message)


HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
     "te", "trailer", "trailers", "transfer-encoding", "upgrade", "host", "content-length",
     "accept-encoding"}
)


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    GONE = "gone"  # the receiver asked to stop: nothing more goes to this target
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    delay: float = 0.0  # seconds before the next attempt (RETRY only)


@dataclass(slots=True)
class Request:
    """One delivery to make: the exact bytes and headers, and what it stands for."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    events: int
    where: str  # FILE:LINE of the (first) captured delivery it came from
    key: str  # stable per delivery across retries and duplicates (webhook-id)
    at: str | None = None  # capture time of the first event, for --realtime/--speed
    # At most this many attempts, whatever ``decide`` says (a bound the body itself carries,
    # such as ThingSpace's maxCallbackThreshold); None leaves it to ``decide``.
    max_attempts: int | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A delivery the rules will not send, with why (e.g. a stale signature and no key)."""

    where: str
    reason: str
    events: int = 1


@dataclass
class RuleOptions:
    """What every platform's rules are configured with; ``extra`` holds the platform's own."""

    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    sign_key: str | None = None  # the key itself, read from --sign-key-env VAR by the caller
    sign_key_env: str | None = None  # the variable's name, for messages
    max_attempts: int | None = None
    retry_base: float = 1.0
    timeout: float | None = None  # overrides the platform's own request timeout
    skip_invalid: bool = False  # a body the platform could not have sent is counted, not fatal
    # The platform's own replay options (its Opt declarations), by dest. A secret arrives as
    # the name of its variable (--...-env VAR); the rules read it with secrets.from_env.
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    stats: InputStats = field(default_factory=InputStats)
    # Where the rules' lines for the user go (e.g. a downlink an answer carried): platforms do
    # not print; the command passes its output's info, the sandbox nothing (dropped).
    notify: Callable[[str], None] | None = field(default=None, repr=False)


class Rules:
    """Base class of a provider's delivery rules; see the module docstring."""

    name = "base"
    timeout = 10.0  # the platform's request timeout, seconds
    sequential = False  # one delivery in flight, the next only after the previous settled
    stop_on_failure = False  # a failed delivery ends the run (nothing after it may be sent)
    # A replay sends ``handshake()`` before the deliveries (a platform option asked for it);
    # the sandbox sends it when a channel is registered, whatever this says.
    handshake_first = False

    def __init__(self, options: RuleOptions) -> None:
        self.options = options
        self.resigned = 0  # captured signatures that no longer matched and were replaced
        if options.timeout is not None:
            self.timeout = options.timeout

    def settings(self) -> dict[str, str]:
        """How these rules shape the deliveries, for the summary and the report
        (e.g. ``{"batches": "as captured"}``)."""
        return {}

    def requests(self, items: Iterator[Item]) -> Iterator[Request | Refused]:
        """The deliveries the platform would make for these captured ones, in order."""
        raise NotImplementedError

    def bad_input(self, where: str, what: str) -> None:
        """A captured body this platform could not have sent: stop, or count it and go on."""
        message = f"{where}: {what}"
        if not self.options.skip_invalid:
            raise UsageError(message)
        self.options.stats.skip(message)

    def handshake(self) -> Request | None:
        """The platform's verification request, if it has one (see ``handshake_first``)."""
        return None

    def attempt_headers(self, request: Request, attempt: int) -> dict[str, str]:
        """Headers of attempt ``attempt`` (1-based); override for per-attempt signatures."""
        return request.headers

    def attempt_body(self, request: Request, attempt: int) -> bytes:
        """Body of attempt ``attempt`` (1-based); override where the platform numbers its
        sends inside the body (ThingSpace's callbackCount)."""
        return request.body

    def decide(self, status: int | None, attempt: int) -> Decision:
        """What the answer means: ``status`` is None for a timeout or network error."""
        if status is not None and 200 <= status < 300:
            return Decision(Verdict.ACCEPTED)
        return Decision(Verdict.FAILED)


def configured_headers(options: RuleOptions, *, limit: int | None = None) -> dict[str, str]:
    """The ``--header`` values as a dict (the last of a repeated name wins)."""
    if limit is not None and len(options.headers) > limit:
        raise UsageError(f"at most {limit} --header values are allowed for this provider "
                         f"(got {len(options.headers)})")
    return {name: value for name, value in options.headers}


def replayable_headers(captured: Mapping[str, str] | None) -> dict[str, str]:
    """Captured headers minus hop-by-hop ones and masked secrets (``Bearer ***`` is useless)."""
    if not captured:
        return {}
    return {name: value for name, value in captured.items()
            if name.lower() not in HOP_BY_HOP and not value.endswith("***")}


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def length_mismatch(item: Item) -> bool:
    """The body is not the one captured: edited by ``--patch``, or the captured Content-Length
    disagrees with it (edited by hand); a captured signature no longer holds for it."""
    if item.edited:
        return True
    declared = header(item.headers, "content-length")
    return declared is not None and declared.strip().isdigit() and int(declared) != len(item.body)


def join_url(target: str, path: str | None) -> str:
    """``--to`` with a captured path and query appended to its own (``http://h/base?k=1`` +
    ``/hook?x=1`` is ``http://h/base/hook?k=1&x=1``)."""
    if not path:
        return target
    base, captured = urlsplit(target), urlsplit(path)
    joined = base.path.rstrip("/") + "/" + captured.path.lstrip("/")
    query = "&".join(q for q in (base.query, captured.query) if q)
    return urlunsplit((base.scheme, base.netloc, joined, query, ""))


# The outcome of an attempt cancelled before its answer came (Ctrl-C, a channel removed): the
# receiver may have seen it. One of the keys of ``DeliveryLog.statuses``.
INTERRUPTED = "interrupted"


class DeliveryLog(Protocol):
    """What an emulator reads of its deliveries: the delivery engine's running counts."""

    attempts: int
    accepted: int
    retried: int
    failed: int
    refused: int
    events_accepted: int

    @property
    def statuses(self) -> Mapping[str, int]:
        """Attempts by outcome: a status code, ``timeout``, ``connect-error``, INTERRUPTED..."""


class Sender(Protocol):
    """Delivers requests by a platform's rules (the replay engine's ``Deliverer``): attempts,
    back-off, timeouts and redirects as the rules say. ``last`` is the latest attempt's outcome
    (a status code, ``timeout``, ``connect-error``...); ``unreadable`` why that attempt's
    answer, which the rules read, could not be used (the delivery then failed), else None."""

    last: str | None
    unreadable: str | None

    async def deliver(self, request: Request) -> Verdict: ...

    async def handshake(self) -> Verdict | None: ...
