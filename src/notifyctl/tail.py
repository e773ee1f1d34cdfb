"""The provider-independent ``tail`` engine: frames in, filtered events out.

A ``Source`` (a platform's live stream, from its ``stream`` capability, see
``notifyctl.contract.stream``) yields raw frames and owns connecting and reconnecting. This
module does the rest, once for every platform: capture each frame as it arrives (``--save``),
decode it, filter (``--device``/``--path`` globs, ``--kind``, ``--where``), drop duplicates by
event id within a bounded window, stop at ``--count`` or ``--timeout``, and hand each frame's
events to a sink (JSON lines here, the live table in ``tail_view``). Work is per frame, not
per event, wherever it can be: the hot path is one decode, one list comprehension when filters
are set, and one ``write`` of pre-encoded JSON lines.

``run`` is the synchronous entry point: it owns the event loop and turns SIGINT/SIGTERM into
``Interrupted`` (exit 130/143) after the capture and output are flushed.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Protocol

from notifyctl import output, signals
from notifyctl.accounting import Accounting
from notifyctl.contract.stream import Opener, Source, StreamStats
from notifyctl.errors import CountNotReached, WireError
from notifyctl.events import CaptureWriter, Delivery, Event, encode_jsonl, now_iso

if TYPE_CHECKING:
    from notifyctl.sinks import Sinks

__all__ = ["Dedup", "Filters", "JsonlSink", "Sink", "Source", "StreamStats", "TailOptions",
           "TailRun", "run", "tail"]

DEDUP_WINDOW = 20_000
WRITE_BATCH = 1_000  # events encoded per write
# Malformed frames are shown one by one up to this many (the user must see that something is
# being skipped), then only counted: a server sending garbage must not flood the terminal.
BAD_FRAME_WARNINGS = 10


# -- filters and de-duplication --------------------------------------------------------------
def _globs(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


@dataclass
class Filters:
    """``--device`` and ``--path`` globs (any may match), ``--kind`` names (any may match), and
    ``--where`` (a compiled ``notifyctl.where`` predicate), all of which must hold."""

    devices: Sequence[str] = ()
    paths: Sequence[str] = ()
    kinds: Sequence[str] = ()
    where: Callable[[Event], bool] | None = None

    def predicate(self) -> Callable[[Event], bool] | None:
        keep = self._globs_and_kinds()
        where = self.where
        if keep is None or where is None:
            return keep or where
        return lambda event: keep(event) and where(event)

    def _globs_and_kinds(self) -> Callable[[Event], bool] | None:
        device, path = _globs(self.devices), _globs(self.paths)
        kinds = frozenset(self.kinds)
        if device is None and path is None and not kinds:
            return None
        device_match = device.match if device else None
        path_match = path.match if path else None

        def keep(event: Event) -> bool:
            if kinds and event.kind not in kinds:
                return False
            if device_match is not None and (
                event.device is None or device_match(event.device) is None
            ):
                return False
            return path_match is None or (
                event.path is not None and path_match(event.path) is not None
            )

        return keep


class Dedup:
    """Drops events whose id is among the most recent ``window`` ids (at least; memory bounded).

    Ids are remembered per frame, so the common case (a frame of new, distinct ids) costs a
    few set operations in C instead of a Python step per event. Duplicates on Pelion come
    from re-sent batches (at most 10,000 items), so the default window spans two full frames.

    What is remembered is each id's ``hash()`` (a 64-bit int, so a false match is about
    window / 2**64 likely), created together per frame: keeping the decoded id strings alive
    instead would pin memory pools full of each frame's short-lived objects and grow RSS.
    """

    def __init__(self, window: int = DEDUP_WINDOW) -> None:
        self.window = window
        self._seen: set[int] = set()
        self._chunks: deque[list[int]] = deque()
        self._size = 0
        self.dropped = 0

    def filter(self, events: list[Event]) -> list[Event]:
        ids = [event.id for event in events]
        seen = self._seen
        kept: list[Event]
        chunk: list[int]
        if None not in ids:
            chunk = list(map(hash, ids))
            fresh = set(chunk)
            if len(fresh) == len(chunk) and seen.isdisjoint(fresh):
                kept = events  # the common case: every id present and new
            else:
                kept, chunk = self._slow(events, seen)
        elif ids.count(None) == len(ids):
            return events
        else:
            kept, chunk = self._slow(events, seen)
        self.dropped += len(events) - len(kept)
        seen.update(chunk)
        self._chunks.append(chunk)
        self._size += len(chunk)
        while self._chunks and self._size - len(self._chunks[0]) >= self.window:
            old = self._chunks.popleft()
            seen.difference_update(old)
            self._size -= len(old)
        return kept

    @staticmethod
    def _slow(events: list[Event], seen: set[int]) -> tuple[list[Event], list[int]]:
        kept: list[Event] = []
        chunk: list[int] = []
        local: set[int] = set()
        for event in events:
            if event.id is not None:
                key = hash(event.id)
                if key in seen or key in local:
                    continue
                local.add(key)
                chunk.append(key)
            kept.append(event)
        return kept, chunk


# -- sinks ---------------------------------------------------------------------------------
class Sink(Protocol):
    def start(self, source: Source, run: TailRun) -> None: ...

    def emit(self, events: list[Event]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """One JSON line per event, written as one batch per frame straight to stdout's bytes."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._encode: Callable[[Sequence[Event]], bytes] | None = None

    def start(self, source: Source, run: TailRun) -> None:
        out = self._stream or output.current().out
        out.flush()
        raw = getattr(out, "buffer", None)
        self._encode = encode_jsonl
        if raw is not None:
            self._write: Callable[[bytes], object] = raw.write
            self._flush: Callable[[], object] = raw.flush
        else:  # a text-only stream (tests redirect stdout to StringIO)
            self._write = lambda data: out.write(data.decode("utf-8"))
            self._flush = out.flush

    def emit(self, events: list[Event]) -> None:
        if not events or self._encode is None:
            return
        # Slices keep the encoder's buffer small (a 10,000-event frame is ~3 MB of JSON lines)
        # while each write stays large enough to cost nothing.
        for start in range(0, len(events), WRITE_BATCH):
            self._write(self._encode(events[start:start + WRITE_BATCH]))
        self._flush()

    def close(self) -> None:
        if self._encode is not None:
            self._flush()


# -- the engine -----------------------------------------------------------------------------
@dataclass
class TailOptions:
    count: int | None = None
    timeout: float | None = None
    filters: Filters = field(default_factory=Filters)
    save: str | None = None
    dedup_window: int = DEDUP_WINDOW
    # What was received and lost (the summary); ids are checked by the Dedup above.
    accounting: Accounting | None = None
    # --max-reconnects: reconnects in a row without a healthy connection, then exit 5.
    max_reconnects: int | None = None
    # --sink: message systems each event is published to, at least once (notifyctl.sinks);
    # connected before the stream opens, drained before the summary.
    sinks: Sinks | None = None


@dataclass
class TailRun:
    """Counters of one run; read by the live view's status line from its render thread."""

    events: int = 0
    frames: int = 0
    bad_frames: int = 0
    duplicates: int = 0
    filtered: int = 0
    started: float = field(default_factory=time.monotonic)
    newest: float | None = None  # monotonic time of the newest event shown
    last_error: str = ""
    accounting: Accounting | None = None  # duplicates and gaps as they happen

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _report_bad_frame(run: TailRun) -> None:
    out = output.current()
    if run.bad_frames < BAD_FRAME_WARNINGS:
        out.warn(run.last_error)
    elif run.bad_frames == BAD_FRAME_WARNINGS:
        out.warn(f"{run.last_error} (further malformed frames are only counted)")
    else:
        out.debug(run.last_error)


async def tail(
    source: Source,
    sink: Sink,
    options: TailOptions,
    on_finish: Callable[[TailRun, Source], None] | None = None,
) -> TailRun:
    """Consume ``source`` until --count, --timeout or a fatal stream error; returns counters.

    Raises CountNotReached when --timeout ends a run whose --count was not reached.
    ``on_finish`` runs however the run ends (a summary line), after output is flushed.
    """
    run = TailRun(accounting=options.accounting)
    keep = options.filters.predicate()
    dedup = Dedup(options.dedup_window) if options.dedup_window > 0 else None
    capture = CaptureWriter(options.save) if options.save else None
    remaining = options.count
    accounting = options.accounting
    decode = source.decode
    source.stats.max_reconnects = options.max_reconnects
    if accounting is not None:
        accounting.watch(source.stats)
    sinks = options.sinks
    sink.start(source, run)
    frames = source.frames()
    try:
        async with asyncio.timeout(options.timeout):
            async for body in frames:
                at = now_iso()
                run.frames += 1
                if capture is not None:
                    capture.write(Delivery.capture(
                        source.provider, "websocket", body, path=source.capture_path, at=at))
                try:
                    events = decode(body, received_at=at)
                except WireError as exc:
                    run.bad_frames += 1
                    run.last_error = f"frame {run.frames} skipped: {exc.message}"
                    _report_bad_frame(run)
                    continue
                received = len(events)
                if keep is not None:
                    events = [event for event in events if keep(event)]
                    run.filtered += received - len(events)
                if dedup is not None:
                    before = len(events)
                    events = dedup.filter(events)
                    run.duplicates += before - len(events)
                    if accounting is not None:
                        accounting.note_duplicates(before - len(events))
                if not events:
                    continue
                if remaining is not None and len(events) >= remaining:
                    events = events[:remaining]
                    remaining = 0
                elif remaining is not None:
                    remaining -= len(events)
                run.events += len(events)
                run.newest = time.monotonic()
                if accounting is not None:
                    accounting.add(events)
                sink.emit(events)
                if sinks is not None:  # waits while a sink's buffer is full: back-pressure
                    await sinks.put(events)
                # Let this frame's events (and the frame they reference) go before the next
                # one is decoded: peak memory is one frame's working set, not two.
                del events, body
                if remaining == 0:
                    break
    except TimeoutError:
        if options.count is not None and run.events < options.count:
            raise CountNotReached(
                f"--timeout {options.timeout:g} s ran out after {run.events} of"
                f" {options.count} events"
            ) from None
    finally:
        source.stats.state = "stopped"
        with contextlib.suppress(Exception):
            await frames.aclose()
        if capture is not None:
            capture.close()
        sink.close()
        if sinks is not None:
            await sinks.finish()
        if on_finish is not None:
            on_finish(run, source)
    return run


def run(
    open_source: Opener,
    sink: Sink,
    options: TailOptions,
    on_finish: Callable[[TailRun, Source], None] | None = None,
) -> TailRun:
    """Run ``tail`` on a fresh event loop; SIGINT/SIGTERM raise Interrupted once flushed."""

    async def main() -> TailRun:
        if options.sinks is not None:  # an unreachable broker is exit 5 before the stream
            await options.sinks.start()
        try:
            async with open_source() as source:
                return await tail(source, sink, options, on_finish)
        finally:
            if options.sinks is not None:
                await options.sinks.close()

    return signals.run(main)
