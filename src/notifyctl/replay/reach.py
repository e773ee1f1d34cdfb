"""Whether a replay's target was ever reached: where nothing has answered yet, a replay gives
up within seconds and says which ``scheme://host:port`` could not be reached.

A refused connection gets ``GRACE`` seconds of the rules' own retries (a receiver still starting
up); after that, or at once for what waiting does not mend (DNS, an untrusted certificate, a
connect timeout), a connection that cannot be made to an origin that has never answered ends
the run. An origin that answered once keeps the rules' whole retry policy
(Pelion's back-off, ``--max-attempts 0``): it is down for a while, not wrong. The sandbox
delivers without a ``Reach``: the platform it emulates retries every registered URL.
"""

from __future__ import annotations

import functools
import time
from urllib.parse import urlsplit

from notifyctl.contract.deliver import Decision, Verdict

GRACE = 3.0  # seconds of retries for an origin that has never answered
MIN_DELAY = 0.1  # seconds between those retries, whatever the rules' back-off
UNREACHED = frozenset({"connect-error", "connect-timeout", "tls-untrusted"})
REFUSED = "connect-error"  # the one outcome worth the grace
_PORTS = {"http": 80, "https": 443}


@functools.lru_cache(maxsize=1024)
def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port always written out (cached: every answer
    of a replay asks, mostly for one URL)."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port or _PORTS.get(parts.scheme, '')}"


class Reach:
    """The origins that answered during a run, and the one it gave up on (``gave_up``)."""

    def __init__(self, grace: float = GRACE) -> None:
        self.grace = grace
        self.gave_up: str | None = None  # why, naming the origin
        self._answered: set[str] = set()
        self._first_failure: dict[str, float] = {}

    def answered(self, url: str) -> None:
        self._answered.add(origin(url))

    def judge(self, url: str, outcome: str, decision: Decision) -> Decision:
        """The decision for an attempt that got no answer (``outcome``), shortened when nothing
        has ever answered at ``url``'s origin: retried for ``grace`` seconds, then given up."""
        where = origin(url)
        if outcome not in UNREACHED or where in self._answered:
            return decision
        if self.gave_up is None and outcome == REFUSED and decision.verdict is Verdict.RETRY:
            first = self._first_failure.setdefault(where, time.monotonic())
            left = first + self.grace - time.monotonic()
            if left > 0:
                return Decision(Verdict.RETRY, max(MIN_DELAY, min(decision.delay, left)))
        if self.gave_up is None:
            self.gave_up = (f"{where} could not be reached ({outcome}); nothing has answered "
                            "there: check --to and that the receiver is running")
        return Decision(Verdict.FAILED)
