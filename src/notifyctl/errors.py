"""The one exception tree of notifyctl; each class carries its exit code (README.md, "Exit codes").

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
    ├── DeliveryFailed (6)        replay: some deliveries were not accepted; --sink: events
    │                             a broker refused as too large
    ├── VerificationFailed (7)    listen --strict: a request failed verification
    ├── CountNotReached (8)       --timeout ran out before --count events
    └── Interrupted (130 / 143)   SIGINT / SIGTERM

Lower layers translate library errors into these at their boundary (``raise ... from exc``);
only ``notifyctl.cli.main`` prints them and turns them into exit codes (``exc.exit_code``, an
``ExitStatus``). ``ExitStatus`` is the table README.md shows, code and meaning
(tests/test_exit_codes.py keeps the two and the classes in agreement); ``for_status`` is the one
rule turning a platform's final HTTP status into an error kind.
"""

from __future__ import annotations

import enum
import signal


class ExitStatus(enum.IntEnum):
    """Every exit code notifyctl uses; ``meaning`` is README's row for it."""

    OK = 0
    BUG = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    NETWORK = 5
    DELIVERY_FAILED = 6
    VERIFICATION_FAILED = 7
    COUNT_NOT_REACHED = 8
    SIGINT = 128 + signal.SIGINT
    SIGTERM = 128 + signal.SIGTERM

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS: dict[ExitStatus, str] = {
    ExitStatus.OK: "success",
    ExitStatus.BUG: "unexpected error (a bug)",
    ExitStatus.USAGE: "usage or configuration error (bad option, bad URL, missing setting or "
    "secret), a request the platform rejected as invalid (HTTP 400/409/422), or an answer that "
    "is not the platform's",
    ExitStatus.AUTH: "authentication or permission refused by the platform (HTTP 401/403) or "
    "by a --sink broker",
    ExitStatus.NOT_FOUND: "not found (HTTP 404: channel, registration, resource)",
    ExitStatus.NETWORK: "network failure after retries (connection refused, DNS, TLS, timeout, "
    "HTTP 5xx)",
    ExitStatus.DELIVERY_FAILED: "replay: some deliveries were not accepted; tail/listen --sink: "
    "events a broker refused as too large",
    ExitStatus.VERIFICATION_FAILED: "listen --strict: a request failed verification",
    ExitStatus.COUNT_NOT_REACHED: "--timeout ran out before --count events",
    ExitStatus.SIGINT: "interrupted by SIGINT",
    ExitStatus.SIGTERM: "interrupted by SIGTERM",
}


class NotifyctlError(Exception):
    """Base of every error notifyctl reports; ``hint`` says what to do about it."""

    exit_code: ExitStatus = ExitStatus.BUG

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(NotifyctlError):
    exit_code: ExitStatus = ExitStatus.USAGE


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
    exit_code: ExitStatus = ExitStatus.AUTH


class NotFoundError(NotifyctlError):
    exit_code: ExitStatus = ExitStatus.NOT_FOUND


class NetworkError(NotifyctlError):
    exit_code: ExitStatus = ExitStatus.NETWORK


class DeliveryFailed(NotifyctlError):
    exit_code: ExitStatus = ExitStatus.DELIVERY_FAILED


class VerificationFailed(NotifyctlError):
    exit_code: ExitStatus = ExitStatus.VERIFICATION_FAILED


class CountNotReached(NotifyctlError):
    exit_code: ExitStatus = ExitStatus.COUNT_NOT_REACHED


class Interrupted(NotifyctlError):
    """The run was stopped by a signal; captures are complete up to the last event."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}")
        self.exit_code = ExitStatus(128 + signum)


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


# README's table, code for code.
EXIT_CODES: dict[int, str] = {int(status): status.meaning for status in ExitStatus}
