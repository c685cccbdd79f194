"""Long runs stay flat (issue "Reliability"): over two simulated days, with the venues' events spilled as
run.py spills them, the number of live Python objects does not grow with the steps (beyond the model's own
event-driven logs: transfers and broken hedges), and the preallocated series do not grow at all."""

from __future__ import annotations

import gc

import pytest

from model import CascadeModel
from worlds import unit_world


def live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


@pytest.mark.slow
def test_memory_is_flat_over_two_days():
    m = CascadeModel(unit_world(seed=7, steps=2 * 1440, n_directional=200, n_farmers=40))
    for v in m.venues.values():
        v.events.sink = lambda cols: None
    sizes = {k: getattr(m, k).nbytes for k in ("ts_mid", "ts_mark", "ts_oi_usd", "ts_depth1")}
    m.run_for(1440)
    day1 = live_objects() - len(m.transfer_log) - len(m.broken_log)
    m.run_for(1440)
    day2 = live_objects() - len(m.transfer_log) - len(m.broken_log)
    assert day2 <= day1 * 1.002 + 200, (day1, day2)   # a structure growing by one object a step adds 1,440
    assert {k: getattr(m, k).nbytes for k in sizes} == sizes
    for v in m.venues.values():   # the event buffers were handed to the sink, not kept
        assert len(v.events) < v.events.spill_rows + 4096 + 10_000
