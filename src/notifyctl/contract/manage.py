"""The management side of the contract: what ``register``, ``list`` and ``unregister`` hand a
platform's ``channels`` capability and the data they get back.

The capability is a factory ``(ManageContext) -> Channels``. Its methods talk to the platform
and return data; they never print or prompt. What the user sees is built by the command from
the returned ``Change`` (a success line, a JSON record for ``-o json``, warnings, a secret to
show once) or ``Listing`` (records for ``-o json``, columns and rows for the table).

A platform that sends the user's own headers with every delivery declares ``HEADER_OPTIONS``
among its ``register`` options. ``register`` takes them as shared options (``-H`` included,
spelt as on ``replay``), refuses them for a platform that does not declare them, and turns
their values into the ``headers`` it passes to ``Channels.register``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from notifyctl.contract.connection import Connection
    from notifyctl.http import NetOptions

def _unheard(message: str) -> None:
    """Where warnings go when nobody shows them."""


@dataclass
class ManageContext:
    """What a management call runs with.

    ``secret(name)`` returns a required secret or raises the configuration error saying how to
    set it; ``stored(name)`` reads a keyring-only secret (None when absent or no keyring);
    ``store(name, value)`` keeps one and returns why it could not (None when stored); ``ask``
    is a hidden prompt on a terminal, None when nobody can answer; ``options`` are the
    platform's own options of the command. ``warn`` shows a warning at once: for what the user
    should read even when the call then fails (a port the platform refuses); what only the
    outcome knows goes in ``Change.warnings``.
    """

    connection: Connection
    net: NetOptions
    secret: Callable[[str], str]
    stored: Callable[[str], str | None]
    store: Callable[[str, str], str | None]
    ask: Callable[[str], str] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    warn: Callable[[str], None] = _unheard


@dataclass
class Change:
    """The outcome of ``register`` or ``unregister``: ``message`` for people, ``record`` for
    ``-o json`` (never a secret), ``stdout`` a value scripts read (an id), ``reveal`` a secret
    shown once on stderr as ``(label, value)`` (a generated signing key)."""

    message: str
    record: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    stdout: str | None = None
    reveal: tuple[str, str] | None = None


@dataclass
class Listing:
    """What ``list`` shows: ``records`` for ``-o json``, ``columns`` and ``rows`` for the
    table (secrets already masked)."""

    records: list[dict[str, Any]]
    columns: Sequence[str]
    rows: list[list[Any]]


class Channels(Protocol):
    def register(self, url: str, headers: Mapping[str, str]) -> Change: ...

    def list(self) -> Listing: ...

    def unregister(self, target: str | None) -> Change:
        """Remove a registration (``target``: the platform's id of it, where it has several)."""
        ...
