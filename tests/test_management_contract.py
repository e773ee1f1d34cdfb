"""The management commands' contract on every platform, against the real sandbox and small
aiohttp servers on 127.0.0.1: README's exit-code table row by row (0, 2, 3, 4, 5), an answer
that is not the platform's (an HTML portal, a proxy page, a wrong ``--api-url``) never taken for
success, network errors naming scheme, host and port, ``unregister --ignore-not-found`` and
``-o json`` results of ``register``/``unregister``.

Each platform is described once (``PLATFORMS``): how to reach it in the sandbox, a call that
succeeds on an empty sandbox, and a removal that finds nothing there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aioserve import ServeThread
from recorder import Recorder

ACCOUNT = "0000123456-00001"
DT = "5a1b2c3d4e5f"
SECRET = "s3cret-value-9f8e7d"  # every secret of every platform: never in any output
HOOK = "http://127.0.0.1:9/hook"  # a receiver nobody calls (ThingSpace, Sigfox, Circle)


@dataclass(frozen=True)
class Platform:
    name: str
    provider: str
    secrets: tuple[str, ...]  # the variables holding its secrets
    suffix: str = ""  # the API base below the sandbox's URL
    settings: tuple[str, ...] = ()  # extra `profile add` arguments
    call: tuple[str, ...] = ("list",)  # succeeds on an empty sandbox
    remove: tuple[str, ...] = ("unregister",)  # finds nothing on an empty sandbox
    path: str = ""  # glob of the management routes, for the sandbox's http_status fault
    register: tuple[str, ...] = field(default=())  # register's extra arguments


PLATFORMS = [
    Platform("pelion", "pelion", ("NOTIFYCTL_API_KEY",), path="/v2/notification/*"),
    Platform("thingspace-rest", "thingspace",
             ("NOTIFYCTL_USERNAME", "NOTIFYCTL_PASSWORD", "NOTIFYCTL_CLIENT_ID",
              "NOTIFYCTL_CLIENT_SECRET"), "/api", ("--account", ACCOUNT, "--set", "api=rest"),
             remove=("unregister", "--service", "DeviceUsage"), path="/api/m2m/v1/callbacks/*",
             register=("--service", "DeviceUsage")),
    Platform("thingspace-soap", "thingspace", ("NOTIFYCTL_USERNAME", "NOTIFYCTL_PASSWORD"),
             "/api/v2", ("--account", ACCOUNT, "--set", "api=soap"),
             remove=("unregister", "--service", "DeviceUsage"),
             path="/api/v2/CallbackRegistrationService.svc", register=("--service", "DeviceUsage")),
    Platform("sigfox", "sigfox", ("NOTIFYCTL_USERNAME", "NOTIFYCTL_PASSWORD"), "/v2",
             call=("list", "--device-type", DT),
             remove=("unregister", "0123456789abcdef01234567", "--device-type", DT),
             path="/v2/device-types/*", register=("--device-type", DT)),
    Platform("circle", "circle", ("NOTIFYCTL_API_KEY", "NOTIFYCTL_ACCESS_TOKEN"),
             call=("register", HOOK, "--event-type", "activity_created", "--auth-key-env", "CK"),
             path="/api/accounts/self/notifications/server",
             register=("--event-type", "activity_created", "--auth-key-env", "CK")),
]
BY_NAME = {p.name: p for p in PLATFORMS}


def credentials(platform: Platform, sandbox: Any) -> dict[str, str]:
    """The sandbox accepts any ThingSpace login named "sandbox" and Pelion's own key."""
    if platform.provider == "pelion":
        return {"NOTIFYCTL_API_KEY": sandbox.api_key}
    if platform.provider == "thingspace":
        return {name: "sandbox" for name in platform.secrets}
    return {name: SECRET for name in platform.secrets}


@pytest.fixture(params=[p.name for p in PLATFORMS])
def platform(request: pytest.FixtureRequest, cli: Any, sandbox: Any,
             monkeypatch: pytest.MonkeyPatch) -> Platform:
    """A profile named after the platform, pointing at the sandbox, secrets in the env."""
    chosen = BY_NAME[request.param]
    for name, value in credentials(chosen, sandbox).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CK", "circle-auth-key-0123456789abcdef")
    added = cli("profile", "add", chosen.name, "--provider", chosen.provider, "--api-url",
                sandbox.url + chosen.suffix, *chosen.settings)
    assert added.exit_code == 0, added.stderr
    return chosen


def one_line_error(result: Any) -> str:
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ---- the table, row by row ----------------------------------------------------------------------

def test_row_0_a_call_that_works(cli: Any, platform: Platform) -> None:
    result = cli("-p", platform.name, *platform.call)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(("status", "code"), [(400, 2), (409, 2), (422, 2), (401, 3), (403, 3),
                                              (500, 5), (503, 5)])
def test_rows_2_3_5_statuses_the_platform_answers(cli: Any, sandbox: Any, platform: Platform,
                                                 status: int, code: int) -> None:
    sandbox.fault(action="http_status", path=platform.path, status=status, times=-1)
    result = cli("-p", platform.name, *platform.call)
    assert result.exit_code == code, result.stderr
    assert str(status) in one_line_error(result)


def test_row_4_nothing_to_remove(cli: Any, platform: Platform) -> None:
    result = cli("-p", platform.name, *platform.remove)
    assert result.exit_code == 4, result.stderr
    one_line_error(result)


def test_row_2_missing_secret_is_configuration(cli: Any, platform: Platform,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(platform.secrets[-1])
    result = cli("-p", platform.name, *platform.call)
    assert result.exit_code == 2, result.stderr
    assert platform.secrets[-1] in one_line_error(result)


def test_row_2_api_url_that_is_not_a_url(cli: Any, platform: Platform) -> None:
    result = cli("-p", platform.name, *platform.call, "--api-url", "not-a-url")
    assert result.exit_code == 2, result.stderr
    line = one_line_error(result)
    assert "'not-a-url'" in line and "--api-url" in line


def test_row_5_connection_refused_names_the_host_and_gives_up_fast(
        cli: Any, platform: Platform) -> None:
    result = cli("-p", platform.name, *platform.call, "--api-url", "http://127.0.0.1:1")
    assert result.exit_code == 5, result.stderr
    assert "cannot connect to http://127.0.0.1:1 (connection refused)" in one_line_error(result)
    # Nothing ever answered: at most one quick retry, not the whole back-off (-v shows them).
    verbose = cli("-v", "-p", platform.name, *platform.call, "--api-url", "http://127.0.0.1:1")
    assert verbose.exit_code == 5 and verbose.stderr.count("retrying in") <= 1


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and requests, never answers."""
    async def hang(request: web.Request) -> web.Response:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    with ServeThread(lambda app: app.router.add_route("*", "/{tail:.*}", hang)) as server:
        yield server.url


def test_row_5_timeout_names_the_host(cli: Any, platform: Platform, silent_server: str) -> None:
    result = cli("-p", platform.name, *platform.call, "--api-url",
                 silent_server + platform.suffix, "--request-timeout", "0.2")
    assert result.exit_code == 5, result.stderr
    line = one_line_error(result)
    assert "timed out" in line and silent_server in line


def test_iottly_has_no_management_api_exit_2(cli: Any) -> None:
    for command in (["register", HOOK], ["unregister"], ["list"]):
        result = cli(*command, "--provider", "iottly")
        assert result.exit_code == 2 and "dashboard" in one_line_error(result)


# ---- an answer that is not the platform's ----------------------------------------------------

PORTAL = "<!DOCTYPE html><html><head><title>Sign in to the Wi-Fi</title></head><body>" + \
    "<script>alert(1)</script>" + "x" * 500 + "</body></html>"


@pytest.fixture(params=[200, 404, 501])
def portal(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    """A web server answering an HTML page with one status to everything."""
    status: int = request.param

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=status, text=PORTAL, content_type="text/html")

    with ServeThread(lambda app: app.router.add_route("*", "/{tail:.*}", page)) as server:
        yield server.url, status


@pytest.mark.parametrize("command", ["call", "register", "remove"])
def test_html_is_never_success(cli: Any, platform: Platform, portal: tuple[str, int],
                               command: str) -> None:
    url, status = portal
    args = {"call": platform.call, "remove": platform.remove,
            "register": ("register", HOOK, *platform.register)}[command]
    result = cli("-p", platform.name, *args, "--api-url", url + platform.suffix)
    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""  # no "[]", no id, no JSON
    line = one_line_error(result)
    assert f"{url}{platform.suffix}/" in line and f"HTTP {status}" in line
    assert "text/html" in line and "Sign in to the Wi-Fi" in line and "--api-url" in line
    assert len(line) < 600 and "x" * 100 not in line  # a short snippet, not the page
    assert "registered" not in result.stderr and "deleted" not in result.stderr


# Circle's register answer has no shape notifyctl relies on.
@pytest.mark.parametrize("platform", [p.name for p in PLATFORMS if p.name != "circle"],
                         indirect=True)
def test_json_of_the_wrong_shape_is_not_the_platforms(cli: Any, platform: Platform) -> None:
    async def odd(request: web.Request) -> web.Response:
        return web.json_response(["not", "an", "object"])

    with ServeThread(lambda app: app.router.add_route("*", "/{tail:.*}", odd)) as server:
        result = cli("-p", platform.name, *platform.call, "--api-url",
                     server.url + platform.suffix)
    assert result.exit_code == 2, result.stderr
    assert "application/json" in one_line_error(result)


# ---- unregister --ignore-not-found, register/unregister -o json -------------------------------

def test_ignore_not_found_exits_0_with_a_note(cli: Any, platform: Platform) -> None:
    result = cli("-p", platform.name, *platform.remove, "--ignore-not-found")
    assert result.exit_code == 0, result.stderr
    assert "nothing to remove" in result.stderr and result.stdout == ""
    as_json = cli("-p", platform.name, *platform.remove, "--ignore-not-found", "-o", "json")
    assert as_json.exit_code == 0, as_json.stderr
    assert as_json.json()["removed"] is False


def test_ignore_not_found_keeps_other_errors(cli: Any, sandbox: Any, platform: Platform) -> None:
    sandbox.fault(action="http_status", path=platform.path, status=403, times=-1)
    result = cli("-p", platform.name, *platform.remove, "--ignore-not-found")
    assert result.exit_code == 3, result.stderr


def test_register_then_unregister_print_json_without_secrets(
        cli: Any, platform: Platform) -> None:
    with Recorder() as receiver:  # Pelion checks the URL with a PUT before accepting it
        hook = receiver.url + "/hook?token=receiver-token-77"
        made = cli("-p", platform.name, "register", hook, *platform.register, "-o", "json")
    assert made.exit_code == 0, made.stderr
    registered = made.json()
    assert registered["provider"] == platform.provider
    assert registered["url"] == receiver.url + "/hook?token=***"
    remove = list(platform.remove)
    if platform.provider == "sigfox":
        remove[1] = registered["id"]
    gone = cli("-p", platform.name, *remove, "-o", "json")
    assert gone.exit_code == 0, gone.stderr
    assert gone.json()["removed"] is True and gone.json()["provider"] == platform.provider
    everything = made.stdout + made.stderr + gone.stdout + gone.stderr
    assert SECRET not in everything and "circle-auth-key" not in everything
    assert "receiver-token-77" not in made.stdout + gone.stdout


def test_default_output_stays_as_it_was(cli: Any, platform: Platform) -> None:
    with Recorder() as receiver:
        made = cli("-p", platform.name, "register", receiver.url + "/h", *platform.register)
    assert made.exit_code == 0, made.stderr
    # Only Sigfox prints data by default: the new callback id, alone, for scripts.
    if platform.provider == "sigfox":
        assert json.dumps(made.stdout.strip()) and len(made.stdout.split()) == 1
    else:
        assert made.stdout == ""
    assert cli("-p", platform.name, "register", "x", "-o", "yaml").exit_code == 2


# ---- platforms reach register/list/unregister only through their declarations ------------------

@pytest.fixture
def plugin_without_channels(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A platform installed as a plugin is (its own distribution's entry point), with an API
    URL and a key but no ``channels`` capability."""
    from notifyctl import registry

    (tmp_path / "acme_platform.py").write_text(
        "from notifyctl.contract import Platform\n"
        "PLATFORM = Platform(name='acme', title='Acme', default_api_url='http://127.0.0.1:9',\n"
        "    secrets=('api_key',), hints={'channels': 'set acme callbacks in its console'})\n")
    info = tmp_path / "acme_platform-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text(
        "[notifyctl.providers]\nacme = acme_platform:PLATFORM\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.platforms.cache_clear()
    yield
    registry.platforms.cache_clear()


def test_a_platform_without_channels_is_refused_not_sent_to_another(
        cli: Any, plugin_without_channels: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bug issue 12 names: a plugin's register/list/unregister fell through to Pelion's API
    client with its key. Now it is a usage error with the platform's own hint."""
    monkeypatch.setenv("NOTIFYCTL_API_KEY", SECRET)
    for command in (["register", HOOK], ["unregister"], ["list"]):
        result = cli(*command, "--provider", "acme")
        assert result.exit_code == 2, result.stderr
        line = one_line_error(result)
        assert "acme has no management API" in line and "set acme callbacks" in line
        assert "pelion" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("platform", ["thingspace-rest", "circle"], indirect=True)
@pytest.mark.parametrize("flag", ["--header", "-H"])
def test_headers_are_refused_where_the_platform_sends_none(cli: Any, platform: Platform,
                                                          flag: str) -> None:
    """Pelion and Sigfox send the user's headers with every delivery; the others refuse them
    with the one message for another platform's option."""
    result = cli("-p", platform.name, "register", HOOK, *platform.register, flag, "X-Team: blue")
    assert result.exit_code == 2, result.stderr
    assert (f"--header is a pelion and sigfox option, not for {platform.provider}"
            in one_line_error(result))


def test_register_help_lists_the_resolved_platforms_options_only(cli: Any) -> None:
    result = cli("register", "--help", "--provider", "thingspace")
    assert result.exit_code == 0
    options = result.stdout.split("Options:")[1]  # the examples name every platform's
    assert "--service" in options and "--callback-password-env" in options
    for other in ("--include-uid", "--device-type", "--event-type", "--websocket"):
        assert other not in options
