"""Sigfox callback templates: which ``{variable}`` names each callback type offers, checking a
template before it is sent, rendering one for a message, and parsing ``payloadConfig``.

Variables (docs/platforms/sigfox.md; [inf] = inferred, not in the stored docs):
- DATA (uplink, bidir): device, time (epoch s), data (hex), seqNumber, deviceTypeId, duplicate,
  snr, avgSnr, rssi, station, lat, lng, plus ``customData#<field>`` for each ``payloadConfig``
  field; BIDIR adds ack and longPolling.
- SERVICE/STATUS: the radio set without data, plus temp and batt.
- SERVICE/ACKNOWLEDGE: device, time, deviceTypeId, infoCode, infoMessage, downlinkAck,
  downlinkOverusage.
- SERVICE/DATA_ADVANCED: device, time, data, seqNumber, deviceTypeId, lqi, linkQuality,
  operatorName, countryCode, duplicates, computedLocation, fixedLat, fixedLng [inf beyond lqi,
  duplicates, computedLocation].
- SERVICE/GEOLOC: device, time, deviceTypeId, seqNumber, lat, lng, radius, source [inf].
- ERROR: device, time, deviceTypeId, info, severity [inf].

A template is any text; ``{name}`` where name looks like an identifier (``#`` allowed for
``customData#x``) is a variable. Other braces (a JSON body's own ``{"a": 1}``) are literal text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from notifyctl.errors import UsageError, WireError

VARIABLE = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*(?:#[A-Za-z_][A-Za-z0-9_]*)?)\}")

_RADIO = ("device", "time", "seqNumber", "deviceTypeId", "duplicate", "snr", "avgSnr", "rssi",
          "station", "lat", "lng")
_DATA = (*_RADIO, "data")
VARIABLES: dict[str, tuple[str, ...]] = {
    "data/uplink": _DATA,
    "data/bidir": (*_DATA, "ack", "longPolling"),
    "service/status": (*_RADIO, "temp", "batt"),
    "service/geoloc": ("device", "time", "deviceTypeId", "seqNumber", "lat", "lng", "radius",
                       "source"),
    "service/ack": ("device", "time", "deviceTypeId", "infoCode", "infoMessage", "downlinkAck",
                    "downlinkOverusage"),
    "service/repeater": ("device", "time", "deviceTypeId", "seqNumber", "station"),
    "service/data-advanced": ("device", "time", "data", "seqNumber", "deviceTypeId", "lqi",
                              "linkQuality", "operatorName", "countryCode", "duplicates",
                              "computedLocation", "fixedLat", "fixedLng"),
    "error": ("device", "time", "deviceTypeId", "info", "severity"),
}
# Types whose messages carry device data, so customData#<field> from payloadConfig applies.
CUSTOM_DATA_TYPES = frozenset({"data/uplink", "data/bidir", "service/data-advanced"})

_CONFIG_FIELD = re.compile(
    r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*):(?P<byte>[0-9]*):(?P<type>bool|char|uint|int|float)"
    r"(?::(?P<length>[0-9]+))?(?::(?P<endian>big-endian|little-endian))?$"
)


def payload_config_fields(config: str | None) -> list[str]:
    """The field names of a ``payloadConfig`` (``name:byte:type[:len][:endian]``, space
    separated); a malformed entry is a ``UsageError`` naming it."""
    names: list[str] = []
    for entry in (config or "").split():
        match = _CONFIG_FIELD.match(entry)
        if not match:
            raise UsageError(
                f"--payload-config: {entry!r} is not name:byte:type[:length][:endian]",
                hint="types: bool, char, uint, int, float; e.g. 'temp:0:int:16:big-endian "
                "ok::bool:7'",
            )
        if match["type"] == "bool" and match["length"] is not None and int(match["length"]) > 7:
            raise UsageError(f"--payload-config: {entry!r}: a bool's bit is 0 to 7")
        names.append(match["name"])
    return names


def valid_variables(type_name: str, payload_config: str | None = None) -> list[str]:
    """Every variable a template of callback type ``type_name`` may use."""
    try:
        names = list(VARIABLES[type_name])
    except KeyError:
        raise UsageError(f"unknown callback type {type_name!r}",
                         hint=f"types: {', '.join(VARIABLES)}") from None
    if type_name in CUSTOM_DATA_TYPES:
        names.extend(f"customData#{name}" for name in payload_config_fields(payload_config))
    return names


def variables_in(template: str) -> list[str]:
    """The variable names a template uses, in order of first appearance."""
    return list(dict.fromkeys(VARIABLE.findall(template)))


def check_template(
    template: str, type_name: str, *, where: str, payload_config: str | None = None
) -> list[str]:
    """Reject a template using a variable its callback type does not offer; return the used ones.

    ``where`` names the option (``--body-template``) so the one-line error says which to fix.
    """
    valid = valid_variables(type_name, payload_config)
    allowed = set(valid)
    used = variables_in(template)
    for name in used:
        if name not in allowed:
            hint = f"valid variables for {type_name}: {', '.join('{' + v + '}' for v in valid)}"
            if name.startswith("customData#") and type_name in CUSTOM_DATA_TYPES:
                hint += "; customData#<field> needs the field in --payload-config"
            raise UsageError(f"{where}: unknown variable {{{name}}}", hint=hint)
    return used


def format_value(value: object) -> str:
    """How Sigfox writes a value into a template: booleans lowercase, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(template: str, fields: Mapping[str, object], *, url: bool = False) -> str:
    """Substitute every ``{variable}`` from ``fields``; ``url`` percent-encodes the values (for
    URL patterns). A variable without a value is a ``WireError`` naming it."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in fields:
            raise WireError(f"template variable {{{name}}} has no value in this message")
        text = format_value(fields[name])
        return quote(text, safe="") if url else text

    return VARIABLE.sub(substitute, template)


def pattern_regex(line_pattern: str) -> re.Pattern[str]:
    """A regex that reads back a line built from ``line_pattern`` (variables become groups)."""
    parts: list[str] = []
    position = 0
    seen: dict[str, int] = {}
    for match in VARIABLE.finditer(line_pattern):
        parts.append(re.escape(line_pattern[position:match.start()]))
        name = match.group(1)
        seen[name] = seen.get(name, 0) + 1
        group = f"g{len(seen)}_{seen[name]}"
        parts.append(f"(?P<{group}>.*?)")
        position = match.end()
    parts.append(re.escape(line_pattern[position:]))
    return re.compile("^" + "".join(parts) + "$", re.DOTALL)


def parse_line(
    line: str, line_pattern: str, regex: re.Pattern[str] | None = None
) -> dict[str, str]:
    """The variables of one BATCH_URL line built from ``line_pattern``; ``WireError`` if it does
    not match."""
    names = variables_in_order(line_pattern)
    match = (regex or pattern_regex(line_pattern)).match(line)
    if match is None:
        raise WireError(f"line does not match the line pattern {line_pattern!r}")
    fields: dict[str, str] = {}
    for name, value in zip(names, match.groups(), strict=True):
        fields.setdefault(name, value)
    return fields


def variables_in_order(template: str) -> list[str]:
    """Every variable occurrence in order (repeats kept), matching ``pattern_regex`` groups."""
    return VARIABLE.findall(template)

