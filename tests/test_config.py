"""Config file: precedence, atomic 0600 writes, and errors that name file, line and column."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from notifyctl import config as cfg
from notifyctl.errors import ConfigError, UsageError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_path_follows_xdg_and_overrides(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert cfg.config_path(None, env) == tmp_path / "notifyctl" / "config.yaml"
    env["NOTIFYCTL_CONFIG"] = str(tmp_path / "env.yaml")
    assert cfg.config_path(None, env) == tmp_path / "env.yaml"
    assert cfg.config_path(str(tmp_path / "flag.yaml"), env) == tmp_path / "flag.yaml"


def test_precedence_flag_over_env_over_profile_over_default(tmp_path: Path) -> None:
    path = write(
        tmp_path / "c.yaml",
        "default_profile: a\nprofiles:\n  a:\n    provider: pelion\n    api_url: http://profile\n"
        "  b:\n    provider: sigfox\n",
    )
    config = cfg.load(path)
    # profile value beats the provider default
    assert cfg.resolve(cfg.ConnectionFlags(), config, {}).api_url == "http://profile"
    # environment beats the profile
    env = {"NOTIFYCTL_API_URL": "http://env/"}
    assert cfg.resolve(cfg.ConnectionFlags(), config, env).api_url == "http://env"
    # the flag beats the environment
    flags = cfg.ConnectionFlags(api_url="http://flag")
    assert cfg.resolve(flags, config, env).api_url == "http://flag"
    # the provider's default when nothing else says
    conn = cfg.resolve(cfg.ConnectionFlags(profile="b"), config, {})
    assert (conn.provider, conn.api_url) == ("sigfox", "https://api.sigfox.com/v2")
    # NOTIFYCTL_PROFILE picks the profile when no flag does
    assert cfg.resolve(cfg.ConnectionFlags(), config, {"NOTIFYCTL_PROFILE": "b"}).profile == "b"


def test_no_profile_needs_a_provider(tmp_path: Path) -> None:
    config = cfg.load(tmp_path / "missing.yaml")
    with pytest.raises(UsageError, match="no provider"):
        cfg.resolve(cfg.ConnectionFlags(), config, {})
    conn = cfg.resolve(cfg.ConnectionFlags(provider="iottly"), config, {})
    assert conn.api_url == "https://api.cloud.iottly.com/v1.0"


def test_save_is_atomic_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.yaml"
    config = cfg.Config(path, "p", {"p": {"provider": "thingspace", "api": "soap"}})
    cfg.save(config)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert cfg.load(path).profiles == {"p": {"provider": "thingspace", "api": "soap"}}
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temp file left


def test_malformed_yaml_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "profiles:\n  a:\n    provider: [pelion\n")
    with pytest.raises(ConfigError) as info:
        cfg.load(path)
    assert str(info.value).startswith(f"{path}:4:1:")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "top level must be a mapping"),
        ("profiles:\n  a:\n    provider: nope\n", "profiles.a.provider: unknown provider"),
        ("profiles:\n  a:\n    api_url: x\n", "profiles.a.provider: missing"),
        ("profiles:\n  a: 3\n", "profiles.a: must be a mapping"),
        ("default_profile: z\nprofiles: {}\n", "default_profile 'z' is not a profile"),
        ("colour: red\n", "unknown top-level key 'colour'"),
        ("profiles:\n  a:\n    provider: pelion\n    nested: {x: 1}\n", "profiles.a.nested"),
    ],
)
def test_invalid_structure_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        cfg.load(write(tmp_path / "c.yaml", text))


def test_profile_names_for_completion_read_without_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    cfg.save(cfg.Config(path, "b", {"a-1": {"provider": "pelion"}, "b": {"provider": "iottly"}}))
    assert cfg.profile_names_for_completion(path) == ["a-1", "b"]
    assert cfg.profile_names_for_completion(tmp_path / "missing.yaml") == []


@pytest.mark.parametrize("bad", ["", "-x", "a b", "x" * 65, "a/b"])
def test_profile_name_rules(bad: str) -> None:
    with pytest.raises(UsageError):
        cfg.check_profile_name(bad)
