"""SOAP 1.1 envelopes of the ThingSpace UWS calls notifyctl makes, and their parsing.

Calls: SessionService ``LogIn``/``LogOut`` and CallbackRegistrationService ``RegisterCallback``,
``UnregisterCallback``, ``GetCallbackRegistrations``. Requests put the operation in the
``v2`` namespace and its ``Input`` fields in the service's data-contract namespace; every call
but LogIn carries the session token as ``<v2:token>`` in the SOAP header. SOAPAction is
``http://nphase.com/unifiedwebservice/v2/I<Service>/<Operation>``.

Responses are parsed with ``notifyctl.xmlsafe`` (no DTDs, no entities, bounded depth) and matched
by Clark names, so a prefix never matters and a wrong namespace is an error. A ``Fault`` becomes
a typed error (``raise_fault``). Of the fault codes only ``SessionToken.Expired`` is documented;
locks are recognised by ``Locked`` in the code or text, and any other LogIn fault but a Server
one is a credentials refusal. The emulator emits codes that follow the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from notifyctl import xmlsafe
from notifyctl.errors import AuthError, InvalidRequest, NotFoundError, WireError

NS_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_V2 = "http://nphase.com/unifiedwebservice/v2"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
SESSION_SERVICE = "SessionService"
CALLBACK_SERVICE = "CallbackRegistrationService"
DEFAULT_URL = "https://uws.apps.nphase.com/api/v2"
CONTENT_TYPE = "text/xml; charset=utf-8"
OPERATIONS: dict[str, str] = {
    "LogIn": SESSION_SERVICE,
    "LogOut": SESSION_SERVICE,
    "RegisterCallback": CALLBACK_SERVICE,
    "UnregisterCallback": CALLBACK_SERVICE,
    "GetCallbackRegistrations": CALLBACK_SERVICE,
}
MAX_MESSAGE = 300  # server text shown to people is cut here


def contract_ns(service: str) -> str:
    return f"http://schemas.datacontract.org/2004/07/NPhase.UnifiedWebService.APIs.v2.Contract.{service}"


def soap_action(operation: str) -> str:
    return f"{NS_V2}/I{OPERATIONS[operation]}/{operation}"


def endpoint(base_url: str, operation: str) -> str:
    """``https://uws.apps.nphase.com/api/v2`` + ``/SessionService.svc``."""
    return f"{base_url.rstrip('/')}/{OPERATIONS[operation]}.svc"


class SoapMalformed(WireError):
    """A response that is not a SOAP 1.1 envelope of the expected operation."""


class SoapFault(InvalidRequest):
    """A fault the platform returned that has no more specific meaning (exit 2)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"ThingSpace refused: {code}: {message}")
        self.code = code
        self.fault_message = message


class SoapAuthFault(AuthError):
    """Base of the faults about sessions and logins (exit 3)."""

    def __init__(self, code: str, message: str, *, hint: str | None = None) -> None:
        super().__init__(f"ThingSpace refused: {code}: {message}", hint=hint)
        self.code = code
        self.fault_message = message


class SessionExpired(SoapAuthFault):
    """The session token timed out (20 idle minutes); logging in again fixes it."""


class InvalidToken(SoapAuthFault):
    """The session token is unknown or was logged out."""


class BadCredentials(SoapAuthFault):
    """LogIn refused the username/password. Never retried: five failures lock the account."""


class AccountLocked(SoapAuthFault):
    """Too many failed logins: the account is locked until an administrator unlocks it."""


class SoapNotFound(NotFoundError):
    """A fault saying the account or the registration does not exist (exit 4)."""


@dataclass(frozen=True)
class Fault:
    code: str
    message: str


# ---- building requests --------------------------------------------------------------------------

def _fields(service: str, fields: Mapping[str, str]) -> str:
    # Empty optional fields are sent as empty elements, as the reference asks.
    return "".join(f"<nph:{name}>{escape(value)}</nph:{name}>" for name, value in fields.items())


def envelope(operation: str, fields: Mapping[str, str], token: str | None) -> bytes:
    """One request envelope; ``token`` goes in the SOAP header (None: an empty header)."""
    service = OPERATIONS[operation]
    header = f"<v2:token>{escape(token)}</v2:token>" if token is not None else ""
    text = (
        f'<soapenv:Envelope xmlns:soapenv="{NS_ENV}" xmlns:v2="{NS_V2}" '
        f'xmlns:nph="{contract_ns(service)}">'
        f"<soapenv:Header>{header}</soapenv:Header>"
        f"<soapenv:Body><v2:{operation}><v2:Input>{_fields(service, fields)}</v2:Input>"
        f"</v2:{operation}></soapenv:Body></soapenv:Envelope>"
    )
    return ('<?xml version="1.0" encoding="utf-8"?>' + text).encode("utf-8")


def login(username: str, password: str) -> bytes:
    return envelope("LogIn", {"Username": username, "Password": password}, None)


def logout(token: str) -> bytes:
    return envelope("LogOut", {}, token)


def register(token: str, account: str, service: str, url: str, username: str,
             password: str) -> bytes:
    fields = {"AccountName": account, "ServiceName": service, "Url": url,
              "Username": username, "Password": password}
    return envelope("RegisterCallback", fields, token)


def unregister(token: str, account: str, service: str) -> bytes:
    return envelope("UnregisterCallback", {"AccountName": account, "ServiceName": service}, token)


def get_registrations(token: str, account: str) -> bytes:
    return envelope("GetCallbackRegistrations", {"AccountName": account}, token)


def headers(operation: str) -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "SOAPAction": f'"{soap_action(operation)}"'}


# ---- parsing ------------------------------------------------------------------------------------

def parse_envelope(body: bytes) -> tuple[Element | None, Element]:
    """(Header or None, first Body child) of a SOAP 1.1 envelope; SoapMalformed otherwise."""
    try:
        root = xmlsafe.parse(body, max_depth=64)
    except WireError as exc:
        raise SoapMalformed(f"ThingSpace answered with malformed XML: {exc.message}") from exc
    if root.tag != f"{{{NS_ENV}}}Envelope":
        raise SoapMalformed(f"ThingSpace answered with {_short(root.tag)}, not a SOAP 1.1 "
                            f"Envelope in {NS_ENV}")
    header = root.find(f"{{{NS_ENV}}}Header")
    body_el = root.find(f"{{{NS_ENV}}}Body")
    if body_el is None or len(body_el) == 0:
        raise SoapMalformed("ThingSpace answered with a SOAP envelope without a Body element")
    return header, body_el[0]


def fault_of(element: Element) -> Fault | None:
    """The code and text of a SOAP 1.1 Fault element (faultcode/faultstring are unqualified)."""
    if element.tag != f"{{{NS_ENV}}}Fault":
        return None
    code = (element.findtext("faultcode") or "").strip()
    message = (element.findtext("faultstring") or "").strip()
    return Fault(_short(code), _short(message))


def raise_fault(fault: Fault, operation: str) -> None:
    """Raise the typed error a fault to ``operation`` stands for.

    Only ``SessionToken.Expired`` is a documented code, so the code decides first and the text
    second; a LogIn fault that is neither a lock nor a server error is a credentials refusal.
    """
    code, message = fault.code, fault.message
    name = code.rpartition(":")[2].lower()
    text = message.lower()
    if "locked" in name or "locked" in text:
        raise AccountLocked(code, message, hint="five failed logins lock a ThingSpace account; "
                            "ask your administrator to unlock it")
    if operation == "LogIn":
        if name == "server":
            raise SoapFault(code, message)
        raise BadCredentials(code, message, hint="check NOTIFYCTL_USERNAME/NOTIFYCTL_PASSWORD "
                             "or 'notifyctl auth login'; a login is never retried because "
                             "five failures lock the account")
    if "expired" in name or ("expired" in text and "session" in text):
        raise SessionExpired(code, message)
    if "token" in name or "session" in name:
        raise InvalidToken(code, message, hint="the session was closed or is unknown")
    if "notfound" in name:
        raise SoapNotFound(f"ThingSpace refused: {code}: {message}")
    raise SoapFault(code, message)


def response(body: bytes, operation: str) -> tuple[Element | None, Element]:
    """(Header, ``Output`` element) of the response to ``operation``; faults raise."""
    header, first = parse_envelope(body)
    fault = fault_of(first)
    if fault is not None:
        raise_fault(fault, operation)
    expected = f"{{{NS_V2}}}{operation}Response"
    if first.tag != expected:
        raise SoapMalformed(f"ThingSpace answered {_short(first.tag)} to {operation}, "
                            f"expected {expected}")
    output = first.find(f"{{{NS_V2}}}Output")
    if output is None:
        raise SoapMalformed(f"{operation}Response has no Output element")
    return header, output


def login_token(body: bytes) -> str:
    """The session token of a LogIn response: the SOAP header ``token``, else the body's."""
    header, output = response(body, "LogIn")
    token = header.findtext(f"{{{NS_V2}}}token") if header is not None else None
    if not token:
        token = output.findtext(f"{{{contract_ns(SESSION_SERVICE)}}}SessionToken")
    if not token or not token.strip():
        raise SoapMalformed("LogInResponse carries no session token")
    return token.strip()


def registrations(output: Element) -> list[dict[str, str]]:
    """The items of a GetCallbackRegistrations ``Output`` as dicts (AccountName, ServiceName,
    Url, Username...)."""
    ns = contract_ns(CALLBACK_SERVICE)
    found: list[dict[str, str]] = []
    for item in output.iter(f"{{{ns}}}CallbackRegistration"):
        record = {xmlsafe.local(child.tag): (child.text or "").strip()
                  for child in item if child.tag.startswith(f"{{{ns}}}")}
        if not record.get("ServiceName"):
            raise SoapMalformed("a CallbackRegistration without a ServiceName")
        found.append(record)
    return found


def output_fields(output: Element, service: str) -> dict[str, str]:
    """Direct children of an Output element in the service's contract namespace."""
    prefix = f"{{{contract_ns(service)}}}"
    return {child.tag[len(prefix):]: (child.text or "").strip()
            for child in output if child.tag.startswith(prefix)}


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


# ---- the server side (the emulator) -------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One parsed request envelope: the operation, the header token and the Input fields."""

    operation: str
    token: str | None
    fields: dict[str, str]


def parse_request(body: bytes, service: str, action: str | None) -> Call:
    """Parse a request to ``service``; SoapMalformed (a Client fault) when it is not one."""
    header, first = parse_envelope(body)
    if not first.tag.startswith(f"{{{NS_V2}}}"):
        raise SoapMalformed(f"operation {_short(first.tag)} is not in namespace {NS_V2}")
    operation = xmlsafe.local(first.tag)
    if OPERATIONS.get(operation) != service:
        raise SoapMalformed(f"{service} has no operation {operation!r}")
    if action is not None and action.strip().strip('"') != soap_action(operation):
        raise SoapMalformed(f"SOAPAction {action!r} does not match {operation}")
    input_el = first.find(f"{{{NS_V2}}}Input")
    fields = output_fields(input_el, service) if input_el is not None else {}
    token = header.findtext(f"{{{NS_V2}}}token") if header is not None else None
    return Call(operation, token.strip() if token else None, fields)


def response_envelope(operation: str, fields: Mapping[str, str] | None = None, *,
                      inner: str = "", token: str | None = None) -> bytes:
    """A response as WCF writes it: default ``v2`` namespace, Output fields prefixed ``a:``."""
    ns = contract_ns(OPERATIONS[operation])
    header = f'<s:Header><token xmlns="{NS_V2}">{escape(token)}</token></s:Header>' if token \
        else ""
    items = "".join(f"<a:{name}>{escape(value)}</a:{name}>"
                    for name, value in (fields or {}).items())
    text = (f'<s:Envelope xmlns:s="{NS_ENV}">{header}<s:Body>'
            f'<{operation}Response xmlns="{NS_V2}"><Output xmlns:a="{ns}">{items}{inner}</Output>'
            f"</{operation}Response></s:Body></s:Envelope>")
    return text.encode("utf-8")


def registration_items(records: Sequence[Mapping[str, str]]) -> str:
    """The ``a:CallbackRegistrations`` list of a GetCallbackRegistrations response."""
    items = "".join(
        "<a:CallbackRegistration>"
        + "".join(f"<a:{name}>{escape(value)}</a:{name}>" for name, value in record.items())
        + "</a:CallbackRegistration>"
        for record in records
    )
    return f"<a:CallbackRegistrations>{items}</a:CallbackRegistrations>"


def fault_envelope(code: str, message: str) -> bytes:
    """A SOAP 1.1 fault; ``code`` is a local name qualified with the v2 namespace."""
    text = (f'<s:Envelope xmlns:s="{NS_ENV}"><s:Body><s:Fault>'
            f'<faultcode xmlns:a="{NS_V2}">a:{escape(code)}</faultcode>'
            f'<faultstring xml:lang="en-US">{escape(message)}</faultstring>'
            "</s:Fault></s:Body></s:Envelope>")
    return text.encode("utf-8")
