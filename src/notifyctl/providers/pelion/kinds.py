"""The kinds of Pelion events, by the NotificationMessage array that carries them: plain data,
so TAB completion (``tail --kind``) can read them without loading the decoder (msgspec)."""

from __future__ import annotations

# NotificationMessage array -> the ``kind`` of each of its items (docs/architecture.md, "Event
# lines").
ARRAY_KINDS: dict[str, str] = {
    "notifications": "notification",
    "registrations": "registration",
    "reg-updates": "reg-update",
    "de-registrations": "de-registration",
    "registrations-expired": "registration-expired",
    "async-responses": "async-response",
}
KINDS: tuple[str, ...] = tuple(ARRAY_KINDS.values())
