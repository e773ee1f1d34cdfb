"""The pretend device behind the sandbox's Iottly ``command``: a few shell commands a real
device answers, enough that ``notifyctl iottly exec``'s documented examples run against the
sandbox (``tail -n 50 /var/log/app.log``, ``systemctl restart app``) and tests can drive every
outcome (``echo``, ``exit N``, ``stderr TEXT``, ``sleep S``).

``run`` returns what the device prints, as (fd, chunk) pairs, and its exit status. Unknown
commands get the shell's ``sh: NAME: not found`` and 127, as on a device.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable

Output = list[tuple[str, str]]
Result = tuple[Output, int]

APP_LOG = "/var/log/app.log"
# The device's one log file: what a `tail` of it shows (numbered so a test can check the tail).
FILES: dict[str, list[str]] = {
    APP_LOG: [f"2026-11-23T09:{n // 60:02d}:{n % 60:02d}Z app[412]: heartbeat {n} ok"
              for n in range(200)],
}
UNITS = frozenset({"app", "iottly-agent"})
MAX_SLEEP = 60.0


def _lines(lines: list[str]) -> Output:
    return [("stdout", line + "\n") for line in lines]


def _echo(args: list[str], text: str) -> Result:
    rest = text.partition(" ")[2]
    return [("stdout", line + "\n") for line in rest.split("\\n")], 0


def _exit(args: list[str], text: str) -> Result:
    code = args[0] if args else "0"
    return [], int(code) if code.lstrip("-").isdigit() else 2


def _stderr(args: list[str], text: str) -> Result:
    return [("stderr", text.partition(" ")[2] + "\n")], 1


def _read(name: str, path: str) -> list[str] | Result:
    if path not in FILES:
        return [("stderr", f"{name}: {path}: No such file or directory\n")], 1
    return FILES[path]


def _tail(args: list[str], text: str) -> Result:
    count, paths = 10, []
    items = iter(args)
    for arg in items:
        if arg.startswith("-n"):
            value = arg[2:] or next(items, "")  # "-n 50" or "-n50"
            if not value.isdigit():
                return [("stderr", f"tail: invalid number of lines: {value!r}\n")], 1
            count = int(value)
        else:
            paths.append(arg)
    if len(paths) != 1:
        return [("stderr", "tail: the sandbox device tails exactly one file\n")], 1
    lines = _read("tail", paths[0])
    if isinstance(lines, tuple):
        return lines
    return _lines(lines[-count:] if count else []), 0


def _cat(args: list[str], text: str) -> Result:
    out: Output = []
    for path in args:
        lines = _read("cat", path)
        if isinstance(lines, tuple):
            return out + lines[0], 1
        out += _lines(lines)
    return out, 0


def _systemctl(args: list[str], text: str) -> Result:
    if len(args) != 2 or args[0] not in ("start", "stop", "restart", "status"):
        return [("stderr", "systemctl: the sandbox device knows start|stop|restart|status "
                 "UNIT\n")], 1
    action, unit = args[0], args[1].removesuffix(".service")
    if unit not in UNITS:
        return [("stderr", f"Failed to {action} {unit}.service: Unit {unit}.service not "
                 "found.\n")], 5
    if action == "status":
        return _lines([f"● {unit}.service", "     Active: active (running)"]), 0
    return [], 0


COMMANDS: dict[str, Callable[[list[str], str], Result]] = {
    "echo": _echo, "exit": _exit, "stderr": _stderr, "tail": _tail, "cat": _cat,
    "systemctl": _systemctl,
}


async def run(text: str) -> Result:
    """Run one command line on the pretend device."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        return [("stderr", f"sh: syntax error: {exc}\n")], 2
    if not argv:
        return [], 0
    name, args = argv[0], argv[1:]
    if name == "sleep":
        try:
            await asyncio.sleep(min(float(args[0] if args else 0), MAX_SLEEP))
        except ValueError:
            return [("stderr", f"sleep: invalid time {args[0]!r}\n")], 1
        return [], 0
    command = COMMANDS.get(name)
    if command is None:
        return [("stderr", f"sh: {name}: not found\n")], 127
    return command(args, text)
