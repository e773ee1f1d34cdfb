"""``notifyctl completion SHELL``: print the shell completion script.

The scripts are static shims that call ``notifyctl`` back with ``_NOTIFYCTL_COMPLETE`` set on
each TAB; ``completions/`` holds them generated, and a test fails when they are stale.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

COMPLETE_VAR = "_NOTIFYCTL_COMPLETE"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    text = get_completion_script(prog_name="notifyctl", complete_var=COMPLETE_VAR, shell=shell)
    return text if text.endswith("\n") else text + "\n"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script for SHELL.

    \b
    Examples:
      notifyctl completion bash > ~/.local/share/bash-completion/completions/notifyctl
      notifyctl completion zsh > "${fpath[1]}/_notifyctl"
      notifyctl completion fish > ~/.config/fish/completions/notifyctl.fish
    """
    sys.stdout.write(script(shell.value))
