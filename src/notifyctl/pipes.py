"""A closed stdout (``notifyctl ... | head``): recognising it, whoever noticed it first.

Python ignores SIGPIPE, so a write to a pipe whose reader has gone raises ``BrokenPipeError``;
Click and Rich each catch it and raise ``SystemExit(1)`` instead (Rich after pointing stdout at
``/dev/null``). ``cli.main`` (and ``entry``'s ``--version``) treat all of these as the reader's
choice and exit 0 quietly.
"""

from __future__ import annotations

import errno
import os
import sys


def _broken_pipe_in(exc: BaseException | None) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _stdout_fd() -> int | None:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a StringIO, or closed
        return None


def _reader_gone(fd: int) -> bool:
    """True when ``fd`` is a pipe (or socket) whose other end is closed."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _is_devnull(fd: int) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(os.devnull))
    except OSError:
        return False


def stdout_closed(exc: BaseException) -> bool:
    """True when ``exc`` comes from writing to a stdout whose reader has gone, and not, say,
    from a socket of ours: the broken pipe must be in its chain and stdout must show it."""
    fd = _stdout_fd()
    if fd is None or not _broken_pipe_in(exc):
        return False
    # Rich has already pointed stdout at /dev/null when it raises SystemExit for a broken pipe.
    return _reader_gone(fd) or (isinstance(exc, SystemExit) and _is_devnull(fd))


def silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's flush at exit has nowhere to fail."""
    fd = _stdout_fd()
    if fd is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
