"""The ThingSpace side of the sandbox: SessionService and CallbackRegistrationService (SOAP) and
the REST OAuth2, session and callback endpoints, as routes on an ``aiohttp.web.Application``.

``add_routes(app, state, prefix=...)`` mounts, under ``prefix``:

- ``POST /api/v2/SessionService.svc`` and ``/api/v2/CallbackRegistrationService.svc`` (SOAP 1.1;
  the SOAP client's base URL is ``<server><prefix>/api/v2``);
- ``POST /api/ts/v1/oauth2/token``, ``POST /api/m2m/v1/session/login|logout``,
  ``POST|GET /api/m2m/v1/callbacks/{account}``, ``DELETE .../callbacks/{account}/name/{service}``
  (the REST client's base URL is ``<server><prefix>/api``).

Platform rules kept: sessions expire after 20 idle minutes (``state.clock`` is injectable), five
failed logins lock the user (even the right password is refused afterwards), one listener per
service per account (registering again replaces it), bad or expired tokens are faults (SOAP) or
401 ``{errorCode, errorMessage}`` (REST), REST lists only listeners registered over REST.
Delivering device events to the listeners is ``emulator_delivery``'s job.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web  # noqa: TID253 - only the sandbox and tests import the emulator

from notifyctl.errors import WireError
from notifyctl.providers.thingspace import services, soap

IDLE_TIMEOUT = 20 * 60.0
MAX_FAILED_LOGINS = 5
OAUTH_LIFETIME = 3600.0


class EmulatedFault(Exception):
    """A refusal: its SOAP fault code (qualified ``a:``), message and REST status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Session:
    username: str
    last_used: float


@dataclass
class Listener:
    account: str
    service: str
    url: str
    username: str
    password: str
    api: str  # "soap" or "rest": REST lists only its own


@dataclass
class ThingSpaceState:
    """Everything the emulated platform remembers; tests read and adjust it directly."""

    users: dict[str, str] = field(default_factory=lambda: {"sandbox": "sandbox"})
    oauth_clients: dict[str, str] = field(default_factory=lambda: {"sandbox": "sandbox"})
    clock: Callable[[], float] = time.monotonic
    idle_timeout: float = IDLE_TIMEOUT
    max_failed_logins: int = MAX_FAILED_LOGINS
    strict_services: bool = True  # refuse names outside the documented lists, as the platform
    sessions: dict[str, Session] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry
    failed_logins: dict[str, int] = field(default_factory=dict)
    locked: set[str] = field(default_factory=set)
    listeners: dict[tuple[str, str], Listener] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # "soap:LogIn", "rest:login"... in order

    def login(self, username: str, password: str) -> str:
        if username in self.locked:
            raise EmulatedFault("Login.AccountLocked", "The account is locked after too many "
                                "failed login attempts.", 401)
        known = self.users.get(username)
        if known is None or not secrets.compare_digest(known.encode(), password.encode()):
            count = self.failed_logins.get(username, 0) + 1
            self.failed_logins[username] = count
            if count >= self.max_failed_logins:
                self.locked.add(username)
            raise EmulatedFault("Login.InvalidCredentials", "Invalid username or password.", 401)
        self.failed_logins.pop(username, None)
        token = secrets.token_hex(16)
        self.sessions[token] = Session(username, self.clock())
        return token

    def touch(self, token: str | None) -> Session:
        """The live session of ``token``, its idle timer restarted."""
        session = self.sessions.get(token or "")
        if session is None:
            raise EmulatedFault("SessionToken.Invalid", "The session token is not valid.", 401)
        now = self.clock()
        if now - session.last_used > self.idle_timeout:
            del self.sessions[token or ""]
            raise EmulatedFault("SessionToken.Expired", "The session token has expired.", 401)
        session.last_used = now
        return session

    def logout(self, token: str | None) -> None:
        self.touch(token)
        self.sessions.pop(token or "", None)

    def register(self, api: str, account: str, service: str, url: str, username: str,
                 password: str) -> Listener:
        if not account:
            raise EmulatedFault("Request.Invalid", "AccountName is required.")
        if self.strict_services and service not in services.known_services(api):
            raise EmulatedFault("Request.InvalidServiceName", f"Unknown service {service!r}.")
        if not service.isascii() or not service.isalnum():
            raise EmulatedFault("Request.InvalidServiceName", "Invalid service name.")
        if not url.startswith(("http://", "https://")):
            raise EmulatedFault("Request.InvalidUrl", "Url must be an http or https URL.")
        listener = Listener(account, service, url, username, password, api)
        self.listeners[(account, service)] = listener  # one per service per account
        return listener

    def unregister(self, account: str, service: str) -> None:
        if self.listeners.pop((account, service), None) is None:
            raise EmulatedFault("Callback.NotFound",
                                f"No callback is registered for {service!r}.", 404)

    def account_listeners(self, account: str, api: str | None = None) -> list[Listener]:
        return [item for (acct, _), item in sorted(self.listeners.items())
                if acct == account and (api is None or item.api == api)]

    def targets(self, service: str) -> list[Listener]:
        """Where the sandbox delivers an event of ``service`` (every account)."""
        return [item for item in self.listeners.values() if item.service == service]


def add_routes(app: web.Application, state: ThingSpaceState, *, prefix: str = "") -> None:
    base = prefix.rstrip("/")
    for service in (soap.SESSION_SERVICE, soap.CALLBACK_SERVICE):
        app.router.add_post(f"{base}/api/v2/{service}.svc", _soap_handler(state, service))
    rest = _Rest(state)
    app.router.add_post(f"{base}/api/ts/v1/oauth2/token", rest.oauth_token)
    app.router.add_post(f"{base}/api/m2m/v1/session/login", rest.login)
    app.router.add_post(f"{base}/api/m2m/v1/session/logout", rest.logout)
    app.router.add_post(f"{base}/api/m2m/v1/callbacks/{{account}}", rest.register)
    app.router.add_get(f"{base}/api/m2m/v1/callbacks/{{account}}", rest.list)
    app.router.add_delete(f"{base}/api/m2m/v1/callbacks/{{account}}/name/{{service}}",
                          rest.unregister)


# ---- SOAP ---------------------------------------------------------------------------------------

def _soap_handler(state: ThingSpaceState, service: str) -> Callable[..., Any]:
    async def handle(request: web.Request) -> web.Response:
        try:
            call = soap.parse_request(await request.read(), service,
                                      request.headers.get("SOAPAction"))
        except WireError as exc:
            return _soap_fault(EmulatedFault("Client", exc.message))
        state.calls.append(f"soap:{call.operation}")
        try:
            body = _soap_call(state, call)
        except EmulatedFault as fault:
            return _soap_fault(fault)
        return web.Response(body=body, content_type="text/xml", charset="utf-8")

    return handle


def _soap_call(state: ThingSpaceState, call: soap.Call) -> bytes:
    get = call.fields.get
    if call.operation == "LogIn":
        token = state.login(get("Username", ""), get("Password", ""))
        return soap.response_envelope("LogIn", {"SessionToken": token}, token=token)
    state.touch(call.token)
    if call.operation == "LogOut":
        state.logout(call.token)
        return soap.response_envelope("LogOut")
    account, service = get("AccountName", ""), get("ServiceName", "")
    if call.operation == "RegisterCallback":
        state.register("soap", account, service, get("Url", ""), get("Username", ""),
                       get("Password", ""))
    elif call.operation == "UnregisterCallback":
        state.unregister(account, service)
    else:
        records = [{"AccountName": item.account, "ServiceName": item.service, "Url": item.url,
                    "Username": item.username} for item in state.account_listeners(account)]
        return soap.response_envelope(call.operation, inner=soap.registration_items(records))
    return soap.response_envelope(call.operation, {"AccountName": account,
                                                   "ServiceName": service})


def _soap_fault(fault: EmulatedFault) -> web.Response:
    # WCF answers faults with HTTP 500.
    return web.Response(status=500, body=soap.fault_envelope(fault.code, fault.message),
                        content_type="text/xml", charset="utf-8")


# ---- REST ---------------------------------------------------------------------------------------

def _error(fault: EmulatedFault) -> web.Response:
    return web.json_response({"errorCode": fault.code, "errorMessage": fault.message},
                             status=fault.status)


class _Rest:
    def __init__(self, state: ThingSpaceState) -> None:
        self.state = state

    def _bearer(self, request: web.Request) -> None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expiry = self.state.access_tokens.get(token)
        if scheme.lower() != "bearer" or expiry is None or expiry < self.state.clock():
            raise EmulatedFault("UnifiedWebService.Unauthorized",
                                "Missing, invalid or expired bearer token.", 401)

    def _session(self, request: web.Request) -> Session:
        self._bearer(request)
        return self.state.touch(request.headers.get("VZ-M2M-Token"))

    async def _json(self, request: web.Request) -> dict[str, Any]:
        try:
            doc = json.loads(await request.read())
        except ValueError:
            raise EmulatedFault("BadRequest", "The body is not JSON.") from None
        if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
            raise EmulatedFault("BadRequest", "The body must be an object of strings.")
        return doc

    async def oauth_token(self, request: web.Request) -> web.Response:
        self.state.calls.append("rest:oauth")
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
        form = await request.post()
        known = self.state.oauth_clients.get(client_id)
        if scheme.lower() != "basic" or known is None or known != secret:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = secrets.token_hex(16)
        self.state.access_tokens[token] = self.state.clock() + OAUTH_LIFETIME
        return web.json_response({"access_token": token, "scope": "ts.m2m",
                                  "token_type": "bearer", "expires_in": int(OAUTH_LIFETIME)})

    async def login(self, request: web.Request) -> web.Response:
        self.state.calls.append("rest:login")
        try:
            self._bearer(request)
            doc = await self._json(request)
            token = self.state.login(doc.get("username", ""), doc.get("password", ""))
        except EmulatedFault as fault:
            return _error(fault)
        return web.json_response({"sessionToken": token, "expiresIn": int(IDLE_TIMEOUT)})

    async def logout(self, request: web.Request) -> web.Response:
        self.state.calls.append("rest:logout")
        try:
            self._bearer(request)
            token = request.headers.get("VZ-M2M-Token")
            self.state.logout(token)
        except EmulatedFault as fault:
            return _error(fault)
        return web.json_response({"sessionToken": token})

    async def register(self, request: web.Request) -> web.Response:
        self.state.calls.append("rest:register")
        account = request.match_info["account"]
        try:
            self._session(request)
            doc = await self._json(request)
            item = self.state.register("rest", account, doc.get("name", ""), doc.get("url", ""),
                                       doc.get("username", ""), doc.get("password", ""))
        except EmulatedFault as fault:
            return _error(fault)
        return web.json_response({"accountName": item.account, "serviceName": item.service})

    async def list(self, request: web.Request) -> web.Response:
        self.state.calls.append("rest:list")
        account = request.match_info["account"]
        try:
            self._session(request)
        except EmulatedFault as fault:
            return _error(fault)
        items = [{"accountName": item.account, "serviceName": item.service, "url": item.url,
                  "username": item.username, "password": item.password}
                 for item in self.state.account_listeners(account, "rest")]
        if not items:
            return web.Response(status=200)  # the platform sends an empty body, not []
        return web.json_response(items)

    async def unregister(self, request: web.Request) -> web.Response:
        self.state.calls.append("rest:unregister")
        account, service = request.match_info["account"], request.match_info["service"]
        try:
            self._session(request)
            self.state.unregister(account, service)
        except EmulatedFault as fault:
            return _error(fault)
        return web.json_response({"accountName": account, "serviceName": service})

