"""Results unchanged by the engine's speed work where the rules are unchanged (issue "Engine"): a fixed-seed run
(oct10, population=small, 480 minutes: the warm-up and the shock's first five hours, 14 liquidations, 7 broken hedges) gives the metrics, the series
and the event log recorded in tests/golden/oct10_small.json, bit for bit. A change meant to alter results
re-records it (`python tests/golden/fingerprint.py --write`) and its commit names the change and why."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))

from fingerprint import FILE, fingerprint  # noqa: E402


def test_fixed_seed_run_matches_its_recorded_fingerprint():
    want = json.loads(FILE.read_text())
    got = fingerprint()
    assert got["overrides"] == want["overrides"]
    diff = {k: (want["metrics"].get(k), got["metrics"].get(k)) for k in set(want["metrics"]) | set(got["metrics"])
            if want["metrics"].get(k) != got["metrics"].get(k)}
    assert not diff, f"metrics changed: {sorted(diff.items())[:8]}"
    changed = [k for k in want["series"] if want["series"][k] != got["series"].get(k)]
    assert not changed and set(got["series"]) == set(want["series"]), f"series changed: {changed}"
    assert got["events"] == want["events"]


def test_a_run_leaves_the_garbage_collector_as_it_found_it():
    """CascadeModel.run_for keeps the objects alive at its start out of the collector's passes while it runs
    (model._heap_frozen) and hands them back after, also when the run is refused; a freeze by someone else is left
    alone."""
    import gc

    import pytest

    from run import build_model
    m = build_model(["population=small", "steps=5", "dashboard=false", "progress=false"])
    before = gc.get_freeze_count()
    seen = []
    m.schedule_event(lambda: seen.append(gc.get_freeze_count()), after=0.5)
    m.run_for(2)
    assert seen and seen[0] > before + 1000 and gc.get_freeze_count() <= before
    gc.freeze()
    try:
        mine = gc.get_freeze_count()
        m.schedule_event(lambda: seen.append(gc.get_freeze_count()), after=0.5)
        m.run_for(1)
        # (frozen objects freed by their reference counts leave the count: it can only fall)
        assert mine - 1000 < seen[1] <= mine and mine - 1000 < gc.get_freeze_count() <= mine
    finally:
        gc.unfreeze()
    with pytest.raises(RuntimeError, match="steps"):
        m.run_for(10)
    assert gc.get_freeze_count() == 0
