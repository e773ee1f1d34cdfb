"""What a provider's delivery rules are: the ``Rules`` base class and the values it trades with
the engine (``Request``, ``Refused``, ``Decision``).

A provider adds replay support by subclassing ``Rules`` in one small module: it turns captured
deliveries into the requests its platform would send (``requests``), adds per-attempt headers
(``attempt_headers``), and says what each answer means (``decide``). Pacing, concurrency,
timeouts, the transport and the report belong to the engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from notifyctl.contract.deliver import HOP_BY_HOP, Decision, Refused, Request, Verdict
from notifyctl.errors import UsageError
from notifyctl.replay.inputs import InputStats, Item

# The values rules trade with the engine are the delivery contract's: emulators use them too.
__all__ = ["HOP_BY_HOP", "Decision", "Refused", "Request", "RuleOptions", "Rules", "Verdict",
           "configured_headers", "header", "join_url", "length_mismatch", "replayable_headers"]


@dataclass
class RuleOptions:
    """Provider-facing options; each provider reads the ones it knows."""

    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    sign: str | None = None  # "standard-webhooks" (generic)
    sign_key: str | None = None  # the key itself, read from --sign-key-env VAR by the caller
    sign_key_env: str | None = None  # the variable's name, for messages
    batch_size: int | None = None  # pelion: re-chunk into batches of N; None: as captured
    keep_path: bool = False  # generic: append each captured path and query to --to
    handshake: bool = False
    max_attempts: int | None = None
    retry_base: float = 1.0
    payload_only: bool = False
    timeout: float | None = None  # overrides the platform's own request timeout
    skip_invalid: bool = False  # a body the platform could not have sent is counted, not fatal
    # ThingSpace: the credentials put inside each body (the password read from
    # --callback-password-env VAR by the caller); None keeps the captured value.
    callback_username: str | None = None
    callback_password: str | None = field(default=None, repr=False)
    # Sigfox: the callback the requests are rendered from (rules/sigfox.py).
    callback_type: str | None = None
    url_template: str | None = None
    method: str | None = None
    body_template: str | None = None
    content_type: str | None = None
    batch: bool = False
    line_pattern: str | None = None
    stats: InputStats = field(default_factory=InputStats)


class Rules:
    """Base class of a provider's delivery rules; see the module docstring."""

    name = "base"
    timeout = 10.0  # the platform's request timeout, seconds
    sequential = False  # one delivery in flight, the next only after the previous settled
    stop_on_failure = False  # a failed delivery ends the run (nothing after it may be sent)
    keeps_paths = False  # --keep-path is allowed: requests may go below --to
    rechunks = False  # --batch-size is allowed: events may be re-grouped into batches

    def __init__(self, options: RuleOptions) -> None:
        self.options = options
        self.resigned = 0  # captured signatures that no longer matched and were replaced
        if options.timeout is not None:
            self.timeout = options.timeout
        if options.keep_path and not self.keeps_paths:
            raise UsageError(f"--keep-path: {self.name} delivers to --to exactly, as the "
                             "platform delivers to the one URL registered",
                             hint="--keep-path is for --provider generic")
        if options.batch_size is not None and not self.rechunks:
            raise UsageError(f"--batch-size: {self.name} does not deliver batches of events",
                             hint="--batch-size is for --provider pelion")

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
        """A verification request sent before anything else (``--handshake``), if any."""
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
    """The captured Content-Length disagrees with the body: it was edited after capture."""
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
