"""Test helper: the real sandbox running in a background thread with its own event loop, and the
``sandbox`` pytest fixture.

    def test_something(sandbox):                       # started, retry_base 0.01
        sandbox.inject({"notifications": [...]})       # for sandbox.api_key
        sandbox.fault(action="close", code=1012)
        sandbox.state()["pelion"]["keys"][sandbox.api_key]["queue_size"]

Other settings: ``@pytest.mark.parametrize("sandbox", [{"rate": 50}], indirect=True)``, or
``with SandboxThread(api_key="ak_x") as sb: ...``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from notifyctl.sandbox import Sandbox

TEST_DEFAULTS: dict[str, Any] = {"retry_base": 0.01}


class SandboxThread:
    """A started ``Sandbox`` on 127.0.0.1 port 0, driven from a daemon thread."""

    def __init__(self, **sandbox_kwargs: Any) -> None:
        self.kwargs = sandbox_kwargs
        self.sandbox: Sandbox | None = None
        self.url = ""
        self.api_key = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self) -> SandboxThread:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                self.sandbox = Sandbox(**self.kwargs)
                self.url = loop.run_until_complete(self.sandbox.start())
                self.api_key = self.sandbox.api_key
            except BaseException as exc:
                self._error = exc
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.sandbox.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="sandbox", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("the sandbox did not start within 15 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(15)
        self._thread = None

    def __enter__(self) -> SandboxThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control endpoints ---------------------------------------------------------------
    def _post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        response = httpx.post(self.url + path, json=body, headers=headers or {}, timeout=10)
        if response.status_code != 200:
            raise AssertionError(f"{path}: {response.status_code} {response.text}")
        return response.json()

    def inject(
        self, message: dict[str, Any], api_key: str | None = None, *, broadcast: bool = False
    ) -> dict[str, Any]:
        """Queue a NotificationMessage for ``api_key`` (default: this sandbox's key; queued even
        before the channel exists), or for every channel with ``broadcast=True``."""
        headers = {} if broadcast else {"Authorization": f"Bearer {api_key or self.api_key}"}
        result: dict[str, Any] = self._post("/_sandbox/pelion/events", message, headers)
        return result

    def fault(self, **fault: Any) -> dict[str, Any]:
        """``fault(action="close", code=1012)``, ``fault(action="drop")``,
        ``fault(action="http_status", path=..., status=429, retry_after=1, times=2)``."""
        result: dict[str, Any] = self._post("/_sandbox/faults", fault)
        return result

    def state(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/_sandbox/state", timeout=10)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def key_state(self, api_key: str | None = None) -> dict[str, Any]:
        """The pelion state of one key (``{}`` when the sandbox has not seen it)."""
        keys: dict[str, Any] = self.state()["pelion"]["keys"]
        result: dict[str, Any] = keys.get(api_key or self.api_key, {})
        return result


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxThread]:
    """A started sandbox (retry_base 0.01); indirect parametrization passes other kwargs."""
    kwargs = {**TEST_DEFAULTS, **getattr(request, "param", {})}
    with SandboxThread(**kwargs) as running:
        yield running


@pytest.fixture
def sfx(cli: Any, sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> str:
    """A Sigfox profile named ``sfx`` on the sandbox (its API credentials in the environment)."""
    monkeypatch.setenv("NOTIFYCTL_USERNAME", "api-login")
    monkeypatch.setenv("NOTIFYCTL_PASSWORD", "sfx-pw-sandbox")
    added = cli("profile", "add", "sfx", "--provider", "sigfox", "--api-url", f"{sandbox.url}/v2")
    assert added.exit_code == 0, added.stderr
    return "sfx"
