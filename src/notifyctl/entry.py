"""The console-script entry point: answers ``--version`` before any command machinery loads."""

from __future__ import annotations

import sys


def main() -> int:
    argv = sys.argv[1:]
    if argv == ["--version"]:
        from notifyctl import __version__

        sys.stdout.write(f"notifyctl {__version__}\n")
        return 0
    from notifyctl.cli import main as cli_main

    return cli_main(argv)
