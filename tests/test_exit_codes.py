"""Exit codes and one-line errors, checked on the real executable as a subprocess."""

from __future__ import annotations

from pathlib import Path

import notifyctl


def test_version(run) -> None:
    result = run("--version")
    assert (result.exit_code, result.stdout) == (0, f"notifyctl {notifyctl.__version__}\n")


def test_help_lists_only_working_groups(run) -> None:
    result = run("--help")
    assert result.exit_code == 0
    for group in ("profile", "auth", "completion"):
        assert group in result.stdout


def test_profile_add_then_auth_status_json(run) -> None:
    assert run("profile", "add", "prod", "--provider", "pelion").exit_code == 0
    result = run("-p", "prod", "auth", "status", "-o", "json")
    assert result.exit_code == 2  # api_key is not set: a configuration error (issue 11 item 9)
    assert result.json()["secrets"][0]["name"] == "api_key"


def test_stdout_defaults_to_json_when_piped(run) -> None:
    run("profile", "add", "prod", "--provider", "pelion")
    assert run("profile", "list").json()[0]["name"] == "prod"


def test_unknown_profile_exit_2(run) -> None:
    run("profile", "add", "prod", "--provider", "pelion")
    result = run("-p", "ghost", "profile", "show")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: unknown profile 'ghost' (profiles in ")
    assert line.endswith("config.yaml: prod)")


def test_unknown_provider_exit_2(run) -> None:
    result = run("profile", "add", "x", "--provider", "zigbee")
    assert result.exit_code == 2
    assert "valid providers: pelion, thingspace, sigfox, circle, iottly" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_config_exit_2_and_file_untouched(run, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    original = "profiles:\n  a:\n    provider: pelion\n   bad indent: [\n"
    path.write_text(original)
    result = run("--config", str(path), "profile", "add", "b", "--provider", "pelion")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}:4:")
    assert "Traceback" not in result.stderr
    assert path.read_text() == original


def test_env_config_is_used(run, tmp_path: Path) -> None:
    path = tmp_path / "env.yaml"
    result = run("profile", "add", "e", "--provider", "iottly", NOTIFYCTL_CONFIG=str(path))
    assert result.exit_code == 0
    assert "iottly" in path.read_text()


def test_secret_option_refused_exit_2(run) -> None:
    result = run("profile", "add", "x", "--provider", "pelion", "--token", "abc")
    assert result.exit_code == 2 and "auth login" in result.stderr


def test_usage_error_exit_2(run) -> None:
    result = run("profile", "add")
    assert result.exit_code == 2 and "Missing" in result.stderr


def test_keyring_that_hangs_is_bounded(run) -> None:
    run("profile", "add", "prod", "--provider", "pelion")
    result = run(
        "-p", "prod", "auth", "login", input="ak_x\n", timeout=30,
        NOTIFYCTL_TEST_KEYRING_HANG="1", NOTIFYCTL_KEYRING_TIMEOUT="0.5",
    )
    assert result.exit_code == 2
    assert "did not answer within 0.5 s" in result.stderr
    assert "NOTIFYCTL_API_KEY" in result.stderr


def test_headless_without_backend_names_variables(run) -> None:
    run("profile", "add", "prod", "--provider", "pelion")
    result = run("-p", "prod", "auth", "login", input="ak_x\n",
                 PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    assert result.exit_code == 2
    assert "NOTIFYCTL_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_verbose_shows_traceback_for_user_errors(run) -> None:
    result = run("-v", "profile", "add", "x", "--provider", "zigbee")
    assert result.exit_code == 2 and "Traceback" in result.stderr


def test_errors_and_verbose_tracebacks_mask_secrets(run) -> None:
    # the bad URL is echoed in the error (and in the -v traceback); its token must not be
    result = run("-v", "register", "ftp://hooks.example/?token=sentinel-key-123",
                 "--provider", "pelion", NOTIFYCTL_API_KEY="ak_x")
    assert result.exit_code == 2
    assert "token=***" in result.stderr and "Traceback" in result.stderr
    assert "sentinel-key-123" not in result.stderr + result.stdout


def test_tail_on_a_platform_without_a_stream_says_where_to_look(run) -> None:
    result = run("tail", "--provider", "thingspace")
    assert result.exit_code == 2
    assert "thingspace has no live stream to tail" in result.stderr
    assert "notifyctl listen --provider thingspace" in result.stderr


def test_register_refuses_another_platforms_options(run) -> None:
    result = run("register", "https://hooks.example/h", "--provider", "sigfox", "--include-uid")
    assert result.exit_code == 2
    assert "--include-uid is a pelion option, not for sigfox" in result.stderr
    circle = run("register", "https://hooks.example/h", "--provider", "circle",
                 "--service", "DeviceUsage")
    assert circle.exit_code == 2 and "--service is a thingspace option" in circle.stderr


def _readme_codes() -> dict[int, str]:
    """The exit-code table of README.md: code -> meaning (130 / 143 is two rows)."""
    text = (Path(__file__).parents[1] / "README.md").read_text()
    table = text.split("### Exit codes", 1)[1].split("\n\n", 2)[1]
    rows: dict[int, str] = {}
    for line in table.splitlines()[2:]:
        code, meaning = (cell.strip() for cell in line.strip("|").split("|", 1))
        for number in code.split("/"):
            rows[int(number)] = meaning
    return rows


def test_readme_table_errors_exit_codes_and_classes_agree() -> None:
    """One rule per error kind: every class's code is a row of errors.EXIT_CODES, which is the
    README's table, code for code."""
    from notifyctl import errors

    assert set(_readme_codes()) == set(errors.EXIT_CODES)
    kinds = [errors.NotifyctlError]
    while kinds:
        kind = kinds.pop()
        kinds.extend(kind.__subclasses__())
        if kind is not errors.Interrupted:  # 128 + the signal, both rows listed
            assert kind.exit_code in errors.EXIT_CODES, kind
    assert {errors.Interrupted().exit_code, errors.Interrupted(15).exit_code} <= set(
        errors.EXIT_CODES)
    # The README's rows name what errors.EXIT_CODES says each code covers.
    assert "missing setting or secret" in _readme_codes()[2]
    assert "missing setting or secret" in errors.EXIT_CODES[2]
    assert "not the platform's" in _readme_codes()[2] and "401/403" in _readme_codes()[3]
