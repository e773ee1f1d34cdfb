"""replay's latency histogram (notifyctl.replay.report.Latency): what the summary draws."""

from __future__ import annotations

from notifyctl.replay.report import Latency


def test_one_latency_is_one_row_not_eight_identical_ones() -> None:
    latency = Latency()
    latency.add(3.05)
    assert latency.histogram() == [(3.05, 3.05, 1)]


def test_spread_latencies_fill_eight_rising_ranges_that_count_every_one() -> None:
    latency = Latency()
    for ms in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0):
        latency.add(ms)
    rows = latency.histogram()
    assert len(rows) == 8 and sum(count for _, _, count in rows) == 8
    assert rows[0][0] == 1.0 and abs(rows[-1][1] - 128.0) < 1e-9
    assert all(low < high for low, high, _ in rows)
