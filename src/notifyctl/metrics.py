"""``--metrics ADDR``: Prometheus metrics of a long-running ``tail``, ``listen`` or ``sandbox``.

``Metrics`` owns a private ``prometheus_client`` registry and the small aiohttp server that
serves it at ``http://ADDR/metrics`` in the Prometheus text format. It is built only when
``--metrics`` is given, so ``prometheus_client`` is loaded only then.

What is counted is read when ``/metrics`` is scraped, not pushed per event: an engine hands
``watch`` a function returning its figures as plain data (``accounting.Family``: type, name,
help, labelled samples; ``Accounting.families`` is one), so counting costs the hot path
nothing. What only exists per request (``listen``'s handling time) is a ``histogram``; any
other part (a sink's published and failed counts) can ``watch`` its own figures the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram  # noqa: TID253 - only with --metrics
from prometheus_client.core import (  # noqa: TID253
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)

from notifyctl import output, servers
from notifyctl.errors import UsageError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["Metrics", "parse_address"]

# A figure as plain data: (type "counter" | "gauge", name, help, [(labels, value), ...]).
Family = tuple[str, str, str, list[tuple[dict[str, str], float]]]
Figures = Callable[[], Iterable[Family]]


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[V6]:PORT`` or a bare ``PORT`` (on 127.0.0.1); exit 2 otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", address
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--metrics {address!r}: expected HOST:PORT",
                         hint="e.g. --metrics 127.0.0.1:9464")
    return host, int(port)


class _Watched:
    """A collector over ``Figures`` functions, turned into metric families when scraped."""

    def __init__(self) -> None:
        self.sources: list[Figures] = []

    def collect(self) -> Iterator[Metric]:
        # Several sources may give one name (a sink per --sink, say): one family each name.
        merged: dict[str, tuple[Any, list[str]]] = {}
        for figures in self.sources:
            for kind, name, doc, samples in figures():
                if name not in merged:
                    names = sorted({label for labels, _value in samples for label in labels})
                    maker = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
                    merged[name] = (maker(name, doc, labels=names), names)
                family, names = merged[name]
                for labels, value in samples:
                    family.add_metric([labels.get(key, "") for key in names], value)
        for family, _names in merged.values():
            yield family


class Metrics:
    """The registry of one run and its ``/metrics`` server; see the module docstring."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.host, self.port = parse_address(address)
        self.registry = CollectorRegistry(auto_describe=False)
        self._watched = _Watched()
        self.registry.register(self._watched)
        self._runner: web.AppRunner | None = None
        self.url = ""

    def watch(self, figures: Figures) -> None:
        """Add figures read at every scrape (see ``accounting.Family``)."""
        self._watched.sources.append(figures)

    def histogram(self, name: str, doc: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> Histogram:
        return Histogram(name, doc, labels, registry=self.registry, buckets=buckets)

    async def start(self) -> str:
        """Serve ``/metrics``; a usage error (exit 2) naming the address if it is taken."""
        from aiohttp import web
        from prometheus_client.aiohttp import make_aiohttp_handler

        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self.registry))
        try:
            self._runner, base = await servers.bind(app, self.host, self.port, what="--metrics")
        except UsageError as exc:
            raise UsageError(f"--metrics {self.address}: {exc.message.split(': ', 1)[-1]}",
                             hint="choose another address (port 0 picks a free one)") from exc
        self.url = base + "/metrics"
        output.current().info(f"metrics at {self.url}", event="metrics", url=self.url)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
