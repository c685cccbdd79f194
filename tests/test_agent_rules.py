"""Agents' decision rules against hand-computed cases (directional traders and farmers; the makers' rule is in
test_market_maker_rule.py)."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import stream
from agents.directional import DirectionalParams, draw_leverage, exit_prices, order_lots, signal_side
from agents.farmer import Incentives, best_pair, commit_share, pair_yield_per_day, transfer_needed
from venues.orderbook import BUY, SELL
from worlds import plain


def test_signals():
    up = np.array([100.0, 101.0, 103.0])
    assert signal_side(up, momentum=True) == BUY and signal_side(up, momentum=False) == SELL
    assert signal_side(up[::-1], momentum=True) == SELL
    assert signal_side(np.array([100.0, 100.0]), True) == 0 and signal_side(np.array([100.0]), True) == 0


def test_sizes_and_exits():
    assert order_lots(5_000.0, 10.0, 100_000.0, 0.001) == 500          # 50k notional = 0.5 BTC
    assert order_lots(5_000.0, 10.0, 0.0, 0.001) == 0
    p = plain(DirectionalParams, stop_loss_pct=5.0, take_profit_pct=10.0)
    assert exit_prices(100.0, BUY, p) == pytest.approx((95.0, 110.0))
    assert exit_prices(100.0, SELL, p) == pytest.approx((105.0, 90.0))


def test_leverage_is_heavy_tailed_and_capped():
    p = plain(DirectionalParams, leverage_min=2.0, leverage_tail=1.5)
    lev = draw_leverage(stream(1, "t"), 200_000, p, cap=50.0)
    assert lev.min() >= 2.0 and lev.max() == 50.0
    # Pareto: P(L > 2 x 4) = 4^-1.5 = 0.125 before the cap
    assert np.mean(lev > 8.0) == pytest.approx(0.125, abs=0.005)


def test_pair_yield_hand_computed():
    inc = Incentives(points_per_volume_usd=1e-3, points_per_oi_usd_hour=1e-3)
    none = Incentives()
    # long on the points venue, short elsewhere; point 0.02 USD; funding 0.001%/h long, 0.003%/h short
    y = pair_yield_per_day(0.02, inc, none, 0.00001, 0.00003, 0.0, 0.0005, hold_days=14.0)
    volume = 1e-3 * 2 / 14 * 0.02
    oi = 1e-3 * 24 * 0.02
    funding = (0.00003 - 0.00001) * 24
    fees = 0.0005 * 2 / 14
    assert y == pytest.approx(volume + oi + funding - fees)


def test_best_pair_needs_two_venues():
    y = np.array([[9.0, 1.0, 2.0], [3.0, 9.0, 0.5], [0.1, 4.0, 9.0]])
    assert best_pair(y) == (2, 1, 4.0)


def test_transfer_needed():
    assert transfer_needed(2_000.0, 1_000.0, 1.5) == 0.0
    assert transfer_needed(1_200.0, 1_000.0, 1.5) == pytest.approx(1_800.0)   # back to 3 x maintenance
    assert transfer_needed(1_200.0, 0.0, 1.5) == 0.0


def test_arbitrage_gap_and_clip():
    from agents.arbitrageur import clip_lots, gap_side
    assert gap_side(101.0, 101.2, 100.0, 0.005) == SELL   # its bid 1% over the index, band 0.5%: sell it
    assert gap_side(98.8, 99.0, 100.0, 0.005) == BUY      # its ask 1% under: buy it
    assert gap_side(100.3, 100.4, 100.0, 0.005) == 0      # inside the band
    assert gap_side(None, 99.0, 100.0, 0.005) == BUY      # an empty side is not a price
    assert gap_side(101.0, None, 100.0, 0.005) == SELL
    assert gap_side(None, None, 100.0, 0.005) == 0
    assert gap_side(125.0, 125.5, 100.0, 0.25) == 0       # exactly at the band's edge (exact floats): not beyond it
    assert clip_lots(1e9, 500_000.0, 200_000.0, 100_000.0, 0.001) == 2000   # the room binds: 200k / 100
    assert clip_lots(1e9, 500_000.0, -1.0, 100_000.0, 0.001) == 0


def test_farmers_commit_more_as_incentives_rise():
    assert commit_share(0.01, 0.01) == pytest.approx(0.5)   # at the hurdle: half the capital
    assert commit_share(0.015, 0.01) == pytest.approx(0.75)
    assert commit_share(0.05, 0.01) == 1.0
