"""Margin arithmetic against closed forms: bankruptcy prices (isolated and cross), tiers, order checks,
withdrawals (settled rules 1, 6, 7)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import PRICES, ladder, make_venue, trade
from venues.clearinghouse import TierTable
from venues.orderbook import BUY, SELL
from venues.params import ConfigError
from venues.presets import load_preset


@pytest.mark.parametrize("lev", [5.0, 10.0, 20.0])
@pytest.mark.parametrize("fee_bps", [0.0, 5.0])
def test_isolated_bankruptcy_price_long_and_short(lev, fee_bps):
    v = make_venue("binance_like", {"taker_fee_bps": fee_bps, "maker_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e9)
    long_, short = v.open_account(isolated=True), v.open_account(isolated=True)
    for a in (long_, short):
        v.deposit(a, 100_000)
        assert v.set_leverage(a, "BTC", lev)
    E = 100_000.0
    trade(v, long_, mm, "BTC", 500, E)          # 0.5 BTC long at 100k
    r = v.submit_order(mm, "BTC", BUY, 500, E, kind="limit")
    assert r.status == "resting"
    assert v.submit_order(short, "BTC", SELL, 500, E, kind="ioc").filled_lots == 500
    q = 0.5
    margin = q * E / lev
    assert v.ch.iso_margin[long_, 0] == pytest.approx(margin)
    f = fee_bps * 1e-4
    bk = v.bankruptcy_prices(fee_rate=f)
    # closed forms: long E (1 - 1/L) / (1 - f), short E (1 + 1/L) / (1 + f)
    assert bk[long_, 0] == pytest.approx(E * (1 - 1 / lev) / (1 - f), rel=1e-12)
    assert bk[short, 0] == pytest.approx(E * (1 + 1 / lev) / (1 + f), rel=1e-12)
    # and closing at it (paying the closing fee) leaves the position's equity at zero
    for a, sign in ((long_, 1), (short, -1)):
        p = bk[a, 0]
        assert margin + sign * q * (p - E) - f * q * p == pytest.approx(0.0, abs=1e-7)


def cross_two_positions(v):
    mm = v.open_account()
    v.deposit(mm, 1e9)
    a = v.open_account()
    v.deposit(a, 20_000)
    trade(v, a, mm, "BTC", 1000, 100_000.0)     # long 1 BTC at 100k
    trade(v, mm, a, "ALT", 5000, 10.0)          # short 5,000 ALT at 10
    return mm, a


def test_cross_bankruptcy_prices_apportion_equity_by_maintenance_margin():
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm, a = cross_two_positions(v)
    v.ch.mark = np.array([96_000.0, 10.4])      # marks move against both legs
    ch = v.ch
    q = ch.qty[a].copy()
    notional = np.abs(q) * ch.mark
    mmv = np.array([ch.tiers[k].maintenance(notional[k]) for k in range(2)])
    eq = 20_000 + q[0] * (96_000 - 100_000) + q[1] * (10.4 - 10.0)
    assert v.equity(a) == pytest.approx(eq)
    s = mmv / mmv.sum()
    bk = v.bankruptcy_prices()[a]
    assert bk == pytest.approx(ch.mark - s * eq / q, rel=1e-12)
    # closing both positions at those prices leaves equity exactly zero
    trade(v, mm, a, "BTC", 1000, round(bk[0], 1))    # tick 0.1: round, then correct for the rounding below
    trade(v, a, mm, "ALT", 5000, round(bk[1], 4))
    rounding = q[0] * (round(bk[0], 1) - bk[0]) + q[1] * (round(bk[1], 4) - bk[1])
    assert v.equity(a) - rounding == pytest.approx(0.0, abs=1e-6)
    v.check_invariants()


def test_cross_bankruptcy_price_reduces_to_isolated_with_one_position():
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e9)
    a = v.open_account()
    v.deposit(a, 10_000)
    trade(v, a, mm, "BTC", 1000, 100_000.0)
    v.ch.mark = np.array([97_000.0, 10.0])
    bk = v.bankruptcy_prices()[a]
    assert bk[0] == pytest.approx(100_000.0 - 10_000 / 1.0, rel=1e-12)  # E - m / q
    assert math.isnan(bk[1])


def test_liquidation_price_is_where_equity_meets_maintenance():
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e9)
    a = v.open_account()
    v.deposit(a, 5_000)
    trade(v, a, mm, "BTC", 1000, 100_000.0)     # 1 BTC, 20x
    liq = v.liquidation_prices()[a, 0]
    # 5,000 + (p - 100,000) = p x rate - cum at the bracket of 100k notional (0.5%, cum 50)
    assert liq == pytest.approx((100_000 - 5_000 - 50) / (1 - 0.005))
    v.ch.mark = np.array([liq + 1.0, 10.0])
    assert len(v.scan()) == 0
    v.ch.mark = np.array([liq - 1.0, 10.0])
    s = v.scan()
    assert list(s.accounts) == [a] and s.margin_ratio[0] < 1


def test_tier_table_maintenance_is_continuous_and_binance_cum_matches():
    t = TierTable(load_preset("binance_like").perps["BTC"].tiers)
    # Binance's published maintenance amounts for BTCUSDT: 0, 50, 950, 11,450, 131,450
    assert t.cum[:5] == pytest.approx([0, 50, 950, 11_450, 131_450])
    for b in t.bounds[:-1]:
        assert t.maintenance(b * (1 - 1e-12)) == pytest.approx(t.maintenance(b * (1 + 1e-12)), rel=1e-9)
    capped = TierTable(load_preset("binance_like").perps["BTC"].tiers, venue_cap=10)
    assert capped.max_leverage_at(1_000.0) == 10 and capped.maintenance(1_000.0) == t.maintenance(1_000.0)


def test_order_breaching_initial_margin_is_refused_with_reason():
    v = make_venue("binance_like")
    mm = v.open_account()
    v.deposit(mm, 1e9)
    ladder(v, mm, "BTC", levels=20, lots=500)
    a = v.open_account()
    v.deposit(a, 1_000)
    r = v.submit_order(a, "BTC", BUY, 300)   # 30k notional at 20x needs 1.5k
    assert r.status == "rejected" and r.reason == "initial_margin"
    assert v.events.count(4) == 1
    assert v.submit_order(a, "BTC", BUY, 150).status == "filled"   # 15k notional needs 750
    # a reducing order is always accepted
    assert v.submit_order(a, "BTC", SELL, 100).status == "filled"


def test_order_above_the_tiers_max_leverage_is_refused_with_reason():
    v = make_venue("binance_like")
    mm = v.open_account()
    v.deposit(mm, 1e9)
    ladder(v, mm, "BTC", levels=20, lots=2000)
    a = v.open_account()
    v.deposit(a, 100_000)
    assert v.set_leverage(a, "BTC", 125)           # allowed in the first bracket (<= 50k)
    assert v.submit_order(a, "BTC", BUY, 400).status == "filled"  # 40k notional at 125x
    r = v.submit_order(a, "BTC", BUY, 200)         # 60k: bracket 2 allows 100x only
    assert r.status == "rejected" and r.reason == "tier_max_leverage"
    assert v.set_leverage(a, "BTC", 100)
    assert v.submit_order(a, "BTC", BUY, 200).status == "filled"


def test_venue_wide_leverage_cap():
    v = make_venue("binance_like", {"max_leverage": 10})
    a = v.open_account()
    v.deposit(a, 1_000)
    assert v.ch.leverage[a, 0] == 10
    assert not v.set_leverage(a, "BTC", 20)
    with pytest.raises(ConfigError, match="max_leverage"):
        make_venue("binance_like", {"max_leverage": 0.5})


def test_bad_tier_is_refused_by_name():
    with pytest.raises(ConfigError, match=r"perps.BTC.tiers\[0\].maintenance_rate"):
        make_venue("binance_like", {"perps": {"BTC": {"tiers": [[1e9, 50.0, 0.02]]}}})
    with pytest.raises(ConfigError, match="unknown key"):
        make_venue("binance_like", {"max_leverge": 10})


@pytest.mark.parametrize("preset,profit_counts", [("binance_like", False), ("hyperliquid_like", True)])
def test_withdrawals_follow_settled_rule_6(preset, profit_counts):
    v = make_venue(preset, {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e9)
    a = v.open_account()
    v.deposit(a, 10_000)
    assert v.set_leverage(a, "BTC", 10)
    trade(v, a, mm, "BTC", 500, 100_000.0)      # 50k notional, IM 5k at 10x
    v.ch.mark = np.array([102_000.0, 10.0])     # +1,000 unrealised; IM now 5.1k
    limit = 10_000 + (1_000 if profit_counts else 0) - 5_100
    assert v.withdrawable(a) == pytest.approx(limit)
    assert not v.withdraw(a, limit + 1.0)
    assert v.events.of_kind(4)["info"][-1] in (4, 5)   # withdrawal_limit or insufficient_balance
    ok = v.withdraw(a, min(limit, 10_000.0))
    assert ok
    v.ch.mark = np.array([97_000.0, 10.0])      # a loss always counts
    assert v.withdrawable(a) == pytest.approx(max(0.0, 10_000 - min(limit, 10_000.0) - 1_500 - 4_850))
    v.check_invariants()


def test_cross_collateral_in_the_synthetic_dollar_uses_the_oracle():
    v = make_venue("binance_like")
    mm = v.open_account()
    v.deposit(mm, 1e8)
    v.deposit(mm, 1e6, asset="SYNTH")
    s = v.spot_index("SYNTH")
    for k in range(1, 5):
        v.submit_spot_order(mm, s, BUY, 1000, 1.0 - k * 0.001, kind="limit")
        v.submit_spot_order(mm, s, SELL, 1000, 1.0 + k * 0.001, kind="limit")
    a = v.open_account()
    v.deposit(a, 10_000, asset="SYNTH")
    v.update_prices(PRICES)
    assert v.equity(a) == pytest.approx(10_000 * 1.0 * (1 - 0.05))
    # a wave of selling takes the bids: the market oracle follows the book
    seller = v.open_account()
    v.deposit(seller, 5_000, asset="SYNTH")
    assert v.submit_spot_order(seller, s, SELL, 3500).filled_lots == 3500
    v.update_prices(PRICES)
    assert v.ch.asset_value[v.asset_index["SYNTH"]] == pytest.approx((0.996 + 1.001) / 2)  # the new mid
    v.check_invariants()


@pytest.mark.slow
def test_withdrawable_in_floats_is_the_numpy_form_bit_for_bit():
    """Accounts.withdrawable's Python-float form (sequential sums) equals its numpy form `_withdrawable_np`, and its
    compiled form (`withdrawable`, margin_nb.withdrawable_any) equals both, exactly, on
    every account of every venue of a crash run's world at minute 300 (makers with spot orders resting,
    traders with positions in profit and loss, synthetic-dollar collateral)."""
    from model import CascadeModel
    from worlds import world
    m = CascadeModel(world("population=small", "steps=300", "seed=4"))
    m.run_for(300)
    checked = 0
    for v in m.venues.values():
        for i in range(v.ch.n):
            assert v._withdrawable_py(i) == v._withdrawable_np(i), (v.name, i)
            assert v.withdrawable(i) == v._withdrawable_py(i), (v.name, i)   # the compiled call
            checked += 1
    assert checked > 500
    assert any(v._spot_locked[: v.ch.n].any() for v in m.venues.values())


@pytest.mark.slow
def test_compiled_withdrawable_is_withdrawable_bit_for_bit():
    """venues/margin_nb.withdrawable_one (the directional batch's compiled form, called here from Python)
    gives Accounts.withdrawable exactly, on every account without spot orders resting of a crash run's world at
    minute 300, with withdraw_unrealized_profit off and on, and on isolated accounts."""
    from model import CascadeModel
    from venues.margin_nb import withdrawable_one
    from worlds import world
    m = CascadeModel(world("population=small", "steps=300", "seed=4"))
    m.run_for(300)
    v0 = next(iter(m.venues.values()))
    iso = v0.open_account(isolated=True)
    v0.deposit(iso, 1234.5)
    checked = 0
    for v in m.venues.values():
        ch = v.ch
        n = ch.n
        rows = np.flatnonzero(~v._spot_locked[:n].any(axis=1)).astype(np.int64)
        for flag in (False, True):
            out = np.array([withdrawable_one(i, ch.lots, ch.qty, ch.entry, ch.bal, ch.weight_array, ch.leverage,
                                             ch.lot_size, ch.isolated, ch.mark, flag) for i in rows.tolist()])
            v.params.withdraw_unrealized_profit, was = flag, v.params.withdraw_unrealized_profit
            try:
                assert out.tolist() == [v._withdrawable_py(i) for i in rows.tolist()], v.name
            finally:
                v.params.withdraw_unrealized_profit = was
        checked += rows.size
    assert checked > 500 and v0.ch.isolated[iso]
    assert any(v._spot_locked[: v.ch.n].any() for v in m.venues.values())


def test_compiled_identity_sums_are_numpys_bit_for_bit():
    """venues/margin_nb.k_identity_sums against the numpy expressions it stands for in the accounting identity's
    check (settled rule 1): `bal[:n].sum(axis=0)`, `(qty[:n] * (mark - entry[:n])).sum()` and whether the isolated
    margins need numpy's sum (one is not zero), on column-major arrays of a larger capacity (the clearinghouse's
    layout), n from 0 to past numpy's 128-term block and its halvings, magnitudes over twelve decades, signed
    zeros and infinities."""
    from venues.margin_nb import k_identity_sums
    rng = np.random.default_rng(20261203)
    sizes = list(range(0, 40)) + [127, 128, 129, 135, 136, 255, 256, 257, 1000, 4095, 8191, 8192, 8193, 20_001]
    for trial, n in enumerate(sizes * 3):
        cap = n + int(rng.integers(0, 50))
        A, M = int(rng.integers(1, 6)), int(rng.integers(1, 4))
        bal = np.asfortranarray(rng.standard_normal((cap, A)) * 10 ** rng.uniform(-3, 9, (cap, A)))
        qty = np.asfortranarray(rng.standard_normal((cap, M)) * 10 ** rng.uniform(-4, 4, (cap, M)))
        entry = np.asfortranarray(rng.uniform(0.5, 2.0, (cap, M)) * 10 ** rng.uniform(-2, 5, M))
        mark = entry[0] * rng.uniform(0.8, 1.2, M) if cap else np.ones(M)
        if trial % 7 == 0 and n:
            bal[: n // 2] = -0.0
            qty[: n // 3] = 0.0
        if trial % 11 == 0 and n:
            bal[int(rng.integers(0, n)), 0] = np.inf
        iso = np.asfortranarray(np.zeros((cap, M)))
        if trial % 2 and n:
            iso[int(rng.integers(0, n)), M - 1] = rng.choice([-0.0, 1.5])
        held = np.empty(A + 1)
        upnl = k_identity_sums(n, bal, qty, entry, mark, iso, held)
        want = bal[:n].sum(axis=0)
        assert held[:A].tobytes() == want.tobytes(), (n, A)
        assert held[A] == float(bool(iso[:n].any()))
        if not held[A]:
            assert iso[:n].sum().tobytes() == np.float64(0.0).tobytes()
        want_upnl = (qty[:n] * (mark - entry[:n])).sum()
        assert np.float64(upnl).tobytes() == want_upnl.tobytes(), (n, M)


@pytest.mark.parametrize("oct10", [False, True])
def test_compiled_margin_is_unit_state_bit_for_bit(oct10):
    """Accounts.margin's compiled form (margin_nb.margin_one) gives unit_state(i, -1)'s equity and maintenance
    margin exactly (CPython 3.12's sums, the tier bisect), on every account of a run's world at several minutes
    (the crash's brackets above the first included), with an isolated account holding a position and one
    holding the synthetic dollar."""
    from model import CascadeModel
    from worlds import world
    m = CascadeModel(world("population=small", "steps=400", "seed=4", *(["scenario=oct10"] if oct10 else [])))
    v0 = next(iter(m.venues.values()))
    iso = v0.open_account(isolated=True)
    v0.deposit(iso, 50_000.0)
    assert v0.set_leverage(iso, 0, 5.0)
    v0.submit_order(iso, 0, BUY, 10)
    checked = above = 0
    for stop in (1, 120, 260, 400):
        m.run_until(stop)
        for v in m.venues.values():
            ch = v.ch
            for i in range(ch.n):
                eq, mm, _, _ = ch.unit_state(i, -1)
                got = ch.margin_one(i)
                assert np.array([eq, mm]).tobytes() == np.array(got).tobytes(), (stop, v.name, i)
                assert v.margin(i) == got
                checked += 1
                above += any(ch.tiers[k].maintenance_scalar(abs(float(ch.qty[i, k])) * ch.mark_list[k])
                             != abs(float(ch.qty[i, k])) * ch.mark_list[k] * ch.tiers[k].rates[0]
                             for k in range(ch.M) if ch.qty[i, k] != 0)
    assert checked > 2000 and v0.ch.isolated[iso] and v0.ch.qty[iso, 0] != 0, (checked, above)
    assert above > 0, above


def test_fma_dot_is_numpys_dot_of_short_vectors():
    """The compiled collateral value of spot reservations (margin_nb.fma_dot, inside withdrawable_any) is numpy's
    `x @ y` of 1 to 9 terms bit for bit (on this project's machines OpenBLAS's ddot: a fused multiply-add per term
    in turn). If this fails on a machine, the compiled withdrawable differs there from the numpy form."""
    from venues.margin_nb import fma_dot
    rng = np.random.default_rng(11)
    for t in range(20_000):
        n = int(rng.integers(1, 10))
        x = rng.standard_normal(n) * 10 ** rng.uniform(-5, 8, n)
        y = rng.uniform(0.0, 2.0, n) * 10 ** rng.uniform(-3, 5, n)
        if t % 3 == 0:
            x[rng.integers(0, n)] = 0.0
        assert np.float64(fma_dot(x, y)).tobytes() == np.float64(x @ y).tobytes(), (t, n)
