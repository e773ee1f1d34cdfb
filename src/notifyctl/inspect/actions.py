"""What ``inspect``'s keys do beyond moving around, kept apart from the UI so each is a plain
function: filter the rows with a ``--where`` expression, resend one delivery through the
replay engine with its platform's rules, and write the rows in view to a new capture file.

Every outcome is a line of text for the UI (the UI shows it; nothing here prints), and a
problem the user can fix is a ``NotifyctlError`` whose message says what to do.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from notifyctl.errors import UsageError
from notifyctl.events import CaptureWriter, Delivery
from notifyctl.inspect.index import Deliveries
from notifyctl.inspect.summary import Decoders

PROGRESS_EVERY = 4096  # rows between progress reports (and checks for a newer filter)


def filtered(deliveries: Deliveries, matches: Callable[[Any], bool], *,
             cancelled: Callable[[], bool] = lambda: False,
             progress: Callable[[int], None] | None = None) -> array[int] | None:
    """The rows with an event ``matches`` keeps (invalid rows never match), or None when
    ``cancelled`` said stop. Decoded with receivers of its own: it runs in a thread."""
    decoders = Decoders()
    kept: array[int] = array("I")
    for index in range(len(deliveries)):
        if index % PROGRESS_EVERY == 0:
            if cancelled():
                return None
            if progress is not None:
                progress(index)
        row = deliveries.row(index)
        if row.item is None:
            continue
        events = decoders.events(deliveries.platform(index), row.item)
        if any(matches(event) for event in events):
            kept.append(index)
    return kept


@dataclass(frozen=True, slots=True)
class Resend:
    """Where ``r`` sends, and with which key: ``--sign-key-env``'s, else ``stored_key(platform)``
    (the key the platform keeps in the profile's keyring, as ``replay`` finds it)."""

    target: str | None
    sign_key: str | None = None
    sign_key_env: str | None = None
    stored_key: Callable[[str], str | None] | None = None

    def key_for(self, platform: str) -> str | None:
        if self.sign_key is not None or self.stored_key is None:
            return self.sign_key
        return self.stored_key(platform)


async def resend(deliveries: Deliveries, index: int, how: Resend) -> tuple[str, str]:
    """Deliver row ``index`` once more, by its platform's rules, through the replay engine;
    returns (the status column's text, the message line)."""
    from notifyctl.contract.deliver import RuleOptions
    from notifyctl.replay import engine

    if how.target is None:
        raise UsageError("r resends to --to URL: start inspect with --to "
                         "http://HOST:PORT/PATH to resend")
    row = deliveries.row(index)
    provider = deliveries.platform(index)
    if row.item is None:
        raise UsageError(f"{row.where} is not a delivery: nothing to resend")
    if provider is None:
        raise UsageError(f"{row.where}: which platform's rules? start inspect with --provider")
    said: list[str] = []
    rules = engine.load_rules(provider, RuleOptions(
        target=how.target, sign_key=how.key_for(provider), sign_key_env=how.sign_key_env,
        notify=said.append))
    report = await engine.replay([row.item], how.target, rules)
    return _answer(row.where, how.target, report, said)


def _answer(where: str, target: str, report: Any, said: list[str]) -> tuple[str, str]:
    """The status column (``sent 200``, ``not sent``) and the message line: ``FILE:LINE ->
    URL: accepted (200, 12 ms)``, or the rules' or the engine's word on why not."""
    from notifyctl.redaction import mask_query

    if report.refused:
        return "not sent", report.problems[-1] if report.problems else f"{where}: not sent"
    codes = ", ".join(str(code) for code in report.statuses) or "no answer"
    took = f", {report.latency.max:.0f} ms" if report.latency.n else ""
    verdict = "accepted" if report.accepted else "not accepted"
    message = f"{where} → {mask_query(target)}: {verdict} ({codes}{took})"
    why = [*report.problems, *([report.stopped] if report.stopped else []), *said]
    if why and not report.accepted:
        message += f": {why[-1]}"
    last = list(report.statuses)[-1] if report.statuses else "-"
    return f"sent {last}", message


def export_path(first_input: str, folder: str | None = None) -> Path:
    """A new file next to the first input (or in ``folder``): ``NAME.view-N.jsonl``, the
    first N not taken."""
    source = Path(first_input)
    where = Path(folder) if folder is not None else source.parent
    stem = source.name.split(".")[0] or "capture"
    number = 1
    while (where / f"{stem}.view-{number}.jsonl").exists():
        number += 1
    return where / f"{stem}.view-{number}.jsonl"


def export(deliveries: Deliveries, rows: Iterable[int], path: Path) -> tuple[int, int]:
    """Write the deliveries of ``rows`` to capture file ``path`` (a new file); returns
    (written, invalid rows left out). Every body keeps its bytes; one from a body, array or
    HAR file is captured as a callback of its platform."""
    written = skipped = 0
    try:
        writer = CaptureWriter(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    with writer:
        for index in rows:
            delivery = _delivery(deliveries, index)
            if delivery is None:
                skipped += 1
                continue
            writer.write(delivery)
            written += 1
    return written, skipped


def _delivery(deliveries: Deliveries, index: int) -> Delivery | None:
    row = deliveries.row(index)
    if row.delivery is not None or row.item is None:
        return row.delivery
    item, provider = row.item, deliveries.platform(index)
    if provider is None:
        raise UsageError(f"{row.where}: which platform sent it? start inspect with --provider")
    return Delivery.capture(provider, "callback", item.body,
                            method=item.method, path=item.path, headers=item.headers,
                            at=item.at)
