"""The console-script entry point: answers ``--version`` before any command machinery loads."""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        return _version()
    from notifyctl.cli import main as cli_main

    return cli_main(argv)


def _version() -> int:
    from notifyctl import __version__, pipes

    try:
        sys.stdout.write(f"notifyctl {__version__}\n")
        sys.stdout.flush()
    except BrokenPipeError as exc:  # `notifyctl --version | true`: quiet, like every command
        if not pipes.stdout_closed(exc):
            raise
        pipes.silence_stdout()
    return 0
