"""Settled rule 13, one mechanism at a time, on small whole models (issue "Price formation")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.liquidity import LimitTrader, LiquidityParams, ValueParams, depth_profile
from agents.market_maker import MakerParams, fair_value
from model import CascadeModel
from venues.orderbook import BUY, SELL
from worlds import plain, unit_world


def small(**kw) -> CascadeModel:
    """Calm, nearly constant fundamentals, a handful of traders; keywords change the unit world (tests/worlds.py)."""
    base = dict(seed=3, steps=200, scenario="calm", n_directional=0, n_farmers=0, n_arbitrageurs=0,
                vol_daily={"BTC": 1e-9, "ALT": 1e-9}, warmup_minutes=10)
    base.update(kw)
    return CascadeModel(unit_world(**base))


def test_fair_value_blend_is_a_weighted_log_mean_and_skips_missing_terms():
    p = plain(MakerParams, fair_weight_index=0.5, fair_weight_own=0.5, fair_weight_others=0.0)
    assert fair_value(100.0, 81.0, [], p) == pytest.approx(90.0)           # sqrt(100 x 81)
    assert fair_value(100.0, None, [50.0], p) == pytest.approx(100.0)       # own missing, others weighted 0
    p2 = plain(MakerParams, fair_weight_index=1.0, fair_weight_own=1.0, fair_weight_others=2.0)
    assert fair_value(100.0, 100.0, [25.0, 25.0], p2) == pytest.approx(100.0 ** 0.5 * 25.0 ** 0.5)


def test_maker_fair_value_follows_trades_with_the_fundamental_held_constant():
    m = small(makers=plain(MakerParams, fair_weight_index=0.5, fair_weight_own=0.5, fair_weight_others=0.0),
              n_market_makers=3)
    m.run_for(5)
    mk = m.makers[0]
    k = 1   # the alt
    v = mk.venue
    before = mk.fair(k)
    assert before == pytest.approx(float(m.fund_paths["ALT"][m.steps]), rel=2e-3)
    # a seller walks the book every minute: trades print below the (constant) fundamental, the maker's
    # inventory grows and its own quotes come down; its fair value follows what it sees
    seller = v.open_account()
    v.deposit(seller, 5e7)
    v.set_leverage(seller, k, 5.0)
    lows = []
    for _ in range(8):
        r = v.submit_order(seller, k, SELL, 12_000, kind="market")
        assert r.filled_lots > 0
        m.run_for(1)
        lows.append(float(m.ts_close[m.steps - 1, mk.vi, k]))
    after = mk.fair_hist[k][-1]
    fund = float(m.fund_paths["ALT"][m.steps])
    assert fund == pytest.approx(float(m.fund_paths["ALT"][5]), rel=1e-6)          # the fundamental did not move
    assert max(lows) < fund * 0.999
    assert after < before * 0.999                                                   # the maker's fair value did
    assert after > min(lows)                                                        # ... not all the way (weights)


def test_resting_far_bids_fill_when_the_makers_have_withdrawn():
    m = small(liquidity=plain(LiquidityParams, per_market=4, depth_usd={"BTC": 4e6, "ALT": 4e5}, min_pct=2.0,
                              max_pct=40.0))
    m.run_for(3)
    v = m.venues["binance"]
    k = 1
    for mk in m.makers:   # the makers pull their quotes
        mk.withdrawn_until = 10_000
        mk.venue.cancel_all(mk.account)
    book = v.books[k]
    lts = {lt.account for lt in m.limit_traders if lt.venue_name == "binance" and lt.k == k}
    assert book.best_bid() is not None
    assert {o for o in lts if book.orders_of(o)}, "the limit-order traders rest bids"
    seller = v.open_account()
    v.deposit(seller, 5e6)
    v.set_leverage(seller, k, 5.0)
    ref = float(v.index[k])
    r = v.submit_order(seller, k, SELL, 30_000, kind="market")
    assert r.filled_lots > 0
    assert r.avg_price < ref * 0.98                                     # printed at least 2% below
    assert book.bar_low * book.tick_size < ref * 0.98
    assert any(v.position(o, k) > 0 for o in lts)                       # the far bids bought it


def test_depth_profile_distances_and_weights():
    d, w = depth_profile(np.random.default_rng(0), 50, 1.0, 50.0, 1.0)
    assert d.min() >= 0.01 and d.max() <= 0.5 and w.sum() == pytest.approx(1.0)
    assert np.all(np.diff(w[np.argsort(d)]) >= 0)                        # farther levels are larger (profile 1)


def test_a_rejected_stop_is_retried_the_next_minute_and_closes_the_position():
    m = small(n_directional=40, n_market_makers=3)
    m.run_for(40)
    held = [tr for tr in m.traders if tr.venue.position(tr.account, tr.k) != 0]
    assert held
    tr = held[0]
    v, k = tr.venue, tr.k
    side_lots = v.position(tr.account, k)
    # empty the side its exit needs: every resting order on it goes
    for mk in m.makers:
        mk.venue.cancel_all(mk.account)
        mk.withdrawn_until = m.steps + 2
    for lt in m.limit_traders:
        lt.venue.cancel_all(lt.account)
    m.arm_exit(tr.index)
    assert m.exit_armed[tr.index] and v.position(tr.account, k) == side_lots     # nothing to trade against
    m.run_for(1)
    assert m.exit_armed[tr.index]                                                 # still armed, still open
    m.run_for(3)                                                                  # the makers are back
    assert v.position(tr.account, k) == 0 and not m.exit_armed[tr.index]


def test_a_farmers_naked_leg_is_closed_once_the_book_can_take_it():
    m = small(n_farmers=30, n_market_makers=3, steps=300)
    m.run_for(60)
    hedged = [f for f in m.farmers if f.state == "hedged"]
    assert hedged
    f = hedged[0]
    # the long leg is closed (as if liquidated) by a trade against a helper account; its short leg is naked
    lv, sv = m.venues[f.long_venue], m.venues[f.short_venue]
    k = sv.market_index(f.market)
    for mk in m.makers:
        if mk.venue is sv:
            mk.venue.cancel_all(mk.account)
            mk.withdrawn_until = m.steps + 12
    lots = lv.position(f.legs[f.long_venue], f.market)
    lv.submit_order(f.legs[f.long_venue], f.market, SELL, lots, reduce_only=True)
    assert lv.position(f.legs[f.long_venue], f.market) == 0
    f.on_broken(m.steps)
    m.run_until(m.steps + f.model.cfg.farmers.reaction_minutes + 1.5)
    assert sv.position(f.legs[f.short_venue], k) != 0 and f.state == "broken"      # tried; the book had no asks
    m.run_for(10)                                                                    # the makers came back
    assert sv.position(f.legs[f.short_venue], k) == 0 and f.state == "closed"


def test_value_traders_buy_below_their_estimate():
    m = small(value=plain(ValueParams, per_market=1, capital_usd={"BTC": 1e6, "ALT": 2e5}, noise_pct=0.0,
                          delay_minutes=0, threshold_pct=1.0, act_minutes=1.0))
    m.run_for(3)
    vt = [t for t in m.value_traders if t.venue_name == "binance" and t.asset == "ALT"][0]
    v, k = vt.venue, vt.k
    assert vt.estimate() == pytest.approx(float(m.fund_paths["ALT"][m.steps]))
    for mk in m.makers:
        mk.venue.cancel_all(mk.account)
        mk.withdrawn_until = 10_000
    # someone offers the alt 5% under the fundamental
    seller = v.open_account()
    v.deposit(seller, 1e6)
    v.set_leverage(seller, k, 5.0)
    cheap = float(m.fund_paths["ALT"][m.steps]) * 0.95
    v.submit_order(seller, k, SELL, 5_000, cheap, kind="limit")
    vt.act()
    assert v.position(vt.account, k) > 0
    assert v.position(seller, k) < 0


def test_arbitrage_flow_moves_the_outside_reference():
    m = small(outside_depth_usd={"BTC": 1e9, "ALT": 1e8})
    m.run_for(2)
    m.outside_flow("ALT", -1e6)          # an arbitrageur hedges a perp purchase by selling $1M outside
    m.run_for(1)
    t = m.steps
    assert m.reference["ALT"] == pytest.approx(float(m.fund_paths["ALT"][t]) * math.exp(-1e6 / 1e8))
    m.run_for(1)                         # and the impact decays
    assert m.reference["ALT"] / float(m.fund_paths["ALT"][m.steps]) > math.exp(-1e-2)


@pytest.mark.slow
def test_trade_bars_agree_with_the_fill_events():
    """Minute t's bar holds the book trades whose events carry step t (liquidation fills included)."""
    import venues.events as ev
    m = small(n_directional=80, steps=150, liquidity=plain(LiquidityParams, per_market=2))
    m.run_for(150)
    checked = 0
    for vi, v in enumerate(m.venues.values()):
        c = v.events.of_kind(ev.FILL)
        perp = c["market"] >= 0
        steps, markets, prices = c["step"][perp], c["market"][perp], c["price"][perp]
        for t in np.unique(steps):
            for k in np.unique(markets[steps == t]):
                px = prices[(steps == t) & (markets == k)]
                assert m.ts_low[t, vi, k] == pytest.approx(px.min())
                assert m.ts_high[t, vi, k] == pytest.approx(px.max())
                checked += 1
        traded = np.isfinite(m.ts_low[:, vi, :]).sum()
        assert traded == len({(int(t), int(k)) for t, k in zip(steps, markets)})   # no bar without a fill
    assert checked > 20


@pytest.mark.parametrize("sides", ["against_move", "both"])
def test_a_withdrawn_maker_keeps_quoting_the_side_a_fall_does_not_run_into(sides):
    """A seller walks the alt's book every minute until the makers withdraw (drift stress). With
    withdraw_sides=against_move each withdrawn maker keeps asks (none of its bids) while the fall lasts; with
    both it rests nothing."""
    m = small(makers=plain(MakerParams, fair_weight_index=0.2, fair_weight_own=0.8, fair_weight_others=0.0,
                           drift_threshold=2.0, withdraw_sides=sides), n_market_makers=3)
    m.run_for(20)
    v = m.venues["binance"]
    k = 1
    mk = [x for x in m.makers if x.venue_name == "binance"][0]
    seller = v.open_account()
    v.deposit(seller, 5e7)
    v.set_leverage(seller, k, 5.0)
    for _ in range(30):
        if mk.withdrawals:
            break
        v.submit_order(seller, k, SELL, 12_000, kind="market")
        m.run_for(1)
    assert mk.withdrawals, "the fall made the maker withdraw"
    m.run_for(1)   # a minute into its withdrawal (the fall's window still shows the move down)
    book = v.books[k]
    ids = set(book.orders_of(mk.account))
    sides_resting = {book.order(o)[0] for o in ids}
    if sides == "against_move":
        assert sides_resting == {SELL}, "asks only"
        fair = mk.fair_hist[k][-1]
        asks = [book.order(o)[1] * book.tick_size for o in ids]
        # near its fair value: above it less the inventory skew (a long maker lowers its asks by up to 20 bp)
        assert min(asks) > fair * (1 - 25e-4) and max(asks) < fair * 1.1
    else:
        assert not ids


def test_a_value_trader_rests_its_exit_at_fair_value_and_it_caps_a_buyers_walk():
    """rest_exit: having bought below its estimate, a value trader rests a sell for its whole position at
    est x (1 + threshold / 2); with the makers gone, a market buy meets that ask, not an empty book."""
    th = 1.0
    m = small(value=plain(ValueParams, per_market=1, capital_usd={"BTC": 1e6, "ALT": 2e5}, noise_pct=0.0,
                          delay_minutes=0, threshold_pct=th, act_minutes=1.0, rest_exit=True))
    m.run_for(3)
    vt = [t for t in m.value_traders if t.venue_name == "binance" and t.asset == "ALT"][0]
    v, k = vt.venue, vt.k
    book = v.books[k]
    for mk in m.makers:
        mk.venue.cancel_all(mk.account)
        mk.withdrawn_until = 10_000
    for lt in m.limit_traders:
        lt.venue.cancel_all(lt.account)
    seller = v.open_account()
    v.deposit(seller, 1e6)
    v.set_leverage(seller, k, 5.0)
    est = float(m.fund_paths["ALT"][m.steps])
    v.submit_order(seller, k, SELL, 5_000, est * 0.95, kind="limit")
    vt.act()
    pos = v.position(vt.account, k)
    assert pos > 0
    ids = book.orders_of(vt.account)
    assert len(ids) == 1
    side, px, lots, _ = book.order(ids[0])
    assert side == SELL and lots == pos and px * book.tick_size == pytest.approx(est * (1 + th / 200), rel=1e-3)
    vt.act()                                                   # unchanged: left in place (queue priority)
    assert book.orders_of(vt.account) == ids
    buyer = v.open_account()
    v.deposit(buyer, 1e6)
    v.set_leverage(buyer, k, 5.0)
    r = v.submit_order(buyer, k, BUY, pos, kind="market")
    assert r.filled_lots == pos and r.avg_price <= est * (1 + th / 200) * (1 + 1e-3)
    assert v.position(vt.account, k) == 0


def test_a_value_traders_persistent_error_has_its_deviation_and_time_constant():
    """noise_minutes > 0: the estimation error is an Ornstein-Uhlenbeck process (stationary sd noise_pct,
    autocorrelation exp(-lag / noise_minutes)); within a minute the estimate does not change; 0 keeps the
    memoryless draw."""
    from types import SimpleNamespace

    m = small(value=plain(ValueParams, per_market=1, capital_usd={"BTC": 1e6, "ALT": 2e5}, noise_pct=0.5,
                          delay_minutes=0, noise_minutes=10.0))
    vt = [t for t in m.value_traders if t.asset == "ALT"][0]
    n = 20_000
    clock = SimpleNamespace(steps=0, fund_paths={"ALT": np.full(n + 1, 10.0)})
    vt.model = clock
    errs = []
    for t in range(n):
        clock.steps = t
        e = vt.estimate()
        assert vt.estimate() == e                                      # the same minute, the same view
        errs.append(math.log(e / 10.0))
    x = np.array(errs)
    assert x.std() == pytest.approx(0.005, rel=0.05)
    r1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    r10 = np.corrcoef(x[:-10], x[10:])[0, 1]
    assert r1 == pytest.approx(math.exp(-0.1), abs=0.02) and r10 == pytest.approx(math.exp(-1.0), abs=0.05)
    vt.p = plain(ValueParams, noise_pct=0.5, delay_minutes=0, noise_minutes=0.0)
    y = []
    for t in range(2_000):
        clock.steps = t
        y.append(math.log(vt.estimate() / 10.0))
    assert abs(np.corrcoef(y[:-1], y[1:])[0, 1]) < 0.08                # memoryless
