"""The model end to end at small scale: it runs with invariant checks on, the shock causes liquidations and
makers' withdrawal, calm does not, and the same seed gives the same run."""

from __future__ import annotations

import numpy as np
import pytest

from model import CascadeModel, ModelConfig
from venues import events as ev


def run(scenario: str, seed: int = 1, steps: int = 360, n: int = 300) -> CascadeModel:
    m = CascadeModel(ModelConfig(seed=seed, steps=steps, n_directional=n, scenario=scenario))
    m.run_for(steps)
    return m


def liquidated_usd(m: CascadeModel) -> float:
    total = 0.0
    for v in m.venues.values():
        c = v.events.columns()
        total += float(c["notional"][c["kind"] == ev.LIQUIDATION].sum())
    return total


@pytest.fixture(scope="module")
def oct10():
    return run("oct10")


@pytest.fixture(scope="module")
def calm():
    return run("calm")


def test_oct10_runs_with_invariants_and_liquidates(oct10):
    assert oct10.steps == 360 and oct10.conservation_error_rel < 1e-9
    assert liquidated_usd(oct10) > 0
    assert any(mm.withdrawals for mm in oct10.makers)
    # venue prices are made by orders, not copied: they follow the fundamental within a few percent
    gap = np.abs(oct10.ts_mid[1:, :, 0] / oct10.ts_fundamental[1:, None, 0] - 1)
    assert np.nanmedian(gap) < 0.01


def test_calm_liquidates_far_less(calm, oct10):
    assert liquidated_usd(calm) < 0.1 * liquidated_usd(oct10)
    assert not any(mm.withdrawals for mm in calm.makers)


def test_same_seed_same_run(oct10):
    again = run("oct10")
    assert np.array_equal(again.ts_mid, oct10.ts_mid, equal_nan=True)
    for name in oct10.venues:
        a, b = oct10.venues[name].events.columns(), again.venues[name].events.columns()
        assert all(np.array_equal(a[k], b[k]) for k in a)
    other = run("oct10", seed=2)
    assert not np.array_equal(other.ts_mid, oct10.ts_mid, equal_nan=True)
