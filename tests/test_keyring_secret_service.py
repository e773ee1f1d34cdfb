"""The keyring Linux desktop users have: the CLI against a real Secret Service.

``gnome-keyring-daemon`` runs in a private ``dbus-run-session`` with its login collection created
and unlocked from a password on stdin; ``notifyctl`` runs as a subprocess on that bus through
keyring's SecretService backend (SecretStorage over jeepney). HOME and the XDG folders are the
test's own, so the user's real keyring is never touched. Also: a locked login collection, and a
Secret Service chosen where no bus can be reached. Skipped only where the two programs are
missing (``.ci/run`` installs them from apt).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pelion_events import message
from sandbox import SandboxThread

from conftest import Result, subprocess_env

SECRETS_BUS_NAME = "org.freedesktop.secrets"
KEY = "ak_secretservice_0123456789abcdef"
DEADLINE = 60.0  # generous: only reached when something is broken
# Prints the daemon's pid (the shell execs into it) and the bus address, then hands the daemon
# the password still waiting on stdin.
SESSION_SCRIPT = (
    'printf "%s %s\\n" "$$" "$DBUS_SESSION_BUS_ADDRESS"; '
    'exec gnome-keyring-daemon --foreground "$@" --components=secrets'
)


@dataclass(frozen=True)
class Session:
    env: dict[str, str]  # what a client needs to reach this Secret Service, and nothing else
    pgid: int


def wait_for_bus_name(address: str, name: str) -> None:
    """Block until ``name`` has an owner on the bus: subscribe first, then ask, so the moment
    it is taken cannot slip between the two. Asking does not D-Bus-activate a second daemon."""
    from jeepney import MatchRule
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection

    rule = MatchRule(type="signal", sender="org.freedesktop.DBus", member="NameOwnerChanged",
                     interface="org.freedesktop.DBus", path="/org/freedesktop/DBus")
    rule.add_arg_condition(0, name)
    with open_dbus_connection(address, auth_timeout=DEADLINE) as conn, \
            conn.filter(rule) as changes:
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=DEADLINE)
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=DEADLINE)
        owned = reply.body[0]
        while not owned:
            owned = bool(conn.recv_until_filtered(changes, timeout=DEADLINE).body[2])


def live_members(pgid: int) -> list[int]:
    """Processes of the group that still run. Zombies have stopped: dbus-run-session does not
    reap the bus it ends, and where PID 1 does not reap either, its entry stays."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def skip_without_programs() -> None:
    missing = [tool for tool in ("dbus-run-session", "gnome-keyring-daemon")
               if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"no {' or '.join(missing)} on PATH: install the Debian packages "
                    "gnome-keyring and dbus-daemon (.ci/run does) to test the Secret Service")


@contextlib.contextmanager
def secret_service_session(folder: Path, unlock: bool = True) -> Iterator[Session]:
    """gnome-keyring-daemon on a private session bus, ready (its bus name taken, which it does
    only after unlocking, or creating, the login collection with the password on stdin; without
    ``unlock`` an existing one stays locked); stopped, with its whole process group, on exit."""
    home = folder / "home"
    home.mkdir(parents=True, exist_ok=True)
    # Short and private: the daemon puts sockets here, and socket paths are limited to 108 bytes.
    runtime = tempfile.mkdtemp(prefix="nk-run-")
    folders = {"HOME": str(home), "XDG_DATA_HOME": str(folder / "xdg-data"),
               "XDG_CONFIG_HOME": str(folder / "xdg"), "XDG_CACHE_HOME": str(home / ".cache"),
               "XDG_RUNTIME_DIR": runtime}
    env = {name: value for name, value in os.environ.items()
           if name not in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY")}
    env.update(folders)
    log = folder / "session.log"
    with log.open("w") as stderr:
        session = subprocess.Popen(
            ["dbus-run-session", "--", "sh", "-c", SESSION_SCRIPT, "sh", *(["--unlock"] * unlock)],
            env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
            start_new_session=True,
        )
    assert session.stdin is not None and session.stdout is not None
    daemon_pid = None
    try:
        session.stdin.write("login-keyring-password")  # creates the login collection unlocked
        session.stdin.close()
        first = session.stdout.readline().split(maxsplit=1)
        assert len(first) == 2, f"the session did not start: {log.read_text()}"
        daemon_pid, address = int(first[0]), first[1].strip()
        wait_for_bus_name(address, SECRETS_BUS_NAME)
        yield Session({**folders, "DBUS_SESSION_BUS_ADDRESS": address}, session.pid)
    finally:
        stop_session(session, daemon_pid)
        shutil.rmtree(runtime, ignore_errors=True)


def stop_session(session: subprocess.Popen[str], daemon_pid: int | None) -> None:
    """Stop the daemon; dbus-run-session then closes the bus and exits. Whatever of the group
    outlives that (a D-Bus-activated helper, say) is killed, so no daemon is left behind."""
    if daemon_pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon_pid, signal.SIGTERM)
    try:
        session.wait(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        session.kill()
        session.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(session.pid, signal.SIGKILL)
    deadline = time.monotonic() + DEADLINE
    while live_members(session.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # SIGKILL is delivered asynchronously


@pytest.fixture
def secret_service(isolated: Path) -> Iterator[Session]:
    skip_without_programs()
    with secret_service_session(isolated) as session:
        yield session


def stored_items(session: Session) -> list[tuple[str, str]]:
    """What the Secret Service holds for notifyctl, asked over D-Bus by this test itself."""
    import secretstorage
    from jeepney.io.blocking import open_dbus_connection

    with open_dbus_connection(session.env["DBUS_SESSION_BUS_ADDRESS"]) as conn:
        items = secretstorage.search_items(conn, {"service": "notifyctl"})
        return [(item.get_attributes()["username"], item.get_secret().decode()) for item in items]


def test_auth_round_trip_through_gnome_keyring(run, secret_service: Session,
                                               sandbox: SandboxThread, isolated: Path) -> None:
    env = {**secret_service.env,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
    assert run("profile", "add", "prod", "--provider", "pelion", "--api-url",
               sandbox.url).exit_code == 0

    login = run("-p", "prod", "auth", "login", input=KEY + "\n", **env)
    assert login.exit_code == 0, login.stderr
    assert stored_items(secret_service) == [("prod/api_key", KEY)]
    assert not (isolated / "xdg-data" / "python_keyring").exists()  # not the file backend

    status = run("-p", "prod", "auth", "status", "-o", "json", **env)
    assert status.exit_code == 0, status.stderr
    [row] = status.json()["secrets"]
    assert (row["source"], row["masked"], row["set"]) == ("keyring", "****cdef", True)

    sandbox.inject(message(range(1)), api_key=KEY)  # queued for that key only
    tail = run("-p", "prod", "tail", "--count", "1", "--timeout", "30", "-o", "jsonl", **env)
    assert tail.exit_code == 0, tail.stderr
    assert '"u0"' in tail.stdout

    assert run("-p", "prod", "auth", "logout", **env).exit_code == 0
    assert stored_items(secret_service) == []
    [row] = run("-p", "prod", "auth", "status", "-o", "json", **env).json()["secrets"]
    assert (row["set"], row["source"]) == (False, None)
    for result in (login, status, tail):
        assert KEY not in result.stdout + result.stderr


def test_the_session_leaves_no_daemon_behind(secret_service: Session, tmp_path: Path) -> None:
    """The teardown every use of the session relies on, checked on a second session."""
    with secret_service_session(tmp_path / "second") as second:
        assert live_members(second.pgid)  # bus and daemon run while in use
    assert live_members(second.pgid) == []
    assert live_members(secret_service.pgid)  # stopping one leaves the other alone


def test_locked_login_collection_is_a_one_line_error(run, isolated: Path) -> None:
    """A desktop user's keyring that is still locked (say, logged in over ssh): with no display
    the unlock prompt fails at once, and the CLI says what to do instead."""
    skip_without_programs()
    with secret_service_session(isolated):
        pass  # creates the login collection, protected by a password
    with secret_service_session(isolated, unlock=False) as locked:
        env = {**locked.env, "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
        assert run("profile", "add", "prod", "--provider", "pelion").exit_code == 0
        login = run("-p", "prod", "auth", "login", input=KEY + "\n", **env)
    assert login.exit_code == 2
    assert "Failed to unlock the collection" in login.stderr
    assert "NOTIFYCTL_API_KEY" in login.stderr and "Traceback" not in login.stderr


@pytest.mark.parametrize("bus", ["unset", "stale"])
def test_secret_service_without_a_bus_names_the_variables(run, isolated: Path, bus: str) -> None:
    """A Secret Service chosen explicitly (``PYTHON_KEYRING_BACKEND``, or keyring's own config
    file) where no session bus can be reached: over ssh, or with the address of a session that
    has ended. keyring then fails with a bare RuntimeError or OSError, not a KeyringError; both
    are the keyring being unusable, not a bug in notifyctl."""
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}
    if bus == "stale":
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={isolated / 'ended-session-bus'}"
    assert run("profile", "add", "prod", "--provider", "pelion", "--api-url",
               "http://127.0.0.1:9").exit_code == 0

    def notifyctl(*args: str, input: str = "") -> Result:
        environ = subprocess_env(**env)
        if bus == "unset":
            environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        proc = subprocess.run([sys.executable, "-m", "notifyctl", *args], input=input,
                              capture_output=True, text=True, timeout=DEADLINE, env=environ)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    login = notifyctl("-p", "prod", "auth", "login", input=KEY + "\n")
    listing = notifyctl("-p", "prod", "list")
    # Both are configuration (exit 2): an unusable keyring is not the platform refusing.
    assert (login.exit_code, listing.exit_code) == (2, 2)
    for result in (login, listing):
        assert "no usable OS keyring" in result.stderr
        assert "NOTIFYCTL_API_KEY" in result.stderr
        assert "Traceback" not in result.stderr and "bug in notifyctl" not in result.stderr
