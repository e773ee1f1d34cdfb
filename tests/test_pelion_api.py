"""Pelion channel management (`register`, `unregister`, `list`) and the HTTP rules beneath it,
against the real sandbox on 127.0.0.1 and a small callback receiver."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox import SandboxThread

from notifyctl.errors import (
    AuthError,
    InvalidRequest,
    NetworkError,
    NotFoundError,
    UsageError,
)
from notifyctl.http import NetOptions, platform_message, retry_after
from notifyctl.providers.pelion.api import PelionApi, Serialization, validate_webhook


class _Receiver(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], bytes]]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(("PUT", self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str, dict[str, str], bytes]]]]:
    """A callback URL that answers 204 and records what it got."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []
    handler = type("Handler", (_Receiver,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", seen
    server.shutdown()
    server.server_close()


def net_args(sb: SandboxThread) -> list[str]:
    return ["--provider", "pelion", "--api-url", sb.url]


@pytest.fixture
def keyed(sandbox: SandboxThread, monkeypatch: pytest.MonkeyPatch) -> SandboxThread:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    return sandbox


def no_secret(result: Any, key: str) -> None:
    assert key not in result.stdout and key not in result.stderr


# -- round trips through the CLI ---------------------------------------------------------
def test_register_list_unregister_round_trip(cli, keyed: SandboxThread, receiver) -> None:
    url, seen = receiver
    result = cli("register", url, *net_args(keyed), "--header", "Authorization: Bearer hook-secret",
                 "--header", "X-Team: blue", "--include-uid", "--max-chunk-size", "500")
    assert result.exit_code == 0, result.stderr
    assert "not HTTPS" in result.stderr  # warned, still registered
    # The platform verified the URL with PUT {} carrying the configured headers.
    assert seen and seen[0][3] == b"{}" and seen[0][2]["Authorization"] == "Bearer hook-secret"

    listed = cli("list", *net_args(keyed), "-o", "json")
    assert listed.exit_code == 0, listed.stderr
    [record] = listed.json()
    assert record["type"] == "callback" and record["url"] == url
    assert record["headers"] == {"Authorization": "Bearer ***", "X-Team": "blue"}
    assert record["serialization"]["max_chunk_size"] == 500
    assert "hook-secret" not in listed.stdout

    table = cli("list", *net_args(keyed), "-o", "table")
    assert table.exit_code == 0 and "callback" in table.stdout

    assert cli("unregister", *net_args(keyed)).exit_code == 0
    empty = cli("list", *net_args(keyed), "-o", "json")
    assert (empty.exit_code, empty.json()) == (0, [])
    for r in (result, listed, table, empty):
        no_secret(r, keyed.api_key)


def test_subprocess_round_trip_and_exit_codes(run, sandbox: SandboxThread, receiver) -> None:
    url, _ = receiver
    env = {"NOTIFYCTL_API_KEY": sandbox.api_key}
    assert run("register", url, *net_args(sandbox), **env).exit_code == 0
    listed = run("list", *net_args(sandbox), **env)  # piped: JSON by default
    assert listed.exit_code == 0 and listed.json()[0]["type"] == "callback"
    # A WebSocket channel cannot coexist: the 400 says how to remove the callback one.
    with PelionApi(sandbox.url, sandbox.api_key) as api:
        with pytest.raises(InvalidRequest) as caught:
            api.ensure_websocket_channel()
        assert "notifyctl unregister'" in str(caught.value)
    assert run("unregister", *net_args(sandbox), **env).exit_code == 0
    again = run("unregister", *net_args(sandbox), **env)
    assert again.exit_code == 4 and "no callback channel" in again.stderr
    bad = run("list", *net_args(sandbox), NOTIFYCTL_API_KEY="not-an-access-key")
    assert bad.exit_code == 3 and len(bad.stderr.strip().splitlines()) == 1
    no_secret(bad, "not-an-access-key")


def test_register_refused_while_websocket_channel_exists(cli, keyed: SandboxThread,
                                                         receiver) -> None:
    with PelionApi(keyed.url, keyed.api_key) as api:
        assert api.ensure_websocket_channel() is True  # 201 created
        assert api.ensure_websocket_channel() is False  # 200 exists, no effect
        assert api.get_channel() == "WEB_SOCKET"
    listed = cli("list", *net_args(keyed), "-o", "json")
    assert listed.json()[0]["type"] == "websocket"
    result = cli("register", receiver[0], *net_args(keyed))
    assert result.exit_code == 2
    [error] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert "notifyctl unregister --websocket" in error
    assert cli("unregister", "--websocket", *net_args(keyed)).exit_code == 0
    nothing = cli("unregister", "--websocket", *net_args(keyed))
    assert nothing.exit_code == 4


def test_list_empty_table_exits_0(cli, keyed: SandboxThread) -> None:
    result = cli("list", *net_args(keyed), "-o", "table")
    assert result.exit_code == 0
    assert "type" in result.stdout and "callback" not in result.stdout


def test_wrong_key_exit_3(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFYCTL_API_KEY", "ak_wrong")
    with SandboxThread(api_key="ak_right", retry_base=0.01) as sb:
        result = cli("list", *net_args(sb))
    assert result.exit_code == 3 and "401" in result.stderr
    no_secret(result, "ak_wrong")


def test_no_api_key_exit_2(cli, sandbox: SandboxThread) -> None:
    # A missing secret is configuration (2), not the platform refusing (3): README's table.
    result = cli("list", *net_args(sandbox))
    assert result.exit_code == 2 and "NOTIFYCTL_API_KEY" in result.stderr


@pytest.mark.parametrize("command", [["register", "https://x.example/h"], ["unregister"],
                                     ["list"], ["tail"]])
def test_other_providers_refuse_pelion_forms(cli, command: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Sigfox callbacks need a device type (and unregister an id); Sigfox has no live stream.
    monkeypatch.setenv("NOTIFYCTL_USERNAME", "u")
    result = cli(*command, "--provider", "sigfox")
    assert result.exit_code == 2
    assert "--device-type" in result.stderr or "sigfox" in result.stderr


# -- bad input: one line, exit 2, nothing sent ----------------------------------------------
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["https://x.example/" + "a" * 380, "--header", "X-Source: " + "t" * 30],
         "at most 400"),
        (["ftp://x.example/h"], "not an http(s) URL"),
        (["not a url"], "not an http(s) URL"),
        (["https://x.example/h", "--max-chunk-size", "99"], "100..10000"),
        (["https://x.example/h", "--max-chunk-size", "10001"], "100..10000"),
        (["https://x.example/h", "--header", "no colon"], "expected 'Name: value'"),
    ],
)
def test_register_bad_input_exit_2(cli, args: list[str], message: str) -> None:
    result = cli("register", *args, "--provider", "pelion", "--api-url", "http://127.0.0.1:9")
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert message in line


def test_validation_counts_url_and_headers_together() -> None:
    url = "https://x.example/" + "a" * 300
    assert validate_webhook(url, {"A": "b" * (400 - len(url) - 1)}) == []
    with pytest.raises(UsageError):
        validate_webhook(url, {"A": "b" * (400 - len(url))})
    assert Serialization().body() is None
    body = Serialization(100, include_uid=True).body()
    assert body == {"type": "v2", "max_chunk_size": 100, "cfg": {
        "include_uid": True, "include_timestamp": False, "include_original_ep": False,
        "deregistrations_as_object": False}}


# -- HTTP rules: 429 Retry-After, 5xx back-off, transport failures -----------------------------
def test_429_retry_after_is_honoured(sandbox: SandboxThread) -> None:
    sandbox.fault(action="http_status", path="/v2/notification/websocket", status=429,
                  retry_after=1, times=1, method="PUT")
    with PelionApi(sandbox.url, sandbox.api_key) as api:
        started = time.monotonic()
        assert api.ensure_websocket_channel() is True
        assert time.monotonic() - started >= 0.95


def test_429_forever_gives_up_exit_5(cli, keyed: SandboxThread) -> None:
    keyed.fault(action="http_status", path="/v2/notification/channel", status=429,
                retry_after=0, times=-1)
    result = cli("list", *net_args(keyed))
    assert result.exit_code == 5 and "429" in result.stderr


def test_5xx_retried_then_network_error(sandbox: SandboxThread) -> None:
    waits: list[float] = []
    net = NetOptions(retries=2, retry_base=0.01, sleep=waits.append)
    sandbox.fault(action="http_status", path="/v2/notification/channel", status=503, times=2)
    with PelionApi(sandbox.url, sandbox.api_key, net) as api:
        assert api.get_channel() is None  # third try reached the sandbox: no channel
        assert len(waits) == 2 and waits[0] <= waits[1] * 2
        sandbox.fault(action="http_status", path="/v2/notification/channel", status=502,
                      times=-1)
        with pytest.raises(NetworkError, match="HTTP 502"):
            api.get_channel()


def test_error_statuses_map_to_the_error_tree(sandbox: SandboxThread) -> None:
    cases = [(400, InvalidRequest), (409, InvalidRequest), (422, InvalidRequest),
             (401, AuthError), (403, AuthError), (404, NotFoundError)]
    with PelionApi(sandbox.url, sandbox.api_key, NetOptions(sleep=lambda s: None)) as api:
        for status, error in cases:
            sandbox.fault(action="http_status", path="/v2/notification/callback", status=status,
                          times=1, body='{"message": "platform says \\u001b[31mno"}')
            with pytest.raises(error) as caught:
                api.get_callback()
            assert "platform says \\x1b[31mno" in str(caught.value)  # shown, made inert


def test_connection_refused_is_network_error_naming_the_host_and_retried_once() -> None:
    # Nothing ever answered: one quick retry, not the whole back-off, and say where.
    waits: list[float] = []
    net = NetOptions(retries=3, sleep=waits.append, timeout=2)
    with PelionApi("http://127.0.0.1:9", "ak_x", net) as api, pytest.raises(
            NetworkError, match=r"cannot connect to http://127\.0\.0\.1:9 \(connection refused\)"):
        api.get_channel()
    assert len(waits) == 1


def test_platform_message_and_retry_after_parsing() -> None:
    def response(status: int, text: str, **headers: str) -> httpx.Response:
        return httpx.Response(status, text=text, headers=headers)

    assert platform_message(response(400, '"MALFORMED_ASYNC_ID"')) == "MALFORMED_ASYNC_ID"
    assert platform_message(response(400, '{"code":400,"message":"bad url"}')) == "bad url"
    assert platform_message(response(400, "x" * 1000)).endswith("…")
    assert platform_message(response(404, "")) == "Not Found"
    assert retry_after(response(429, "", **{"Retry-After": "7"}), 60) == 7
    assert retry_after(response(429, "", **{"Retry-After": "9999"}), 60) == 60
    assert retry_after(response(429, "", **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
                       60) == 0
    assert retry_after(response(429, ""), 60) is None


def test_insecure_warns_and_ca_bundle_checked(cli, tmp_path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    result = cli("list", "--provider", "pelion", "--api-url", "https://127.0.0.1:9",
                 "--ca-bundle", str(bad))
    assert result.exit_code == 2 and "--ca-bundle" in result.stderr
    warned = cli("list", "--provider", "pelion", "--api-url", "http://127.0.0.1:9",
                 "--insecure")
    assert warned.exit_code == 2  # no API key: nothing was sent, but the warning came first
    assert "warning: --insecure" in warned.stderr
    zero = cli("list", "--provider", "pelion", "--request-timeout", "0")
    assert zero.exit_code == 2 and "--request-timeout" in zero.stderr


def test_register_header_from_the_environment(cli, sandbox, monkeypatch) -> None:
    """A receiver's token travels with --header-env, never through argv; one in argv warns."""
    monkeypatch.setenv("NOTIFYCTL_API_KEY", sandbox.api_key)
    monkeypatch.setenv("HOOK_TOKEN", "Bearer hook-secret-123")
    base = ["--provider", "pelion", "--api-url", sandbox.url]
    bad = cli("register", "https://x.example/h", *base, "--header-env", "Authorization=NOPE_VAR")
    assert bad.exit_code == 2 and "NOPE_VAR is not set" in bad.stderr
    warned = cli("register", "https://x.example/h", *base, "--header", "Authorization: t",
                 "--header-env", "Authorization=NOPE_VAR")
    assert "--header-env 'Authorization=VARIABLE'" in warned.stderr
