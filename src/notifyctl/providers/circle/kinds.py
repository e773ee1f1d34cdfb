"""Logitech Circle's 15 event types (an event's ``kind``): plain data, so TAB completion
(``register --event-type``, ``tail --kind``) reads them without loading the decoder."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "activity_created", "activity_updated", "activity_finished", "activity_deleted",
    "motion_started", "motion_ended",
    "accessory_added", "accessory_deleted", "accessory_settings_changed",
    "service_plan_changed", "summary_created",
    "firmware_update_started", "firmware_update_progress", "firmware_update_completed",
    "account_deleted",
)
KINDS = EVENT_TYPES
