"""Secret hygiene across every command: sentinel secrets in the keyring and the environment
never reach stdout, stderr (with and without ``-v``), captures, ``--report`` files, the config
file or the sandbox's start-up lines; secret headers and credential query values are masked;
config and capture files are created 0600; TLS is verified unless ``--insecure``, which warns.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aioserve import ServeThread
from pelion_events import message
from sandbox import SandboxThread
from waiting import wait_for

from conftest import Result, subprocess_env
from notifyctl.events import read_capture

TOKEN = secrets.token_hex(12)
KEYRING_KEY = f"ak_KEYRINGSENTINEL{TOKEN}"
ENV_KEY = f"ak_ENVSENTINEL{TOKEN}"
OTHER = f"OTHERSENTINEL{TOKEN}"  # every other secret variable and signing key
SIGN_KEY = "whsec_" + base64.b64encode(f"SIGNSENTINEL{TOKEN}".encode()).decode()
SENTINELS = (KEYRING_KEY, ENV_KEY, OTHER, TOKEN, SIGN_KEY, SIGN_KEY[6:])


def clean(where: str, text: str) -> None:
    for sentinel in SENTINELS:
        assert sentinel not in text, f"a secret leaked into {where}"


class Recorder:
    """A callback target on 127.0.0.1 that answers 200 to everything and keeps the requests."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []

    def setup(self, app: web.Application) -> None:
        async def handle(request: web.Request) -> web.Response:
            self.seen.append((request.path_qs, dict(request.headers), await request.read()))
            return web.Response(status=200)

        app.router.add_route("*", "/{tail:.*}", handle)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NOTIFYCTL_ACCESS_TOKEN", "NOTIFYCTL_USERNAME", "NOTIFYCTL_PASSWORD",
                 "NOTIFYCTL_CLIENT_ID", "NOTIFYCTL_CLIENT_SECRET", "CB_PASS"):
        monkeypatch.setenv(name, OTHER)
    monkeypatch.setenv("SIGN_KEY", SIGN_KEY)


def listen_once(cli: Any, verbose: list[str], args: list[str], send: Any) -> Result:
    """``listen --count 1`` in-process on a known port while ``send(url)`` posts to it."""
    port = free_port()
    result: list[Result] = []
    worker = threading.Thread(target=lambda: result.append(
        cli(*verbose, "listen", "--port", str(port), *args, "--count", "1",
            "--timeout", "20", "-o", "jsonl")))
    worker.start()
    url = f"http://127.0.0.1:{port}"

    def sent() -> bool:
        try:
            send(url)
        except httpx.TransportError:
            return False  # not listening yet
        return True

    wait_for(sent, interval=0.02, what=f"listen on port {port}")
    worker.join(30)
    return result[0]


@pytest.mark.parametrize("verbose", [[], ["-v"]], ids=["quiet", "verbose"])
@pytest.mark.parametrize("source", ["keyring", "environment"])
def test_every_command_keeps_secrets_out(cli, sandbox: SandboxThread, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, env_secrets: None,
                                         config_file: Path, verbose: list[str],
                                         source: str) -> None:
    logging.getLogger().setLevel(logging.DEBUG)  # whatever a library logs is in the scan too
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger().addHandler(handler)
    key = KEYRING_KEY if source == "keyring" else ENV_KEY
    v = verbose
    outputs: list[tuple[str, Result]] = []

    def run(*args: str, input: str = "") -> Result:
        result = cli(*v, *args, input=input)
        outputs.append((" ".join(args), result))
        return result

    try:
        assert run("profile", "add", "prod", "--provider", "pelion", "--api-url",
                   sandbox.url).exit_code == 0
        assert run("profile", "use", "prod").exit_code == 0
        run("profile", "list", "-o", "table")
        run("profile", "show", "prod", "-o", "json")
        assert run("-p", "prod", "auth", "login", input=KEYRING_KEY + "\n").exit_code == 0
        if source == "environment":
            monkeypatch.setenv("NOTIFYCTL_API_KEY", ENV_KEY)
        run("-p", "prod", "auth", "status", "-o", "json")
        run("-p", "prod", "auth", "status", "-o", "table")

        recorder = Recorder()
        with ServeThread(recorder.setup) as target:
            hook = target.url + "/hook"
            assert run("register", hook, "-H", "X-Source: test").exit_code == 0
            run("list", "-o", "json")
            run("list", "-o", "table")
            assert run("unregister").exit_code == 0

            sandbox.inject(message(range(5)), api_key=key)
            tail_cap = tmp_path / "tail.jsonl"
            tail = run("tail", "-o", "jsonl", "--count", "5", "--timeout", "15",
                       "--save", str(tail_cap))
            assert tail.exit_code == 0, tail.stderr
            assert oct(os.stat(tail_cap).st_mode & 0o777) == oct(0o600)

            listen_cap = tmp_path / "listen.jsonl"
            headers = {"Authorization": f"Bearer {key}", "X-API-Key": key,
                       "Proxy-Authorization": f"Basic {OTHER}", "Cookie": f"s={OTHER}"}
            got = listen_once(cli, v, ["--provider", "iottly", "--save", str(listen_cap)],
                              lambda url: httpx.post(url + "/in", json={"n": 1},
                                                     headers=headers, timeout=5))
            outputs.append(("listen", got))
            assert got.exit_code == 0, got.stderr
            assert oct(os.stat(listen_cap).st_mode & 0o777) == oct(0o600)
            [(_n, captured)] = list(read_capture(listen_cap))
            assert captured.headers["Authorization"] == "Bearer ***"
            assert captured.headers["X-API-Key"] == "***"

            report = tmp_path / "report.json"
            replay = run("replay", str(listen_cap), "--provider", "generic", "--sign",
                         "standard-webhooks", "--sign-key-env", "SIGN_KEY", "--to", hook,
                         "--report", str(report), "-o", "json")
            assert replay.exit_code == 0, replay.stderr
            replay_pelion = run("replay", str(tail_cap), "--provider", "pelion", "--to", hook,
                                "--report", str(report))
            assert replay_pelion.exit_code == 0, replay_pelion.stderr
            files = {p.name: p.read_text() for p in (tail_cap, listen_cap, report, config_file)}
        # What the receiver got may carry the signature, never the key itself.
        for path, got_headers, body in recorder.seen:
            clean(f"a replayed request to {path}", json.dumps(got_headers) + body.decode())
    finally:
        logging.getLogger().removeHandler(handler)

    assert len(recorder.seen) >= 3
    assert oct(os.stat(config_file).st_mode & 0o777) == oct(0o600)
    for name, result in outputs:
        clean(f"stdout of {name}", result.stdout)
        clean(f"stderr of {name}", result.stderr)
    for name, text in files.items():
        clean(name, text)
    clean("log records", "\n".join(records))
    if v:
        assert any("GET" in r.stderr or "PUT" in r.stderr or "http" in r.stderr.lower()
                   for _, r in outputs), "-v said nothing: the scan would prove little"


def test_sandbox_start_up_lines_hold_no_secret(tmp_path: Path) -> None:
    env = subprocess_env(NOTIFYCTL_API_KEY=ENV_KEY, NOTIFYCTL_PASSWORD=OTHER,
                         NOTIFYCTL_CLIENT_SECRET=OTHER)
    err = tmp_path / "err.txt"
    with err.open("wb") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "notifyctl", "-v", "sandbox"],
                                stdout=subprocess.PIPE, stderr=handle, env=env)
    try:
        wait_for(lambda: "Ctrl-C" in err.read_text() or proc.poll() is not None,
                 what="the sandbox's start-up lines")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    text = err.read_text()
    assert "sandbox listening on" in text
    clean("sandbox start-up lines", text + out.decode())


def test_iottly_stream_url_key_is_redacted_in_errors_and_logs() -> None:
    from notifyctl.redaction import redact
    from notifyctl.ws import quiet_logger, translate

    url = f"wss://127.0.0.1:9/v1/stream?api_key={OTHER}&x=1"
    assert redact(url) == "wss://127.0.0.1:9/v1/stream?api_key=***&x=1"
    assert OTHER not in translate(OSError(f"cannot reach {url}"), url, "iottly").message
    logger = quiet_logger("websockets.client.hardening")
    logger.setLevel(logging.DEBUG)
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        logger.debug("> GET %s HTTP/1.1", f"/v1/stream?api_key={OTHER}")
    finally:
        logger.removeHandler(handler)
    assert records == ["> GET /v1/stream?api_key=*** HTTP/1.1"]


# -- TLS ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (no openssl CLI needed on a fresh machine)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(private.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert, key


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[tuple[str, Recorder]]:
    """An HTTPS server with a self-signed certificate (not trusted by default)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    recorder = Recorder()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        holder["loop"] = loop
        app = web.Application()
        recorder.setup(app)
        runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        loop.run_until_complete(site.start())
        holder["url"] = f"https://127.0.0.1:{runner.addresses[0][1]}"
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield holder["url"], recorder
    holder["loop"].call_soon_threadsafe(holder["loop"].stop)
    thread.join(10)


def test_management_call_verifies_tls_unless_insecure(cli, https_server, monkeypatch) -> None:
    url, recorder = https_server
    monkeypatch.setenv("NOTIFYCTL_API_KEY", ENV_KEY)
    refused = cli("list", "--provider", "pelion", "--api-url", url, "--request-timeout", "5")
    assert refused.exit_code == 5 and "TLS certificate not trusted" in refused.stderr
    assert recorder.seen == []  # nothing, not even the key, went over the unverified link
    allowed = cli("list", "--provider", "pelion", "--api-url", url, "--insecure")
    assert "warning: --insecure" in allowed.stderr
    assert recorder.seen, allowed.stderr
    clean("list --insecure", allowed.stdout + allowed.stderr)


def test_replay_verifies_tls_unless_insecure(cli, https_server, tmp_path: Path) -> None:
    url, recorder = https_server
    body = tmp_path / "body.json"
    body.write_text('{"n": 1}')
    refused = cli("replay", str(body), "--provider", "generic", "--to", url + "/hook")
    assert refused.exit_code == 6 and recorder.seen == []
    assert "tls-untrusted" in refused.stderr  # says why, not just "connect-error"
    allowed = cli("replay", str(body), "--provider", "generic", "--to", url + "/hook",
                  "--insecure")
    assert allowed.exit_code == 0, allowed.stderr
    assert "warning:" in allowed.stderr and "--insecure" in allowed.stderr
    assert len(recorder.seen) == 1


def test_error_paths_with_tracebacks_keep_secrets_out(cli, monkeypatch, env_secrets) -> None:
    """-v prints tracebacks of failures: refused keys (401/403, close 1008) and unreachable
    hosts must not carry the key in any chained exception message either."""
    from sandbox import SandboxThread as Thread

    monkeypatch.setenv("NOTIFYCTL_API_KEY", ENV_KEY)
    with Thread(api_key="ak_the_only_key", retry_base=0.01) as other:
        runs = [
            cli("-v", "list", "--provider", "pelion", "--api-url", other.url),
            cli("-v", "register", "http://127.0.0.1:9/hook", "--provider", "pelion",
                "--api-url", other.url),
            cli("-v", "tail", "--provider", "pelion", "--api-url", other.url, "--count", "1",
                "--timeout", "5", "-o", "jsonl"),
        ]
    runs.append(cli("-v", "tail", "--provider", "pelion", "--api-url", "http://127.0.0.1:9",
                    "--retry-for", "0.2", "-o", "jsonl"))
    assert [r.exit_code for r in runs] == [3, 3, 3, 5], [r.stderr[-300:] for r in runs]
    assert any("Traceback" in r.stderr for r in runs)
    for result in runs:
        clean("an error path with -v", result.stdout + result.stderr)
