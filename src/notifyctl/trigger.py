"""``notifyctl trigger``: inject built-in fixtures into a running sandbox, so a ``tail`` or a
registered callback reacts at once (Stripe's ``trigger``, for notifyctl's platforms).

Names no platform. A fixture is ``platform/kind`` (``replay.fixtures``); its platform turns each
captured delivery into events for its emulator, setting the device when asked
(``Platform.trigger``, a ``contract.emulate.Trigger``); ``--count`` hands it each fixture again,
and it gives a repeated event fresh ids where its ids mark duplicates. Everything is converted
before anything is sent, so a bad ``--device`` sends nothing. The URL is first checked to be a
notifyctl sandbox that emulates those platforms (``GET /_sandbox/state``); the events then go
to ``POST /_sandbox/{platform}/events``, one request per captured delivery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from notifyctl.errors import NetworkError, UsageError

if TYPE_CHECKING:
    import httpx

    from notifyctl.contract.deliver import Item
    from notifyctl.contract.emulate import Converter
    from notifyctl.http import NetOptions

STATE = "/_sandbox/state"
_START_ONE = "start one with 'notifyctl sandbox' and pass the URL it prints with --sandbox"


@dataclass(frozen=True)
class Injection:
    """One request to make: events of ``fixture`` for ``platform``'s emulator."""

    fixture: str
    platform: str
    where: str  # ``fixture pelion/notifications:2``
    body: Any


@dataclass
class Injected:
    """What the sandbox took of one fixture: requests made, events it queued."""

    fixture: str
    requests: int = 0
    queued: int = 0


def available() -> dict[str, str]:
    """``platform/kind`` -> description, of the fixtures a sandbox can be triggered with."""
    from notifyctl import registry
    from notifyctl.replay import fixtures

    able = set(registry.names("trigger")) & set(registry.names("emulator"))
    return {name: what for name, what in fixtures.available().items()
            if name.partition("/")[0] in able}


def plan(names: Iterable[str], device: str | None, count: int = 1) -> list[Injection]:
    """The requests for fixtures ``names``, ``count`` times over (their events' device set to
    ``device``), all converted before anything is sent; a usage error names the fixture line
    that cannot be."""
    from notifyctl.replay import fixtures
    from notifyctl.replay.inputs import read_inputs

    if count < 1:
        raise UsageError(f"--count {count}: must be at least 1")
    if device is not None and not device.strip():
        raise UsageError("--device '': give a device id")
    converters: dict[str, Converter] = {}
    captured: list[tuple[str, str, Item]] = []
    for name in names:
        platform = _triggerable(name)
        if platform not in converters:
            converters[platform] = _converter(platform, device)
        captured += [(name, platform, item) for item in read_inputs([fixtures.source(name)])]
    injections: list[Injection] = []
    for _ in range(count):
        for name, platform, item in captured:
            try:
                bodies = converters[platform](item)
            except ValueError as exc:
                hint = None if device is None else "trigger it without --device"
                raise UsageError(f"{item.where}: {exc}", hint=hint) from None
            injections += [Injection(name, platform, item.where, body) for body in bodies]
    return injections


def _triggerable(name: str) -> str:
    """The platform of fixture ``name``; a usage error when it is unknown or its platform
    cannot inject it (the platform's own hint)."""
    from notifyctl import registry
    from notifyctl.replay import fixtures

    platform_name = name.partition("/")[0]
    if name not in available():
        if name not in fixtures.available():
            raise UsageError(f"unknown fixture {name!r}",
                             hint="list them with 'notifyctl trigger --list'")
        platform = registry.get(platform_name)
        platform.load("emulator")  # says what it lacks
        platform.load("trigger")
    return platform_name


def _converter(platform: str, device: str | None) -> Converter:
    from notifyctl import registry

    try:
        made: Converter = registry.get(platform, "trigger").load("trigger")(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return made


def sandbox_url(url: str) -> str:
    """``url`` checked to be http(s) with a host, without a trailing slash."""
    from notifyctl.http import base_url

    return base_url(url)


def trigger(url: str, injections: list[Injection], net: NetOptions) -> list[Injected]:
    """Check that ``url`` is a sandbox emulating the platforms, then inject, in order."""
    import httpx

    from notifyctl.http import client_options

    done = {injection.fixture: Injected(injection.fixture) for injection in injections}
    with httpx.Client(**client_options(net)) as client:
        check_sandbox(client, url, {injection.platform for injection in injections})
        for injection in injections:
            answer = _post(client, url, injection)
            done[injection.fixture].requests += 1
            queued = answer.get("queued") if isinstance(answer, dict) else None
            done[injection.fixture].queued += queued if isinstance(queued, int) else 0
    return list(done.values())


def check_sandbox(client: httpx.Client, url: str, platforms: set[str]) -> None:
    """Exit 2 unless ``url`` answers ``GET /_sandbox/state`` as a sandbox emulating every one
    of ``platforms``; exit 5 naming host and port when nothing answers."""
    response = _send(client, "GET", url + STATE)
    state: Any = None
    if response.status_code == 200:
        try:
            state = response.json()
        except ValueError:
            state = None
    if not isinstance(state, dict) or not isinstance(state.get("sandbox"), dict):
        answered = f"HTTP {response.status_code}" + (
            ", not a sandbox's state" if response.status_code == 200 else "")
        raise UsageError(f"{url} is not a notifyctl sandbox (GET {STATE} answered {answered})",
                         hint=_START_ONE)
    missing = sorted(platforms - set(state))
    if missing:
        raise UsageError(f"the sandbox at {url} does not emulate {', '.join(missing)}",
                         hint="start it with those platforms (notifyctl sandbox)")


def _post(client: httpx.Client, url: str, injection: Injection) -> Any:
    response = _send(client, "POST", f"{url}/_sandbox/{injection.platform}/events",
                     injection.body)
    if response.status_code == 400:
        raise UsageError(f"{injection.where}: the sandbox refused the events: "
                         f"{_text(response)}")
    if not response.is_success:
        raise NetworkError(f"POST /_sandbox/{injection.platform}/events: the sandbox at {url} "
                           f"answered HTTP {response.status_code}: {_text(response)}")
    try:
        return response.json()
    except ValueError:
        return None


def _send(client: httpx.Client, method: str, url: str, body: Any = None) -> httpx.Response:
    """One request; a transport error is exit 5 naming scheme, host and port."""
    import httpx

    from notifyctl.http import transport_message

    try:
        return client.request(method, url, json=body)
    except httpx.HTTPError as exc:
        message, hint = transport_message(exc, client.timeout.read)
        raise NetworkError(f"trigger: {message}",
                           hint=f"is the sandbox running? {_START_ONE}"
                           if "cannot connect" in message else hint) from None


def _text(response: httpx.Response) -> str:
    from notifyctl.http import platform_message

    return platform_message(response)
