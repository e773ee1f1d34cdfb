"""The live-stream side of the contract: what ``tail`` hands a platform's ``stream`` capability
and the ``Source`` it gets back.

The capability is a function ``(StreamContext) -> Opener``: it checks the options at once (bad
input exits 2 before anything connects) and returns an ``Opener``, called inside ``tail``'s
event loop, whose context manager yields the ``Source`` and releases its resources on exit. A
``Source`` owns connecting, its platform's close-code and reconnect policy, and keeps ``stats``
current (state, reconnects, time disconnected; ``tail --max-reconnects`` is set there as
``stats.max_reconnects``, which ``ws.Reconnecting`` enforces); ``tail`` captures, decodes
(with the source's pure ``decode``), filters and prints
(JSON lines through ``notifyctl.events.encode_jsonl``, or the live table with the platform's
``Platform.columns``). The reconnecting loop itself is shared: ``notifyctl.ws.Reconnecting``.

With ``tail --sandbox`` the context points at the sandbox (its URL plus ``Platform.
sandbox_path``; the sandbox's key for every secret): a stream needs nothing else for it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

# Core data (shared infrastructure such as ``notifyctl.ws`` keeps it up to date too).
from notifyctl.events import StreamStats

__all__ = ["Opener", "Source", "StreamContext", "StreamStats"]

if TYPE_CHECKING:
    from notifyctl.contract.connection import Connection
    from notifyctl.events import Event
    from notifyctl.http import NetOptions


class Source(Protocol):
    provider: str
    capture_path: str
    stats: StreamStats

    def frames(self) -> AsyncGenerator[bytes, None]:
        """Raw frames as received; reconnects inside; raises NotifyctlError when it gives up."""
        ...

    def decode(self, body: bytes, *, received_at: str | None = None) -> list[Event]: ...


Opener = Callable[[], AbstractAsyncContextManager[Source]]


@dataclass
class StreamContext:
    """Everything a stream is opened with. ``secret(name)`` returns a required secret or raises
    the configuration error that says how to set it; ``devices`` and ``kinds`` are the shared
    ``--device``/``--kind`` values (a platform that asks its server for exactly those refuses
    globs), ``options`` the platform's own ``tail`` options by ``dest``; ``retry_for`` the
    seconds of failure a stream that was up rides out; ``on_state`` shows connection changes
    (the live table's status line, else stderr)."""

    connection: Connection
    net: NetOptions
    secret: Callable[[str], str]
    devices: Sequence[str] = ()
    kinds: Sequence[str] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    retry_for: float = 60.0
    on_state: Callable[[str], None] | None = None
