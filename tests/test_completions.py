"""Shell completion: the shipped scripts are current, and TAB completes profiles and providers."""

from __future__ import annotations

from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).parents[1] / "completions"
FILES = {"bash": "notifyctl.bash", "zsh": "_notifyctl", "fish": "notifyctl.fish"}


@pytest.mark.parametrize("shell", sorted(FILES))
def test_shipped_script_is_current(cli, shell: str) -> None:
    result = cli("completion", shell)
    assert result.exit_code == 0
    shipped = (COMPLETIONS / FILES[shell]).read_text()
    assert shipped == result.stdout, (
        f"completions/{FILES[shell]} is stale: regenerate with './dev.sh completions'"
    )


def test_unknown_shell_is_a_usage_error(cli) -> None:
    assert cli("completion", "tcsh").exit_code == 2


def complete(run, words: str, cword: int, **env: str) -> list[str]:
    result = run(
        _NOTIFYCTL_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword), **env
    )
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


def test_tab_completes_profile_names(run) -> None:
    run("profile", "add", "prod", "--provider", "pelion")
    run("profile", "add", "preview", "--provider", "sigfox")
    run("profile", "add", "other", "--provider", "sigfox")
    assert sorted(complete(run, "notifyctl -p pr", 2)) == ["preview", "prod"]
    assert complete(run, "notifyctl profile use o", 3) == ["other"]


def test_tab_completes_providers(run) -> None:
    assert complete(run, "notifyctl profile add x --provider ", 5) == [
        "pelion", "thingspace", "sigfox", "circle", "iottly"
    ]
    assert complete(run, "notifyctl profile add x --provider si", 5) == ["sigfox"]
