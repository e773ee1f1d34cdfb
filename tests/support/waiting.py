"""Test helper: waiting for something observable to happen, never for a fixed time.

    wait_for(lambda: sandbox.key_state().get("connected"), what="the socket to be registered")
    await async_wait_for(lambda: len(rx.requests) >= 2, what="two deliveries")
    out = Lines(proc.stdout); out.wait(1, what="the first event line")

The deadline is generous (30 s) because CI machines are shared: a condition that is going to
hold holds long before it, and one that never holds fails with a message naming what was
awaited. Tests assert outcomes, not how fast they came (no wall-clock upper bounds).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar

T = TypeVar("T")

TIMEOUT = 30.0


def _timed_out(what: str, timeout: float, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def wait_for(condition: Callable[[], T], timeout: float = TIMEOUT, interval: float = 0.01,
             what: str = "the condition") -> T:
    """Poll ``condition`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, value)
        time.sleep(interval)


async def async_wait_for(condition: Callable[[], T], timeout: float = TIMEOUT,
                         interval: float = 0.01, what: str = "the condition") -> T:
    """``wait_for`` for coroutines: the event loop keeps running between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, value)
        await asyncio.sleep(interval)


class Lines:
    """Every line a subprocess writes to a pipe (text or bytes), collected by a daemon thread,
    so a test can wait for output while the process runs and still read all of it once it has
    ended (``communicate()`` after ``readline()`` would lose what the reader had buffered)."""

    def __init__(self, stream: IO[Any] | None) -> None:
        assert stream is not None, "start the process with stdout/stderr=subprocess.PIPE"
        self.lines: list[Any] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[Any]) -> None:
        while line := stream.readline():
            self.lines.append(line)

    def wait(self, count: int, timeout: float = TIMEOUT, what: str = "") -> list[Any]:
        """The first ``count`` lines, once they have been written."""
        wait_for(lambda: len(self.lines) >= count, timeout,
                 what=what or f"{count} line(s) of output")
        return self.lines[:count]

    def finish(self, timeout: float = TIMEOUT) -> list[Any]:
        """All the lines, after the writer closed the pipe (the process ended)."""
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the pipe was still open after {timeout:g} s"
        return list(self.lines)
