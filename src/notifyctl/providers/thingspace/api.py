"""ThingSpace callback registration clients: ``SoapApi`` (UWS) and ``RestApi`` (M2M REST), one
interface (``register``, ``unregister``, ``list``, ``aclose``), both async on httpx.

Sessions: SOAP logs in with ``LogIn`` (the token rides in the SOAP header of later calls); REST
gets an OAuth2 client-credentials token, then a session (``VZ-M2M-Token``). Both log out in
``aclose``. A session that expired (20 idle minutes) is renewed once per call and the call
resent once. A refused login is never retried, and after one no further login is attempted
by the same client: five failed logins lock the account.

Errors: bad credentials and locks are ``AuthError`` (exit 3), REST ``{errorCode, errorMessage}``
bodies and SOAP faults are shown as the platform wrote them, network failures are
``NetworkError`` (exit 5) naming host and port, and an answer that is not ThingSpace's (HTML, a
wrong content type or shape) is ``UnexpectedAnswer`` (exit 2) through ``http.Answers``.
``list`` never returns a callback password: only ``****`` or "".
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any, Protocol, TypeVar
from urllib.parse import quote
from xml.etree.ElementTree import Element

import httpx  # noqa: TID253 - imported by commands that talk to ThingSpace, never by --help

from notifyctl.errors import (
    AuthError,
    ConfigError,
    NotFoundError,
    NotifyctlError,
    UsageError,
    for_status,
)
from notifyctl.http import Answers, base_url, transport_error
from notifyctl.providers.thingspace import soap
from notifyctl.providers.thingspace.soap import AccountLocked, BadCredentials, SessionExpired

REST_URL = "https://thingspace.verizon.com/api"
SOAP_URL = soap.DEFAULT_URL
TIMEOUT = 30.0
PASSWORD_MASK = "****"
MAX_MESSAGE = 300
# Renew the OAuth2 token this long before the platform says it expires.
OAUTH_MARGIN = 60.0
# What ThingSpace's answers look like: REST is JSON, SOAP is XML (faults included).
REST_ANSWERS = Answers("ThingSpace's JSON")
SOAP_ANSWERS = Answers("ThingSpace's SOAP", ("text/xml", "application/soap+xml"))

T = TypeVar("T")


@dataclass(frozen=True)
class Registration:
    """One callback listener; ``password`` is masked (``****``) or "" when none is set."""

    account: str
    service: str
    url: str
    username: str
    password: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def mask(password: str | None) -> str:
    return PASSWORD_MASK if password else ""


class CallbackApi(Protocol):
    account: str

    async def register(self, service: str, url: str, username: str = "",
                       password: str = "") -> Registration: ...

    async def unregister(self, service: str) -> None: ...

    async def list(self) -> list[Registration]: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> CallbackApi: ...

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None: ...


class _Base:
    """Client ownership, account checks and the async context manager."""

    def __init__(self, url: str, account: str | None, client: httpx.AsyncClient | None,
                 timeout: float) -> None:
        self.timeout = timeout
        self.base_url = base_url(url)
        self.account = account or ""
        self._own_client = client is None
        self.client = client or httpx.AsyncClient(timeout=timeout)
        self._login_failed = False

    def _no_second_login(self) -> None:
        """A refused login is final for this client: five failures lock the account."""
        if self._login_failed:
            raise AuthError("ThingSpace login already failed; not retrying (five failures "
                            "lock the account)")

    def _require_account(self) -> str:
        if not self.account:
            raise UsageError("no ThingSpace account chosen",
                             hint="pass --account, set NOTIFYCTL_ACCOUNT, or add it to the profile")
        return self.account

    async def _send(self, what: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # Not retried: a login must never be repeated blindly (five failures lock).
            raise transport_error(exc, f"ThingSpace {what}", self.timeout) from exc

    async def _close_client(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        raise NotImplementedError


class SoapApi(_Base):
    """UWS SessionService + CallbackRegistrationService over SOAP 1.1."""

    def __init__(self, base_url: str, account: str | None, username: str, password: str, *,
                 client: httpx.AsyncClient | None = None, timeout: float = TIMEOUT) -> None:
        super().__init__(base_url, account, client, timeout)
        self._username = username
        self._password = password
        self._token: str | None = None

    async def _post(self, operation: str, body: bytes) -> bytes:
        url = soap.endpoint(self.base_url, operation)
        response = await self._send(operation, "POST", url, content=body,
                                    headers=soap.headers(operation))
        SOAP_ANSWERS.check(response, f"ThingSpace {operation}")
        status = response.status_code
        if status == 200 or (status == 500 and response.content.lstrip().startswith(b"<")):
            return response.content  # faults come back as HTTP 500 with an envelope
        kind = for_status(status)
        if kind is NotFoundError:
            raise NotFoundError(f"ThingSpace {operation}: no SOAP endpoint at {url} (HTTP 404)")
        raise kind(f"ThingSpace {operation}: HTTP {status} from {url}")

    async def login(self) -> str:
        """LogIn once; a refusal is final for this client (never retried)."""
        self._no_second_login()
        try:
            body = await self._post("LogIn", soap.login(self._username, self._password))
            self._token = soap.login_token(body)
        except (AuthError, soap.SoapFault):
            self._login_failed = True
            raise
        return self._token

    async def _call(self, operation: str, build: Callable[[str], bytes]) -> Element:
        """The ``Output`` element of ``operation``; an expired session is renewed once."""
        token = self._token or await self.login()
        try:
            return soap.response(await self._post(operation, build(token)), operation)[1]
        except SessionExpired:
            self._token = None
        token = await self.login()
        # A second expiry right after a fresh login is raised as is.
        return soap.response(await self._post(operation, build(token)), operation)[1]

    async def register(self, service: str, url: str, username: str = "",
                       password: str = "") -> Registration:
        account = self._require_account()
        output = await self._call("RegisterCallback", lambda token: soap.register(
            token, account, service, url, username, password))
        fields = soap.output_fields(output, soap.CALLBACK_SERVICE)
        return Registration(fields.get("AccountName") or account,
                            fields.get("ServiceName") or service, url, username, mask(password))

    async def unregister(self, service: str) -> None:
        account = self._require_account()
        await self._call("UnregisterCallback",
                         lambda token: soap.unregister(token, account, service))

    async def list(self) -> list[Registration]:
        account = self._require_account()
        output = await self._call("GetCallbackRegistrations",
                                  lambda token: soap.get_registrations(token, account))
        return [Registration(item.get("AccountName") or account, item["ServiceName"],
                             item.get("Url", ""), item.get("Username", ""),
                             mask(item.get("Password")))
                for item in soap.registrations(output)]

    async def aclose(self) -> None:
        """LogOut (best effort: the command's result stands either way), then close."""
        try:
            if self._token is not None:
                token, self._token = self._token, None
                with contextlib.suppress(NotifyctlError):
                    await self._post("LogOut", soap.logout(token))
        finally:
            await self._close_client()


class RestApi(_Base):
    """M2M REST: ``/ts/v1/oauth2/token``, ``/m2m/v1/session/login``, ``/m2m/v1/callbacks``."""

    def __init__(self, base_url: str, account: str | None, username: str, password: str, *,
                 client_id: str, client_secret: str, client: httpx.AsyncClient | None = None,
                 timeout: float = TIMEOUT, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(base_url, account, client, timeout)
        self._username = username
        self._password = password
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._access: str | None = None
        self._access_expiry = 0.0
        self._session: str | None = None

    async def _oauth(self) -> str:
        if self._access and self._clock() < self._access_expiry:
            return self._access
        url = f"{self.base_url}/ts/v1/oauth2/token"
        response = await self._send("OAuth2 token", "POST", url,
                                    data={"grant_type": "client_credentials"},
                                    auth=(self._client_id, self._client_secret))
        REST_ANSWERS.check(response, "ThingSpace OAuth2 token")
        if response.status_code in (400, 401, 403):
            self._login_failed = True
            raise AuthError(f"ThingSpace refused the OAuth2 client credentials "
                            f"(HTTP {response.status_code}): {_error_text(response)}",
                            hint="check NOTIFYCTL_CLIENT_ID/NOTIFYCTL_CLIENT_SECRET")
        doc = _json_object(_checked(response, "OAuth2 token"), "OAuth2 token")
        token, lifetime = doc.get("access_token"), doc.get("expires_in", 3600)
        if not isinstance(token, str) or not token or not isinstance(lifetime, int | float):
            raise REST_ANSWERS.unexpected(response, "ThingSpace OAuth2 token",
                                          "no access_token/expires_in")
        self._access = token
        self._access_expiry = self._clock() + max(float(lifetime) - OAUTH_MARGIN, 0.0)
        return token

    async def login(self) -> str:
        """OAuth2 token, then session login; a refused login is final for this client."""
        self._no_second_login()
        access = await self._oauth()
        url = f"{self.base_url}/m2m/v1/session/login"
        response = await self._send("session login", "POST", url,
                                    json={"username": self._username, "password": self._password},
                                    headers={"Authorization": f"Bearer {access}"})
        REST_ANSWERS.check(response, "ThingSpace session login")
        if response.status_code in (400, 401, 403):
            self._login_failed = True
            code, message = _error_parts(response)
            if "locked" in f"{code} {message}".lower():
                raise AccountLocked(code, message, hint="five failed logins lock a ThingSpace "
                                    "account; ask your administrator to unlock it")
            raise BadCredentials(code, message, hint="check NOTIFYCTL_USERNAME/"
                                 "NOTIFYCTL_PASSWORD; a login is never retried because five "
                                 "failures lock the account")
        doc = _json_object(_checked(response, "session login"), "session login")
        token = doc.get("sessionToken")
        if not isinstance(token, str) or not token:
            raise REST_ANSWERS.unexpected(response, "ThingSpace session login",
                                          "no sessionToken")
        self._session = token
        return token

    async def _request(self, method: str, path: str, what: str,
                       json: dict[str, str] | None = None) -> httpx.Response:
        url = f"{self.base_url}{path}"
        for attempt in (1, 2):
            session = self._session or await self.login()
            headers = {"Authorization": f"Bearer {self._access}", "VZ-M2M-Token": session}
            response = await self._send(what, method, url, json=json, headers=headers)
            if response.status_code != 401 or attempt == 2:
                break
            # An expired session (or bearer token): renew both once and resend once.
            self._session, self._access = None, None
        return _checked(response, what)

    def _path(self, *parts: str) -> str:
        account = quote(self._require_account(), safe="")
        return "/".join([f"/m2m/v1/callbacks/{account}", *(quote(p, safe="") for p in parts)])

    async def register(self, service: str, url: str, username: str = "",
                       password: str = "") -> Registration:
        body = {"name": service, "url": url}
        if username:
            body["username"] = username
        if password:
            body["password"] = password
        response = await self._request("POST", self._path(), "register callback", body)
        doc = _json_object(response, "register callback")
        return Registration(str(doc.get("accountName") or self.account),
                            str(doc.get("serviceName") or service), url, username, mask(password))

    async def unregister(self, service: str) -> None:
        await self._request("DELETE", self._path("name", service), "deregister callback")

    async def list(self) -> list[Registration]:
        response = await self._request("GET", self._path(), "list callbacks")
        if not response.content.strip():
            return []  # the platform answers an empty body when nothing is registered
        doc = _json(response, "list callbacks")
        if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
            raise REST_ANSWERS.unexpected(response, "ThingSpace list callbacks",
                                          "not a JSON array of objects")
        return [Registration(str(item.get("accountName") or self.account),
                             str(item.get("serviceName", "")), str(item.get("url", "")),
                             str(item.get("username") or ""), mask(item.get("password")))
                for item in doc]

    async def aclose(self) -> None:
        try:
            if self._session is not None and self._access is not None:
                session, self._session = self._session, None
                url = f"{self.base_url}/m2m/v1/session/logout"
                headers = {"Authorization": f"Bearer {self._access}", "VZ-M2M-Token": session}
                with contextlib.suppress(NotifyctlError):
                    await self._send("logout", "POST", url, headers=headers)
        finally:
            await self._close_client()


def open_api(api: str, base_url: str | None, account: str | None, *, username: str,
             password: str, client_id: str | None = None, client_secret: str | None = None,
             client: httpx.AsyncClient | None = None, timeout: float = TIMEOUT) -> CallbackApi:
    """The client the profile's ``api`` setting (soap|rest, default rest) asks for."""
    if api == "soap":
        # The profile's api_url defaults to the REST base; SOAP lives on another host.
        url = SOAP_URL if base_url in (None, "", REST_URL) else base_url
        return SoapApi(str(url), account, username, password, client=client, timeout=timeout)
    if api != "rest":
        raise UsageError(f"unknown ThingSpace api {api!r}", hint="set api to soap or rest")
    if not client_id or not client_secret:
        raise ConfigError("ThingSpace REST needs OAuth2 client credentials",
                        hint="set NOTIFYCTL_CLIENT_ID and NOTIFYCTL_CLIENT_SECRET, or "
                        "'notifyctl auth login'")
    return RestApi(base_url or REST_URL, account, username, password, client_id=client_id,
                   client_secret=client_secret, client=client, timeout=timeout)


# ---- REST answers -------------------------------------------------------------------------------

def _json(response: httpx.Response, what: str) -> Any:
    return REST_ANSWERS.json(response, f"ThingSpace {what}")


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    doc = _json(response, what)
    if not isinstance(doc, dict):
        raise REST_ANSWERS.unexpected(response, f"ThingSpace {what}", "not a JSON object")
    return doc


def _error_parts(response: httpx.Response) -> tuple[str, str]:
    """``errorCode``/``errorMessage`` of an error body (or HTTP status and raw text)."""
    try:
        doc = response.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and ("errorCode" in doc or "errorMessage" in doc):
        return _cut(str(doc.get("errorCode", ""))), _cut(str(doc.get("errorMessage", "")))
    if isinstance(doc, dict) and "error" in doc:
        return _cut(str(doc["error"])), _cut(str(doc.get("error_description", "")))
    return f"HTTP {response.status_code}", _cut(response.text.strip())


def _error_text(response: httpx.Response) -> str:
    code, message = _error_parts(response)
    return f"{code}: {message}" if message else code


def _checked(response: httpx.Response, what: str) -> httpx.Response:
    """A 2xx answer that can be ThingSpace's; any other is its error kind (``for_status``)."""
    REST_ANSWERS.check(response, f"ThingSpace {what}")
    status = response.status_code
    if 200 <= status < 300:
        return response
    raise for_status(status)(f"ThingSpace {what}: {_error_text(response)} (HTTP {status})")


def _cut(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"
