"""The one exception tree of notifyctl; each class carries the exit code of DESIGN.md.

    NotifyctlError (1, a bug: unexpected)
    ├── UsageError (2)            bad flag, bad input file, bad config
    │   ├── ConfigError (2)       config file missing, malformed or inconsistent
    │   ├── WireError (2)         a body, frame or capture line that is not the platform's format
    │   │   └── UnexpectedAnswer (2)  an HTTP answer that is not the platform's (HTML, wrong URL)
    │   └── InvalidRequest (2)    the platform rejected the request (HTTP 400/409/415/422)
    ├── AuthError (3)             HTTP 401/403, WebSocket close 1008 (a missing secret is a
    │                             ConfigError: 2)
    ├── NotFoundError (4)         HTTP 404, no channel, close 1011 after re-creating
    ├── NetworkError (5)          connect, DNS, TLS or timeout failures after retries
    ├── DeliveryFailed (6)        replay: some deliveries were not accepted
    ├── VerificationFailed (7)    listen --strict: a request failed verification
    ├── CountNotReached (8)       --timeout ran out before --count events
    └── Interrupted (130 / 143)   SIGINT / SIGTERM

Lower layers translate library errors into these at their boundary (``raise ... from exc``);
only ``notifyctl.cli.main`` prints them and turns them into exit codes (``exc.exit_code``).
``EXIT_CODES`` is the table README.md shows (tests/test_exit_codes.py keeps the two and the
classes in agreement); ``for_status`` is the one rule turning a platform's final HTTP status into
an error kind.
"""

from __future__ import annotations

import signal


class NotifyctlError(Exception):
    """Base of every error notifyctl reports; ``hint`` says what to do about it."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(NotifyctlError):
    exit_code = 2


class ConfigError(UsageError):
    pass


class InvalidRequest(UsageError):
    pass


class WireError(UsageError):
    """Malformed platform data; the message names what is wrong and where."""


class UnexpectedAnswer(WireError):
    """An HTTP answer that is not the platform's: an HTML page (a portal, a proxy's login, a
    wrong ``--api-url``) or a body of the wrong type or shape. Never taken for success."""


class AuthError(NotifyctlError):
    exit_code = 3


class NotFoundError(NotifyctlError):
    exit_code = 4


class NetworkError(NotifyctlError):
    exit_code = 5


class DeliveryFailed(NotifyctlError):
    exit_code = 6


class VerificationFailed(NotifyctlError):
    exit_code = 7


class CountNotReached(NotifyctlError):
    exit_code = 8


class Interrupted(NotifyctlError):
    """The run was stopped by a signal; captures are complete up to the last event."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}")
        self.exit_code = 128 + signum


def for_status(status: int) -> type[NotifyctlError]:
    """The error kind of a final HTTP error status answered by the platform itself (an answer
    that is not the platform's is ``UnexpectedAnswer`` whatever its status)."""
    if status in (400, 409, 415, 422):
        return InvalidRequest
    if status in (401, 403):
        return AuthError
    if status == 404:
        return NotFoundError
    return NetworkError


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error (a bug)",
    2: "usage or configuration error (bad option, bad URL, missing setting or secret), a request"
       " the platform rejected as invalid (HTTP 400/409/422), or an answer that is not the"
       " platform's",
    3: "authentication or permission refused by the platform (HTTP 401/403)",
    4: "not found (HTTP 404: channel, registration, resource)",
    5: "network failure after retries (connection refused, DNS, TLS, timeout, HTTP 5xx)",
    6: "replay: some deliveries were not accepted",
    7: "listen --strict: a request failed verification",
    8: "--timeout ran out before --count events",
    130: "interrupted by SIGINT",
    143: "interrupted by SIGTERM",
}
