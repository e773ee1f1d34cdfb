"""The one signal runner: run a coroutine on a fresh event loop with SIGINT and SIGTERM turned
into an orderly stop, then ``Interrupted`` (exit 130 / 143).

By default a signal cancels the coroutine, whose ``finally`` blocks flush captures and output;
a server that stops gracefully instead (``listen``, ``sandbox``) passes ``on_signal`` and ends
by itself. Either way the signal is raised as ``Interrupted`` once the coroutine has returned,
so callers can still write a report in an ``except Interrupted`` before re-raising.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from notifyctl.errors import Interrupted

T = TypeVar("T")
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run(main: Callable[[], Coroutine[Any, Any, T]],
        on_signal: Callable[[int], None] | None = None) -> T:
    """``asyncio.run(main())`` under SIGINT/SIGTERM handling (see the module docstring)."""
    received: list[int] = []

    async def guarded() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []

        def stop(signum: int) -> None:
            if received:
                return
            received.append(signum)
            if on_signal is not None:
                on_signal(signum)
            elif task is not None:
                task.cancel()

        for sig in SIGNALS:
            try:
                loop.add_signal_handler(sig, stop, int(sig))
                installed.append(sig)
            except (ValueError, RuntimeError, NotImplementedError):
                pass  # not the main thread: the default handlers stay
        try:
            return await main()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    except KeyboardInterrupt:
        raise Interrupted(signal.SIGINT) from None
    if received:
        raise Interrupted(received[0])
    return result
