"""The market makers' quoting rule against hand-computed ladders."""

from __future__ import annotations

import numpy as np
import pytest

from agents.market_maker import QuoteParams, ladder, realised_vol_bps

P = QuoteParams(depth_usd=1_000_000.0, levels=4, half_spread_bps=2.0, level_step_bps=5.0, calm_vol_bps=10.0,
                inventory_limit_usd=2_000_000.0, skew_bps=20.0, withdraw_threshold=5.0)


def test_calm_flat_inventory_ladder():
    bids, bsz, asks, asz = ladder(100.0, 0.0, 5.0, P)
    assert bids == pytest.approx([100 * (1 - 2e-4), 100 * (1 - 7e-4), 100 * (1 - 12e-4), 100 * (1 - 17e-4)])
    assert asks == pytest.approx([100 * (1 + 2e-4), 100 * (1 + 7e-4), 100 * (1 + 12e-4), 100 * (1 + 17e-4)])
    assert bsz == pytest.approx([250_000.0] * 4) and asz == pytest.approx([250_000.0] * 4)


def test_stress_widens_and_thins():
    bids, bsz, asks, asz = ladder(100.0, 0.0, 30.0, P)   # stress 3
    assert asks[0] == pytest.approx(100 * (1 + 6e-4))
    assert sum(bsz) == pytest.approx(1_000_000.0 / 3)


def test_inventory_skews_and_stops_adding():
    bids, bsz, asks, asz = ladder(100.0, 1_000_000.0, 5.0, P)   # long half the limit
    assert asks[0] == pytest.approx(100 * (1 - 10e-4) * (1 + 2e-4))   # centre lowered 10 bps
    assert sum(bsz) == pytest.approx(500_000.0) and sum(asz) == pytest.approx(1_000_000.0)
    bids, bsz, asks, asz = ladder(100.0, -5_000_000.0, 5.0, P)  # short past the limit: no more asks
    assert sum(asz) == 0.0 and sum(bsz) == pytest.approx(1_000_000.0)


def test_withdraws_past_the_threshold():
    assert all(len(x) == 0 for x in ladder(100.0, 0.0, 51.0, P))
    assert len(ladder(100.0, 0.0, 50.0, P)[0]) == 4


def test_realised_vol():
    prices = 100 * np.exp(np.cumsum([0.0, 0.001, -0.001, 0.001, -0.001]))
    assert realised_vol_bps(prices) == pytest.approx(10.0)
    assert realised_vol_bps([100.0, 100.0]) == 0.0


def test_realised_vol_is_numpys_std_bit_for_bit():
    """realised_vol_bps spells out np.std's operations (its _var without the Python layers): the same bits as
    np.std(np.diff(np.log(x))) x 1e4 over the finite positive prices, on short windows with strays."""
    rng = np.random.default_rng(13)
    for t in range(20_000):
        n = int(rng.integers(0, 17))
        p = np.exp(rng.normal(0, 10 ** rng.uniform(-6, -1), n).cumsum()) * 10 ** rng.uniform(-2, 5)
        if t % 7 == 0 and n:
            p[int(rng.integers(0, n))] = rng.choice([np.nan, 0.0, -1.0, np.inf])
        x = p[np.isfinite(p) & (p > 0)]
        want = float(np.std(np.diff(np.log(x))) * 1e4) if x.size >= 3 else 0.0
        assert np.float64(realised_vol_bps(p)).tobytes() == np.float64(want).tobytes(), t
