"""The live-stream side of the contract: what ``tail`` hands a platform's ``stream`` capability
and the ``Source`` it gets back.

The capability is a function ``(StreamContext) -> Opener``: it checks the options at once (bad
input exits 2 before anything connects) and returns an ``Opener``, called inside ``tail``'s
event loop, whose context manager yields the ``Source`` and releases its resources on exit. A
``Source`` owns connecting, its platform's close-code and reconnect policy, and keeps ``stats``
current; ``tail`` captures, decodes (with the source's pure ``decode``), filters and prints.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from notifyctl.config import Connection
    from notifyctl.events import Event
    from notifyctl.http import NetOptions


@dataclass
class StreamStats:
    """Live connection facts a source keeps up to date for the status line."""

    state: str = "starting"  # connecting | connected | reconnecting | stopped
    detail: str = ""
    reconnects: int = 0
    connections: int = 0


class Source(Protocol):
    provider: str
    capture_path: str
    stats: StreamStats

    def frames(self) -> AsyncGenerator[bytes, None]:
        """Raw frames as received; reconnects inside; raises NotifyctlError when it gives up."""
        ...

    def decode(self, body: bytes, *, received_at: str | None = None) -> list[Event]: ...

    def encode_jsonl(self, events: Sequence[Event]) -> bytes: ...


Opener = Callable[[], AbstractAsyncContextManager[Source]]


@dataclass
class StreamContext:
    """Everything a stream is opened with. ``secret(name)`` returns a required secret or raises
    the configuration error that says how to set it; ``on_state`` shows connection changes (the
    live table's status line, else stderr)."""

    connection: Connection
    net: NetOptions
    secret: Callable[[str], str]
    devices: Sequence[str] = ()
    kinds: Sequence[str] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    retry_for: float = 60.0
    on_state: Callable[[str], None] | None = None
