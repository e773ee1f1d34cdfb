"""``Settings``: everything one ``listen`` run is configured with, validated once.

The platform's own options (``Platform.options["listen"]``) travel as ``options``, by ``dest``,
to its receiver, which validates them itself: this module knows no platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from notifyctl.accounting import DEFAULT_WARN_AGE
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from notifyctl.metrics import Metrics
    from notifyctl.sinks import Sinks

DEFAULT_MAX_BODY = 32 * 1024 * 1024


@dataclass
class Settings:
    provider: str
    host: str = "127.0.0.1"
    port: int = 0
    path: str | None = None
    save: str | None = None
    forward_to: str | None = None
    count: int | None = None
    timeout: float | None = None
    output: str = "jsonl"  # "jsonl" | "table" | "none" (tests and benchmarks)
    strict: bool = False
    respond: int | None = None
    fail_ratio: float = 0.0
    max_body: int = DEFAULT_MAX_BODY
    # The secret itself (read from the variable --verify-key-env names); never printed.
    verify_key: str | None = field(default=None, repr=False)
    # The platform's own listen options by dest (``PlatformValues.take``); its receiver reads them.
    options: dict[str, Any] = field(default_factory=dict)
    # --where, compiled (``notifyctl.where``): only the lines it matches are shown. Captures
    # keep every request: they are the raw record.
    where: Callable[[Any], bool] | None = None
    # Seconds in-flight requests get to finish when the run stops.
    shutdown_grace: float = 2.0
    # --warn-age in seconds (None: never) and where its one warning goes.
    warn_age: float | None = DEFAULT_WARN_AGE
    on_late: Callable[[str], None] | None = None
    # --metrics: served while the run lasts (the accounting, answers, handling time).
    metrics: Metrics | None = None
    # --sink: requests are answered 2xx only once every sink acknowledged their events.
    sinks: Sinks | None = None

    def validate(self) -> None:
        """Usage errors (exit 2) for values no run could use."""
        if self.path is not None and not self.path.startswith("/"):
            raise UsageError(f"--path {self.path!r} must start with '/'")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port} is not a TCP port (0 picks a free one)")
        if self.count is not None and self.count < 1:
            raise UsageError("--count must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise UsageError("--timeout must be more than 0 seconds")
        if self.respond is not None and not 100 <= self.respond <= 599:
            raise UsageError(f"--respond {self.respond} is not an HTTP status (100-599)")
        if not 0.0 <= self.fail_ratio <= 1.0:
            raise UsageError(f"--fail-ratio {self.fail_ratio} must be between 0 and 1")
        if self.max_body < 1:
            raise UsageError("--max-body must be at least 1 byte")
        if self.forward_to is not None and not re.match(r"https?://", self.forward_to):
            raise UsageError(f"--forward-to {self.forward_to!r} must be an http(s):// URL")
        if self.output not in ("jsonl", "table", "none"):
            raise UsageError(f"-o {self.output!r}: choose table or jsonl")
