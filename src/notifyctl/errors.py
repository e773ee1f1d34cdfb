"""The one exception tree of notifyctl; each class carries the exit code of DESIGN.md.

    NotifyctlError (1, a bug: unexpected)
    ├── UsageError (2)            bad flag, bad input file, bad config
    │   ├── ConfigError (2)       config file missing, malformed or inconsistent
    │   ├── WireError (2)         a body, frame or capture line that is not the platform's format
    │   └── InvalidRequest (2)    the platform rejected the request (HTTP 400/409/422)
    ├── AuthError (3)             HTTP 401/403, WebSocket close 1008, missing secret
    ├── NotFoundError (4)         HTTP 404, no channel, close 1011 after re-creating
    ├── NetworkError (5)          connect, DNS, TLS or timeout failures after retries
    ├── DeliveryFailed (6)        replay: some deliveries were not accepted
    ├── VerificationFailed (7)    listen --strict: a request failed verification
    ├── CountNotReached (8)       --timeout ran out before --count events
    └── Interrupted (130 / 143)   SIGINT / SIGTERM

Lower layers translate library errors into these at their boundary (``raise ... from exc``);
only ``notifyctl.cli.main`` prints them and turns them into exit codes.
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


EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error (a bug)",
    2: "usage or configuration error, or a request the platform rejected as invalid",
    3: "authentication or permission refused",
    4: "not found",
    5: "network failure after retries",
    6: "replay: some deliveries were not accepted",
    7: "listen --strict: a request failed verification",
    8: "--timeout ran out before --count events",
    130: "interrupted by SIGINT",
    143: "interrupted by SIGTERM",
}
