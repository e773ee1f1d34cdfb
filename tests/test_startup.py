"""Startup stays lazy: --help, --version and TAB completion load no network stack.

``python -X importtime`` lists every module a real run imports, so the check needs no hooks.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import subprocess_env

HEAVY = ("httpx", "websockets", "keyring", "yaml", "aiohttp", "msgspec", "starlette", "uvicorn",
         "prometheus_client", "textual")


def imported_modules(args: list[str], **env: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "notifyctl", *args],
        capture_output=True, text=True, timeout=60, env=subprocess_env(**env),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {m.group(1).strip() for m in re.finditer(r"^import time:.*\|\s*(\S.*)$",
                                                      proc.stderr, re.M)}


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--help"], {}),
        (["--version"], {}),
        (["profile", "--help"], {}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash", "COMP_WORDS": "notifyctl -p ",
              "COMP_CWORD": "2"}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash",
              "COMP_WORDS": "notifyctl profile add x --provider ", "COMP_CWORD": "5"}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash",
              "COMP_WORDS": "notifyctl replay --fixture pel", "COMP_CWORD": "3"}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash",
              "COMP_WORDS": "notifyctl register x --event-type act", "COMP_CWORD": "4"}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash",
              "COMP_WORDS": "notifyctl register x --service Dev", "COMP_CWORD": "4"}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash",
              "COMP_WORDS": "notifyctl tail --kind ", "COMP_CWORD": "3"}),
        ([], {"_NOTIFYCTL_COMPLETE": "complete_bash",
              "COMP_WORDS": "notifyctl listen --provider ", "COMP_CWORD": "3"}),
    ],
    ids=["help", "version", "group-help", "complete-profile", "complete-provider",
         "complete-fixture", "complete-event-type", "complete-service", "complete-kind",
         "complete-listen-provider"],
)
def test_no_heavy_imports(args: list[str], env: dict[str, str]) -> None:
    modules = imported_modules(args, **env)
    assert modules, "importtime output was not parsed"
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert loaded == []


def test_every_command_help_is_lazy() -> None:
    """Each registered command's --help must stay light too (commands import inside)."""
    from typer import _click
    from typer.main import get_command

    from notifyctl.cli import COMMANDS, app

    root = get_command(app)
    ctx = _click.Context(root)
    paths: list[list[str]] = []
    for name in root.list_commands(ctx):  # type: ignore[attr-defined]
        command = root.get_command(ctx, name)  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None)
        paths.extend([[name, sub] for sub in subs] if subs else [[name]])
    assert len(paths) > len(COMMANDS)  # every command and every group's subcommands
    for path in paths:
        loaded = sorted(m for m in imported_modules([*path, "--help"]) if m.split(".")[0] in HEAVY)
        assert loaded == [], path
