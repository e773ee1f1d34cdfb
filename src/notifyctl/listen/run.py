"""One ``listen`` run from start to exit code: bind, announce the URL, serve until ``--count``,
``--timeout``, a signal or ``stop()``, shut down gracefully, then turn what happened into the
run's outcome (exit 0, 7 under ``--strict``, 8 for a missed ``--count``, 130/143 for signals).

``Listener`` runs in the caller's event loop; ``BackgroundListener`` runs one in a thread for
programs (and tests) that want a receiver beside their own code.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web  # noqa: TID253 - listen runs only inside its command

from notifyctl import servers
from notifyctl.accounting import Accounting
from notifyctl.errors import (
    CountNotReached,
    Interrupted,
    NotifyctlError,
    UsageError,
    VerificationFailed,
)
from notifyctl.events import CaptureWriter
from notifyctl.listen.handlers import make_handler, receiver_platform
from notifyctl.listen.server import Receiver, build_app
from notifyctl.listen.settings import Settings
from notifyctl.listen.view import NullSink, Sink, WhereSink


@dataclass
class Summary:
    received: int
    failed: int
    reason: str  # "count" | "timeout" | "signal" | "stopped"
    signum: int | None = None
    accounting: Accounting | None = None  # events by kind, duplicates, gaps, answers


class Listener:
    """A receiver bound to a port; ``await run()`` serves until the run ends."""

    def __init__(self, settings: Settings, sink: Sink | None = None) -> None:
        settings.validate()
        self.settings = settings
        self.handler = make_handler(settings)
        self.sink: Sink = sink or NullSink()
        if settings.where is not None:
            self.sink = WhereSink(self.sink, settings.where)
        self.url: str | None = None
        self.accounting: Accounting | None = None  # the live figures, once running
        self._receiver: Receiver | None = None
        self._signum: int | None = None

    async def run(self, on_ready: Callable[[str], None] | None = None) -> Summary:
        """Serve; returns the summary (``outcome()`` turns it into an error, if any). Signals
        are the caller's: ``signals.run`` with ``on_signal=listener.interrupt``."""
        settings = self.settings
        writer = _open_capture(settings.save) if settings.save else None
        accounting = self.accounting = Accounting.for_platform(
            receiver_platform(settings.provider), warn_age=settings.warn_age,
            on_late=settings.on_late)
        accounting.answers = Counter()  # a receiver always knows what it answered
        if settings.sinks is not None:  # an unreachable broker is exit 5 before binding
            await settings.sinks.start(workers=False)
            accounting.sinks = settings.sinks.counts
        receiver = self._receiver = Receiver(settings, self.handler, self.sink, writer,
                                             accounting)
        metrics = settings.metrics
        runner: web.AppRunner | None = None
        try:
            if metrics is not None:
                metrics.watch(accounting.families)
                receiver.timing = metrics.histogram(
                    "notifyctl_listen_handling_seconds", "Time from a request read to its "
                    "answer (captured, shown, forwarded).", ("provider",)
                ).labels(settings.provider)
                await metrics.start()  # first: a taken address is exit 2 before listening
            # Requests in flight are drained by the receiver first (below); what aiohttp still
            # holds after that is idle keep-alive connections, not worth waiting for.
            runner, base = await servers.bind(build_app(receiver), settings.host, settings.port,
                                              what="listen", shutdown_timeout=0.1, backlog=1024)
            self.url = base + (settings.path or "/")
            if on_ready is not None:
                on_ready(self.url)
            reason = "stopped"
            try:
                await asyncio.wait_for(receiver.stopped.wait(), settings.timeout)
            except TimeoutError:
                reason = "timeout"
            if self._signum is not None:
                reason = "signal"
            elif settings.count is not None and receiver.received >= settings.count:
                reason = "count"
            receiver.stopping = True
            await receiver.drain(settings.shutdown_grace)
        finally:
            # Waits for requests in flight (their capture lines are already written).
            if runner is not None:
                await runner.cleanup()
            if metrics is not None:
                await metrics.stop()
            await receiver.close()
            if settings.sinks is not None:
                await settings.sinks.close()
            if writer is not None:
                writer.close()
            self.sink.close()
        return Summary(receiver.received, receiver.failed, reason, self._signum, accounting)

    def interrupt(self, signum: int) -> None:
        """A signal ends the run gracefully (requests in flight are answered)."""
        if self._signum is None:
            self._signum = signum
        self.stop()

    def stop(self) -> None:
        """End the run (thread-unsafe: call on the loop, or use BackgroundListener.stop)."""
        if self._receiver is not None:
            self._receiver.stop()

    def outcome(self, summary: Summary) -> NotifyctlError | None:
        """The error this run ends with, or None for exit 0."""
        if summary.signum is not None:
            return Interrupted(summary.signum)
        if self.settings.strict and summary.failed:
            return VerificationFailed(
                f"{summary.failed} of {summary.received} requests failed verification")
        count = self.settings.count
        if count is not None and summary.received < count and summary.reason == "timeout":
            return CountNotReached(f"received {summary.received} of {count} requests "
                                   f"before --timeout {self.settings.timeout:g} s")
        return None


def _open_capture(path: str) -> CaptureWriter:
    try:
        return CaptureWriter(path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot open the capture file: {exc.strerror}") from exc


async def serve(settings: Settings, sink: Sink | None = None,
                on_ready: Callable[[str], None] | None = None) -> Summary:
    """Run one receiver to its end; raises the run's error (exit code) if it has one."""
    listener = Listener(settings, sink)
    summary = await listener.run(on_ready)
    error = listener.outcome(summary)
    if error is not None:
        raise error
    return summary


class BackgroundListener:
    """A receiver on its own thread and loop: ``with BackgroundListener(s) as rx: rx.url``."""

    def __init__(self, settings: Settings, sink: Sink | None = None) -> None:
        self.listener = Listener(settings, sink)
        self.summary: Summary | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="listen", daemon=True)

    @property
    def url(self) -> str:
        assert self.listener.url is not None
        return self.listener.url

    def _main(self) -> None:
        async def body() -> None:
            self._loop = asyncio.get_running_loop()
            self.summary = await self.listener.run(lambda _url: self._ready.set())

        try:
            asyncio.run(body())
        except BaseException as exc:
            self.error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 10.0) -> BackgroundListener:
        self._thread.start()
        if not self._ready.wait(timeout) or self.error is not None:
            raise RuntimeError(f"listener did not start: {self.error!r}")
        return self

    def stop(self, timeout: float = 10.0) -> Summary | None:
        """End the run and wait for it; the summary (None if it failed, see ``error``)."""
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.listener.stop)
        self._thread.join(timeout)
        return self.summary

    def join(self, timeout: float = 10.0) -> Summary | None:
        """Wait for the run to end by itself (``--count`` or ``--timeout``)."""
        self._thread.join(timeout)
        return self.summary

    def __enter__(self) -> BackgroundListener:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
