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
