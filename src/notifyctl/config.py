"""Profiles in a YAML config file, and the one place where settings are resolved.

The file (``$XDG_CONFIG_HOME/notifyctl/config.yaml``, or ``--config`` / ``NOTIFYCTL_CONFIG``)
holds named profiles and never a secret. It is written atomically (temporary file, fsync,
rename) with mode 0600, so an interrupted write or a malformed edit never loses the old file.

Every setting is resolved by ``resolve`` with the precedence flag > environment > profile >
default; nothing else in notifyctl decides between those sources. Profiles are checked against
the platforms' declarations (``notifyctl.registry``): a provider that is not installed, or a
setting or value its platform does not declare, is refused when the file is read or written.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from notifyctl import registry
from notifyctl.contract.connection import Connection
from notifyctl.errors import ConfigError, UsageError

COMMON_KEYS = ("provider", "api_url", "account")

# Environment variables for the non-secret settings (secrets: notifyctl.secrets.SECRET_ENV).
ENV_CONFIG = "NOTIFYCTL_CONFIG"
ENV_PROFILE = "NOTIFYCTL_PROFILE"
ENV_SETTINGS = {
    "provider": "NOTIFYCTL_PROVIDER",
    "api_url": "NOTIFYCTL_API_URL",
    "account": "NOTIFYCTL_ACCOUNT",
}

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def config_path(flag: str | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """Where the config file lives: ``--config`` > NOTIFYCTL_CONFIG > XDG default."""
    if flag:
        return Path(flag).expanduser()
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "notifyctl" / "config.yaml"


@dataclass
class Config:
    """The parsed config file. ``profiles`` maps a name to its settings (plain YAML data)."""

    path: Path
    default_profile: str | None = None
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def profile(self, name: str) -> dict[str, Any]:
        try:
            return self.profiles[name]
        except KeyError:
            raise UsageError(f"unknown profile {name!r}", hint=self._profiles_hint(name)) from None

    def _profiles_hint(self, name: str) -> str:
        from notifyctl.suggest import did_you_mean

        if not self.profiles:
            return f"no profiles in {self.path}; add one with 'notifyctl profile add NAME'"
        return (f"{did_you_mean(name, self.profiles)}profiles in {self.path}: "
                f"{', '.join(sorted(self.profiles))}")

    def to_yaml_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.default_profile:
            data["default_profile"] = self.default_profile
        data["profiles"] = self.profiles
        return data


def load(path: Path) -> Config:
    """Read and validate the config file; a missing file is an empty config."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "malformed YAML"
        raise ConfigError(
            f"{where}: {problem}", hint="fix the file by hand; notifyctl left it as it was"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from exc
    except RecursionError as exc:  # PyYAML recurses per nesting level
        raise ConfigError(f"{path}: nested too deeply to be a config file") from exc
    return _validate(path, data)


def _validate(path: Path, data: object) -> Config:
    if data is None:
        return Config(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping with 'profiles'")
    unknown = set(data) - {"default_profile", "profiles"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {sorted(map(str, unknown))[0]!r}")
    profiles = data.get("profiles") or {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"{path}: 'profiles' must be a mapping of name to settings")
    for name, settings in profiles.items():
        where = f"{path}: profiles.{name}"
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: must be a mapping of settings")
        provider = settings.get("provider")
        if provider is None:
            raise ConfigError(f"{where}.provider: missing")
        try:
            registry.for_profile(str(provider))
        except UsageError as exc:
            raise ConfigError(f"{where}.provider: {exc.message}", hint=exc.hint) from None
        for key, value in settings.items():
            if not isinstance(key, str) or isinstance(value, (dict, list)):
                raise ConfigError(f"{where}.{key}: must be a plain value")
            check_setting(provider, key, value, where=f"{where}.")
    default = data.get("default_profile")
    if default is not None and (not isinstance(default, str) or default not in profiles):
        raise ConfigError(f"{path}: default_profile {default!r} is not a profile")
    return Config(path, default, {str(k): dict(v) for k, v in profiles.items()})


def save(config: Config) -> None:
    """Write atomically with mode 0600: a temporary file in the same folder, then rename."""
    import yaml

    config.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = yaml.safe_dump(config.to_yaml_data(), sort_keys=False, default_flow_style=False)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".tmp", dir=config.path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, config.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_profile_name(name: str) -> str:
    if not _PROFILE_NAME.match(name):
        raise UsageError(
            f"invalid profile name {name!r}",
            hint="use letters, digits, '.', '_' or '-' (at most 64 characters)",
        )
    return name


def check_setting(provider: str, key: str, value: object, *, where: str = "") -> None:
    """Refuse a provider-specific setting the provider does not declare, or a value it does not
    accept, naming the key and the valid ones (``profile add --set`` and loading the file)."""
    if key in COMMON_KEYS:
        return
    problem = registry.for_profile(provider).setting_problem(key, value)
    if problem:
        raise ConfigError(f"{where}{key}: {problem}")


def parse_assignment(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` from ``--set``; the key must look like an identifier."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not re.fullmatch(r"[a-z][a-z0-9_]*", key):
        raise UsageError(f"--set {text!r}: expected KEY=VALUE with a lowercase key")
    if key == "provider":
        raise UsageError("--set provider=…: use --provider")
    return key, value


@dataclass(frozen=True)
class ConnectionFlags:
    """The command-line values that compete with environment and profile."""

    profile: str | None = None
    provider: str | None = None
    api_url: str | None = None
    account: str | None = None


def resolve(
    flags: ConnectionFlags, config: Config, env: Mapping[str, str] = os.environ
) -> Connection:
    """Apply flag > environment > profile > default for every connection setting."""
    profile_name = flags.profile or env.get(ENV_PROFILE) or config.default_profile
    profile = config.profile(profile_name) if profile_name else {}

    def pick(key: str, flag: str | None) -> Any:
        if flag:
            return flag
        if env.get(ENV_SETTINGS[key]):
            return env[ENV_SETTINGS[key]]
        return profile.get(key)

    provider = pick("provider", flags.provider)
    if not provider:
        raise UsageError(
            "no provider chosen",
            hint="pass --provider P (or --profile NAME), or set NOTIFYCTL_PROVIDER;"
            f" providers: {', '.join(registry.profile_names())}",
        )
    info = registry.for_profile(str(provider))
    api_url = str(pick("api_url", flags.api_url) or info.default_api_url).rstrip("/")
    account = pick("account", flags.account)
    extra = {k: v for k, v in profile.items() if k not in COMMON_KEYS}
    return Connection(
        profile_name, info.name, api_url, str(account) if account else None, extra
    )


def profile_names_for_completion(path: Path) -> list[str]:
    """Profile names read without PyYAML, so TAB completion stays fast."""
    return list(profiles_for_completion(path)[1])


def profiles_for_completion(path: Path) -> tuple[str | None, dict[str, dict[str, str]]]:
    """``(default_profile, {name: {key: value}})`` read without PyYAML, for TAB completion.

    It understands the block layout ``save`` writes (``profiles:`` then two-space names and
    four-space ``key: value`` lines); a hand-written file in another style completes nothing
    rather than being misread.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None, {}
    default: str | None = None
    profiles: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    inside = False
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            inside = line.rstrip() == "profiles:"
            top = re.match(r"^default_profile:\s*['\"]?([^'\"\s]+)", line)
            default = top.group(1) if top else default
            continue
        name = re.match(r"^  ([A-Za-z0-9][A-Za-z0-9_.-]*):\s*$", line)
        setting = re.match(r"^    ([a-z][a-z0-9_]*):\s*['\"]?([^'\"#]*?)['\"]?\s*$", line)
        if inside and name:
            current = profiles.setdefault(name.group(1), {})
        elif inside and setting and current is not None:
            current[setting.group(1)] = setting.group(2)
    return default, profiles
