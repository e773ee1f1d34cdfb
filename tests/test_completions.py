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


def test_tab_completes_fixtures(run) -> None:
    names = complete(run, "notifyctl replay --fixture pelion/", 3)
    assert "pelion/notifications" in names and all(n.startswith("pelion/") for n in names)
    assert "generic/standard-webhooks" in complete(run, "notifyctl replay --fixture ", 3)


def test_tab_completes_circle_event_types(run) -> None:
    assert complete(run, "notifyctl register https://x --event-type motion_", 4) == [
        "motion_started", "motion_ended"]


def test_tab_completes_thingspace_services_of_the_profiles_api(run) -> None:
    # No profile: both APIs' spellings.
    assert complete(run, "notifyctl register https://x --service Promo", 4) == [
        "PromoChange", "PromoChanges"]
    run("profile", "add", "ts", "--provider", "thingspace", "--set", "api=soap")
    assert complete(run, "notifyctl -p ts register https://x --service Promo", 6) == [
        "PromoChange"]


def test_tab_completes_the_kinds_of_the_resolved_provider(run) -> None:
    everything = complete(run, "notifyctl tail --kind ", 3)
    assert {"notification", "activity_created", "telemetry"} <= set(everything)
    assert complete(run, "notifyctl tail --provider iottly --kind ", 5) == [
        "telemetry", "command-output", "command-done"]
    assert complete(run, "notifyctl tail --kind reg", 3, NOTIFYCTL_PROVIDER="pelion") == [
        "registration", "reg-update", "registration-expired"]
    run("profile", "add", "cam", "--provider", "circle")
    assert complete(run, "notifyctl -p cam tail --kind motion", 5) == [
        "motion_started", "motion_ended"]


def test_tab_completes_listen_providers_with_generic(run) -> None:
    assert complete(run, "notifyctl listen --provider ", 3) == [
        "pelion", "thingspace", "sigfox", "circle", "iottly", "generic"]
