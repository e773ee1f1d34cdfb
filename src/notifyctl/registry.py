"""The one registry of platforms: every ``Platform`` declared in the ``notifyctl.providers``
entry-point group, built-ins included.

notifyctl's own platforms are declared in its ``pyproject.toml`` exactly as a third-party
package declares one (``[project.entry-points."notifyctl.providers"]``), and loaded by the same
code, as simonw/llm loads its default plugins. An entry point must resolve to a ``Platform``;
one that fails to load, or resolves to something else, is reported with the distribution that
declared it instead of breaking every command.

Loading reads the installed distributions' entry-point tables once per process and imports each
platform package's ``__init__`` (declarations only: no network stack, no YAML), so ``--help``
and TAB completion stay fast. The tables are read straight from ``*.dist-info/entry_points.txt``
on ``sys.path``, as ``importlib.metadata`` does, because importing ``importlib.metadata`` costs
about 20 ms (``email`` and ``zipfile`` come with it) on every TAB; docs/decisions.md has the
figures. ``NOTIFYCTL_PLATFORMS=a,b`` limits which platforms load.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Iterator

from notifyctl.contract import Capability, Platform
from notifyctl.errors import UsageError

GROUP = "notifyctl.providers"
ONLY_ENV = "NOTIFYCTL_PLATFORMS"


class PluginError(UsageError):
    """An installed platform whose entry point cannot be used."""


def entry_points() -> Iterator[tuple[str, str, str]]:
    """``(name, "module:attribute", distribution)`` of every ``notifyctl.providers`` entry
    point on ``sys.path``; the first distribution of a name on the path wins, as in
    ``importlib.metadata``."""
    seen: set[str] = set()
    # The standard library holds no distribution: not worth listing on every TAB.
    stdlib = {os.path.dirname(os.__file__)}
    for folder in sys.path:
        if folder in stdlib or folder.endswith((".zip", "lib-dynload")):
            continue
        try:
            entries = sorted(os.listdir(folder or "."))
        except OSError:  # a zip file or a folder that is gone
            continue
        for entry in entries:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            distribution = entry.rsplit(".", 1)[0].split("-", 1)[0]
            if distribution in seen:
                continue
            seen.add(distribution)
            path = os.path.join(folder or ".", entry, "entry_points.txt")
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError:
                continue
            for name, target in _group(text, GROUP):
                yield name, target, distribution


def _group(text: str, group: str) -> Iterator[tuple[str, str]]:
    """The ``name = module:attribute`` lines of one ``[group]`` of an entry_points.txt."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line == f"[{group}]"
        elif inside and "=" in line:
            name, _, target = line.partition("=")
            yield name.strip(), target.strip()


@functools.cache
def platforms() -> dict[str, Platform]:
    """Every installed platform by name, built-ins first (by ``Platform.rank``, then name)."""
    only = {name.strip() for name in os.environ.get(ONLY_ENV, "").split(",") if name.strip()}
    found: dict[str, Platform] = {}
    for name, target, distribution in entry_points():
        if (only and name not in only) or name in found:
            continue
        module, _, attribute = target.partition(":")
        try:
            declared = getattr(importlib.import_module(module), attribute)
        except Exception as exc:
            raise PluginError(f"platform {name!r} from {distribution} failed to load: {exc}",
                              hint=f"reinstall or remove {distribution}") from exc
        if not isinstance(declared, Platform):
            raise PluginError(f"entry point {name!r} of {distribution} ({target}) is not a "
                              "notifyctl.contract.Platform")
        if declared.name != name:
            raise PluginError(f"entry point {name!r} of {distribution} declares a platform "
                              f"named {declared.name!r}: the names must match")
        found[name] = declared
    return dict(sorted(found.items(), key=lambda item: (item[1].rank, item[0])))


def names(capability: Capability | None = None) -> list[str]:
    """Platform names, optionally only those with ``capability``."""
    return [name for name, platform in platforms().items()
            if capability is None or platform.has(capability)]


def profile_names() -> list[str]:
    """The platforms a profile can point at: those with an API (``generic`` has none)."""
    return [name for name, platform in platforms().items() if platform.default_api_url]


def get(name: str, capability: Capability | None = None) -> Platform:
    """The platform called ``name``; a usage error naming the valid ones (with "did you mean"
    for a near miss). With ``capability``, the platform must have it (else ``Missing``)."""
    platform = platforms().get(name)
    if platform is None:
        raise _unknown(name, names(capability))
    if capability is not None and not platform.has(capability):
        platform.load(capability)  # raises Missing with the platform's own hint
    return platform


def for_profile(name: str) -> Platform:
    """The platform a profile names: one with an API."""
    platform = platforms().get(name)
    if platform is None or not platform.default_api_url:
        raise _unknown(name, profile_names())
    return platform


def _unknown(name: str, valid: list[str]) -> UsageError:
    from notifyctl.suggest import did_you_mean

    return UsageError(f"unknown provider {name!r}",
                      hint=f"{did_you_mean(name, valid)}valid providers: {', '.join(valid)}")
