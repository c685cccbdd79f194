"""Venue.post_ladder / post_spot_ladder: the same book, reservations, balances and events as sending the
orders one by one (the batch check is only a shortcut when the whole ladder fits)."""

from __future__ import annotations

import numpy as np
import pytest

from venues.orderbook import BUY, SELL
from venues.presets import load_preset
from venues.venue import Venue


def pair(preset="binance_like", capital=1_000_000.0, synth=0.0):
    out = []
    for _ in range(2):
        v = Venue("x", load_preset(preset), {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0}, capacity=8)
        a = v.open_account()
        v.deposit(a, capital)
        if synth:
            v.deposit(a, synth, asset="SYNTH")
        v.set_leverage(a, 0, 10.0)
        other = v.open_account()
        v.deposit(other, 5_000_000.0)
        v.set_leverage(other, 0, 10.0)
        v.submit_order(other, 0, SELL, 200, 100_100.0, kind="limit", post_only=True)
        v.submit_order(other, 0, BUY, 200, 99_900.0, kind="limit", post_only=True)
        out.append((v, a))
    return out


def same(v1, v2):
    for b1, b2 in zip(v1.books + v1.spot_books, v2.books + v2.spot_books):
        assert b1.snapshot(50) == b2.snapshot(50)
    for name in ("lots", "open_buy", "open_sell", "bal", "entry"):
        assert np.array_equal(getattr(v1.ch, name), getattr(v2.ch, name)), name
    assert np.array_equal(v1._spot_locked, v2._spot_locked)
    c1, c2 = v1.events.columns(), v2.events.columns()
    for k in c1:
        assert np.array_equal(c1[k], c2[k]), k


LADDER = [(BUY, 99_800.0 - 10 * j, 300) for j in range(5)] + [(SELL, 100_200.0 + 10 * j, 300) for j in range(5)]


@pytest.mark.parametrize("capital", [1_000_000.0, 12_000.0])   # fits at once / must be checked order by order
@pytest.mark.parametrize("ladder", [LADDER, LADDER + [(BUY, 100_150.0, 50)]], ids=["passive", "one crosses"])
def test_post_ladder_equals_orders_one_by_one(capital, ladder):
    (v1, a1), (v2, a2) = pair(capital=capital)
    for side, px, n in ladder:
        v1.submit_order(a1, 0, side, n, px, kind="limit", post_only=True)
    v2.post_ladder(a2, 0, ladder)
    same(v1, v2)


@pytest.mark.parametrize("capital,synth", [(1_000_000.0, 500_000.0), (3_000.0, 1_000.0)])
def test_post_spot_ladder_equals_orders_one_by_one(capital, synth):
    (v1, a1), (v2, a2) = pair(capital=capital, synth=synth)
    s = v1.spot_index("SYNTH")
    for v in (v1, v2):   # someone else's ask that the second bid crosses
        o = v.open_account()
        v.deposit(o, 10_000.0, asset="SYNTH")
        v.submit_spot_order(o, s, SELL, 2_000, 0.999, kind="limit")
    ladder = [(BUY, 0.998, 1_000), (BUY, 0.9995, 3_000), (BUY, 0.99, 5_000), (SELL, 1.002, 4_000),
              (SELL, 1.004, 400_000)]
    for side, px, n in ladder:
        v1.submit_spot_order(a1, s, side, n, px, kind="limit")
    v2.post_spot_ladder(a2, s, ladder)
    same(v1, v2)


def test_the_small_account_ladder_is_partly_refused():
    (v1, a1), _ = pair(capital=12_000.0)
    assert not v1._ladder_fits(a1, 0, LADDER)
    v1.post_ladder(a1, 0, LADDER)
    assert 0 < len(v1.books[0].orders_of(a1)) < len(LADDER)   # the checks ran order by order
