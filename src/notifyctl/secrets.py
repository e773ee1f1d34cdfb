"""Secrets: the OS keyring per profile, overridden by environment variables for CI.

Secrets never pass through argv, YAML, logs or captures. Every keyring call runs in a worker
thread bounded by ``KEYRING_TIMEOUT`` seconds (``NOTIFYCTL_KEYRING_TIMEOUT``), so a locked or
absent keychain cannot hang the tool; where no backend works, the error names the environment
variables to set instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from notifyctl.errors import ConfigError, UsageError

SERVICE = "notifyctl"
SECRET_ENV: dict[str, str] = {
    "api_key": "NOTIFYCTL_API_KEY",
    "access_token": "NOTIFYCTL_ACCESS_TOKEN",
    "username": "NOTIFYCTL_USERNAME",
    "password": "NOTIFYCTL_PASSWORD",
    "client_id": "NOTIFYCTL_CLIENT_ID",
    "client_secret": "NOTIFYCTL_CLIENT_SECRET",
}
KEYRING_TIMEOUT = float(os.environ.get("NOTIFYCTL_KEYRING_TIMEOUT", "3"))

T = TypeVar("T")


class KeyringUnavailable(ConfigError):
    """No usable keyring backend, or it did not answer in time."""


@dataclass(frozen=True)
class SecretState:
    name: str
    source: str | None  # "environment", "keyring" or None when not set
    value: str | None

    @property
    def masked(self) -> str:
        return mask(self.value) if self.value else ""


def mask(value: str) -> str:
    """A recognisable but useless form of a secret: its last four characters at most."""
    return f"****{value[-4:]}" if len(value) >= 16 else "****"


def _account(profile: str, name: str) -> str:
    return f"{profile}/{name}"


def _bounded(call: Callable[[], T], what: str) -> T:
    """Run one keyring call with a deadline; translate its failures into our errors."""
    import keyring.errors

    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)

    worker = threading.Thread(target=target, name="keyring", daemon=True)
    worker.start()
    worker.join(KEYRING_TIMEOUT)
    variables = ", ".join(SECRET_ENV.values())
    if worker.is_alive():
        raise KeyringUnavailable(
            f"the OS keyring did not answer within {KEYRING_TIMEOUT:g} s while {what}",
            hint=f"unlock it, or set the environment variables instead ({variables})",
        )
    if failure:
        exc = failure[0]
        # Besides its KeyringError, keyring says a backend chosen in PYTHON_KEYRING_BACKEND or
        # keyringrc.cfg is not usable here with a bare RuntimeError (SecretService with no
        # session bus), and lets OSError through (the address of a session that has ended).
        if isinstance(exc, keyring.errors.KeyringError | RuntimeError | OSError):
            raise KeyringUnavailable(
                f"no usable OS keyring while {what}: {exc}",
                hint=f"on a headless machine set the environment variables instead ({variables})",
            ) from exc
        raise exc
    return outcome[0]


def _keyring_get(profile: str, name: str) -> str | None:
    import keyring

    return _bounded(lambda: keyring.get_password(SERVICE, _account(profile, name)), "reading")


def lookup(
    profile: str | None, name: str, env: Mapping[str, str] = os.environ
) -> SecretState:
    """Where secret ``name`` comes from: the environment wins over the keyring. A name without
    an entry in ``SECRET_ENV`` (ThingSpace's ``callback_password``) lives in the keyring only."""
    variable = SECRET_ENV.get(name)
    if variable and env.get(variable):
        return SecretState(name, "environment", env[variable])
    if profile is None:
        return SecretState(name, None, None)
    value = _keyring_get(profile, name)
    return SecretState(name, "keyring" if value else None, value)


def from_env(option: str, var: str | None, *, allow_empty: bool = True,
             hint: str | None = None) -> str | None:
    """The value of the environment variable an ``--...-env VAR`` option names (None without
    the option): secrets come from the environment, never from the command line. A usage error
    names the option and the variable when it is not set (or empty, unless ``allow_empty``)."""
    if var is None:
        return None
    value = os.environ.get(var)
    if value is None or (not value and not allow_empty):
        raise UsageError(f"{option} {var}: the environment variable {var} is not set"
                         + ("" if allow_empty else " or empty"), hint=hint)
    return value


def require(profile: str | None, name: str, env: Mapping[str, str] = os.environ) -> str:
    """The secret's value, or a ConfigError (exit 2: a missing setting, not the platform
    refusing) saying how to provide it."""
    variable = SECRET_ENV.get(name)
    try:
        state = lookup(profile, name, env)
    except KeyringUnavailable as exc:
        raise ConfigError(exc.message, hint=f"set {variable}" if variable else None) from exc
    if state.value:
        return state.value
    login = f"notifyctl -p {profile} auth login" if profile else "notifyctl -p NAME auth login"
    raise ConfigError(f"no {name} is set",
                    hint=f"run '{login}'" + (f" or set {variable}" if variable else ""))


def store(profile: str, name: str, value: str) -> None:
    import keyring

    _bounded(lambda: keyring.set_password(SERVICE, _account(profile, name), value), "storing")


def delete(profile: str, name: str) -> bool:
    """Remove one secret from the keyring; False when it was not there."""
    import keyring
    import keyring.errors

    def remove() -> bool:
        try:
            keyring.delete_password(SERVICE, _account(profile, name))
        except keyring.errors.PasswordDeleteError:
            return False
        return True

    return _bounded(remove, "deleting")

