"""Index, mark and funding against hand-computed cases (settled rules 4 and 5)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_venue
from venues.orderbook import BUY, SELL
from venues.prices import binance_mark, funding_rate, hyperliquid_mark, median_of, weighted_median


def test_weighted_median():
    assert weighted_median([1, 2, 3], [0.2, 0.2, 0.6]) == 3
    assert weighted_median([3, 1, 2], [0.5, 0.3, 0.2]) == 2.5  # cum 0.3, 0.5 exactly half -> mean of 2 and 3
    assert weighted_median([1, 2, 3, 4]) == 2.5
    assert weighted_median([10.0, np.nan, 12.0], [1, 5, 1]) == 11.0
    assert median_of(None, 3.0, np.nan, 1.0) == 2.0


def test_binance_mark_hand_computed():
    # Price 1 = 100 x (1 + 0.0001 x 240/480) = 100.005; Price 2 = 100 + 0.5; last 101 -> median 100.5
    assert binance_mark(100.0, 0.0001, 240, 480, 0.5, 101.0) == pytest.approx(100.5)
    # without a last trade: median of two = their mean
    assert binance_mark(100.0, 0.0, 60, 480, 1.0, None) == pytest.approx(100.5)


def test_hyperliquid_mark_hand_computed():
    # a = 100 + 0.3; b = median(99, 101, 100.6) = 100.6; c = median(100.2, 100.4) = 100.3 -> 100.3
    assert hyperliquid_mark(100.0, 0.3, 99.0, 101.0, 100.6, [100.2, 100.4]) == pytest.approx(100.3)
    # a crash on the book moves the mark once two of its three terms move
    assert hyperliquid_mark(100.0, 0.0, 60.0, 61.0, 60.0, [100.0]) == pytest.approx(100.0)
    assert hyperliquid_mark(100.0, 0.0, 60.0, 61.0, 60.0, [61.0]) == pytest.approx(61.0)


@pytest.mark.parametrize("preset", ["binance_like", "hyperliquid_like", "lighter_like"])
def test_venue_mark_follows_its_rule(preset):
    v = make_venue(preset)
    mm = v.open_account()
    v.deposit(mm, 1e9)
    v.submit_order(mm, "BTC", BUY, 10, 100_900.0, kind="limit")
    v.submit_order(mm, "BTC", SELL, 10, 101_100.0, kind="limit")
    idx = {"BTC": 100_000.0, "ALT": 10.0}
    v.update_prices(idx, other_mids=[[100_200.0], [10.0]])
    mid = 101_000.0
    if preset == "binance_like":
        # no funding rate yet: Price 1 = index; Price 2 = index + basis (one-step MA) = mid; no last trade
        assert v.ch.mark[0] == pytest.approx(0.5 * (100_000.0 + mid))
    else:
        a = 100_000.0 + (1 - np.exp(-1 / 2.5)) * (mid - 100_000.0)
        b = mid  # median(bid, ask), no last trade
        c = 100_200.0
        assert v.ch.mark[0] == pytest.approx(np.median([a, b, c]))


def test_funding_rate_formula():
    # P = 0.1%: F = [0.001 + clamp(0.0001 - 0.001, -0.0005, 0.0005)] x 1/8 = 0.0005 / 8
    assert funding_rate(0.001, 1.0) == pytest.approx(0.0005 / 8)
    # P = 0.003% on an 8 h venue: clamp(i - P) = 0.00007 -> F = i = 0.0001
    assert funding_rate(0.00003, 8.0) == pytest.approx(0.0001)
    # capped at cap per hour x hours
    assert funding_rate(0.5, 1.0, cap_per_hour=0.04) == pytest.approx(0.04)
    assert funding_rate(-0.5, 8.0, cap_per_hour=0.001) == pytest.approx(-0.008)


def test_funding_payments_hand_computed_and_sum_to_zero():
    v = make_venue("hyperliquid_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm, longs, shorts = v.open_account(), [v.open_account() for _ in range(2)], [v.open_account(isolated=True)]
    v.deposit(mm, 1e9)
    for a in longs + shorts:
        v.deposit(a, 100_000)
    # positions: longs 1.0 and 0.5 BTC, an isolated short 0.7 BTC; the maker holds the rest (-0.8)
    for a, lots in zip(longs, (1000, 500)):
        v.submit_order(mm, "BTC", SELL, lots, 100_000.0, kind="limit")
        v.submit_order(a, "BTC", BUY, lots)
    v.submit_order(mm, "BTC", BUY, 700, 100_000.0, kind="limit")
    v.submit_order(shorts[0], "BTC", SELL, 700)
    # the book's mid sits at +0.1% over the index for the whole hour
    v.submit_order(mm, "BTC", BUY, 1, 100_000.0, kind="limit")
    v.submit_order(mm, "BTC", SELL, 1, 100_200.0, kind="limit")
    before = v.ch.bal[:, 0].copy(), v.ch.iso_margin[:, 0].copy()
    rates = None
    for step in range(60):
        v.set_step(step)
        v.update_prices({"BTC": 100_000.0, "ALT": 10.0})
        rates = v.settle_funding()
        if step < 59:
            assert rates is None
    F = 0.0005 / 8   # P = 0.001 (mid 100,100 over index 100,000)
    assert rates[0] == pytest.approx(F)
    paid = (before[0] - v.ch.bal[:, 0]) + (before[1] - v.ch.iso_margin[:, 0])
    assert paid[longs[0]] == pytest.approx(1.0 * 100_000 * F)
    assert paid[longs[1]] == pytest.approx(0.5 * 100_000 * F)
    assert paid[shorts[0]] == pytest.approx(-0.7 * 100_000 * F)     # from the isolated margin
    assert v.ch.iso_margin[shorts[0], 0] - before[1][shorts[0]] == pytest.approx(0.7 * 100_000 * F)
    assert paid[: v.n_accounts].sum() == pytest.approx(0.0, abs=1e-9)
    f = v.events.of_kind(1)
    assert len(f["account"]) == 4 and f["info"][0] == pytest.approx(F)   # rate per hour
    v.check_invariants()
