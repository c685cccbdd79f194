"""A synthetic cascade against its closed form (MECHANICS.md "A closed form for cascades").

Longs whose liquidation prices are spread evenly below the price with density rho (units of the asset per
USD of price) sell into a book of fixed linear depth D (units per USD): an exogenous drop d0 becomes
d0 / (1 - rho / D), and for rho >= D the cascade runs through the whole ladder. Units fixed here: price 100,
tick 0.01, lot 1 unit, D = 10,000 units per USD (100 lots on every tick), mark = last trade.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_venue
from venues.orderbook import BUY, SELL

P0, E, TICK, D, SPACING, D0 = 100.0, 100.0, 0.01, 10_000.0, 0.1, 4.0
RATE = 0.3            # maintenance rate: the bankruptcy price (0.7 x the liquidation price) never binds


def build(rho: float, ladder_low: float = 60.0):
    tiers = [[float("inf"), 3.0, RATE]]
    v = make_venue("lighter_like", {"backstop_vault_usd": 0.0, "taker_fee_bps": 0.0, "maker_fee_bps": 0.0,
                                    "perps": {"ALT": {"tick_size": TICK, "lot_size": 1.0, "tiers": tiers}}})
    k = v.market_index("ALT")
    ch = v.ch
    maker, seller, short = v.open_account(), v.open_account(), v.open_account()
    for a in (maker, seller, short):
        v.deposit(a, 1e9)
        v.set_leverage(a, k, 3.0)
    # the ladder: isolated longs of size s, liquidation prices L_j from just below P0 down to ladder_low
    s = int(round(rho * SPACING))
    levels = np.arange(P0 - SPACING, ladder_low - 1e-9, -SPACING)
    longs = []
    for L in levels:
        i = v.open_account(isolated=True)
        margin = s * E - s * (1 - RATE) * L          # m + s (L - E) = s L RATE  ->  liquidated below L
        v.deposit(i, margin)
        ch.leverage[i, k] = s * E / margin            # so the opening moves exactly `margin` into the position
        ch.apply_fill(i, k, s, E)
        ch.apply_fill(short, k, -s, E)                # the other side, held by a well-capitalised short
        longs.append(i)
    # the book: D units per USD of price, i.e. D x TICK lots on every tick from P0 down
    per_level = int(round(D * TICK))
    for t in range(int(round(P0 / TICK)), int(round(30.0 / TICK)), -1):
        r = v.submit_order(maker, k, BUY, per_level, t * TICK, kind="limit")
        assert r.status == "resting"
    # mark = last trade (else P0): the test's price
    def remark():
        last = v.books[k].last_trade()
        marks = ch.mark.copy()
        marks[k] = P0 if last is None else last
        ch.mark = marks
    v.remark = remark
    remark()
    v.check_invariants()
    return v, k, seller, longs


def cascade(rho: float):
    v, k, seller, longs = build(rho)
    # the exogenous drop: d0 x D units sold at market take the price from P0 to P0 - d0
    r = v.submit_order(seller, k, SELL, int(D0 * D))
    assert r.filled_lots == int(D0 * D)
    v.remark()
    step = 0
    while True:
        step += 1
        v.set_step(step)
        if v.run_liquidations() == 0:
            break
        v.check_invariants()
        assert step < 200
    final = v.books[k].last_trade()
    n_liquidated = sum(1 for i in longs if v.ch.lots[i, k] == 0)
    return P0 - final, n_liquidated, len(longs), v


@pytest.mark.parametrize("ratio", [0.25, 0.5])
def test_drop_is_amplified_by_one_over_one_minus_rho_over_d(ratio):
    drop, n_liq, n, v = cascade(ratio * D)
    expected = D0 / (1 - ratio)
    assert drop == pytest.approx(expected, rel=0.05)
    assert 0 < n_liq < n
    assert sum(v.ch.bad_debt) == 0


@pytest.mark.parametrize("ratio", [1.0, 1.5])
def test_cascade_runs_through_the_whole_ladder_when_rho_reaches_d(ratio):
    drop, n_liq, n, v = cascade(ratio * D)
    assert n_liq == n
    assert P0 - drop < 60.0   # below the lowest liquidation price of the ladder
