"""Hand-computed smoke tests of the reference engine alone (tests/reference/engine.py), so it is not blind."""

from __future__ import annotations

import math

import pytest

from tests.reference.engine import RefVenue, funding_rate, median_of, weighted_median
from venues.events import ADL, BACKSTOP, BAD_DEBT, FILL, INSURANCE, LIQUIDATION, REASON_CODE, REJECT
from venues.orderbook import BUY, SELL
from venues.presets import load_preset

PRICES = {"BTC": 100000.0, "ALT": 10.0, "SYNTH": 1.0}


def venue(preset, overrides=None):
    return RefVenue(preset, load_preset(preset, overrides or {}), PRICES)


def rows(v, kind):
    return [e for e in v.events if e[4] == kind]


def approx(x, rel=1e-9, abs_=1e-6):
    return pytest.approx(x, rel=rel, abs=abs_)


# ---------------------------------------------------------------------- pure helpers
def test_medians_and_funding():
    assert median_of([3.0, None, 1.0, float("nan"), 2.0]) == 2.0
    assert median_of([1.0, 4.0]) == 2.5
    assert median_of([None]) is None
    assert weighted_median([1.0, 2.0, 3.0], [1.0, 1.0, 5.0]) == 3.0
    assert weighted_median([1.0, 2.0], [1.0, 1.0]) == 1.5  # exactly half: mean of the two
    # F = [P + clamp(i - P)] x h / 8, capped
    assert funding_rate(0.0, 8.0, 1e-4, 5e-4, 1.0) == pytest.approx(1e-4)
    assert funding_rate(0.01, 1.0, 1e-4, 5e-4, 0.04) == pytest.approx((0.01 - 5e-4) / 8)
    assert funding_rate(1.0, 1.0, 1e-4, 5e-4, 0.04) == pytest.approx(0.04)


# ---------------------------------------------------------------------- isolated bankruptcy price
def test_isolated_long_bankruptcy_price_no_fees():
    v = venue("lighter_like")  # zero fees; account 0 is the vault
    mm = v.open_account()
    v.deposit(mm, 1_000_000.0)
    a = v.open_account(isolated=True)
    v.deposit(a, 20_000.0)
    assert v.set_leverage(a, "BTC", 10.0)
    assert v.submit_order(mm, "BTC", SELL, 1000, 100000.0, "limit")["status"] == "resting"
    r = v.submit_order(a, "BTC", BUY, 1000)
    assert r["status"] == "filled" and r["filled_lots"] == 1000
    assert v.entry[a][0] == pytest.approx(100000.0)
    assert v.iso_margin[a][0] == pytest.approx(10000.0)  # 1 BTC x 100000 / 10
    assert v.bal[a][0] == pytest.approx(10000.0)
    # bankruptcy price E (1 - 1/L) = 90000 whatever the mark
    for m in (100000.0, 95000.0, 91000.0):
        v.mark[0] = m
        assert v._bankruptcy_price(a, 0) == pytest.approx(90000.0)
    v.mark[0] = 100000.0
    v.check_invariants()


def test_rejections_write_events():
    v = venue("binance_like")
    a = v.open_account()
    v.deposit(a, 1000.0)
    r = v.submit_order(a, "BTC", BUY, 10)  # empty book
    assert r["status"] == "rejected" and r["reason"] == "no_liquidity"
    r = v.submit_order(a, "BTC", BUY, 1000, 100000.0, "limit")  # 100k notional at 20x needs 5000
    assert r["reason"] == "initial_margin"
    e = rows(v, REJECT)[-1]
    assert e[10] == REASON_CODE["initial_margin"] and e[7] == pytest.approx(100000.0) and e[6] == 1000
    assert not v.withdraw(a, 2000.0)
    assert rows(v, REJECT)[-1][10] == REASON_CODE["insufficient_balance"]
    assert not v.set_leverage(a, "BTC", 200.0)
    assert rows(v, REJECT)[-1][10] == REASON_CODE["tier_max_leverage"]
    assert v.submit_order(a, "BTC", SELL, 5, kind="market", reduce_only=True)["reason"] == "reduce_only"
    assert v.withdraw(a, 400.0)
    v.check_invariants()


# ---------------------------------------------------------------------- book liquidation + insurance fund
def test_book_liquidation_fund_pays_shortfall_exactly():
    v = venue("binance_like")  # fund 2M, taker 5 bps, maker 2 bps, liquidation fee 40 bps
    mm = v.open_account()
    v.deposit(mm, 1_000_000.0)
    a = v.open_account(isolated=True)
    v.deposit(a, 1000.0)
    assert v.leverage[a][0] == 20.0
    v.submit_order(mm, "BTC", SELL, 100, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 100)["status"] == "filled"  # 0.1 BTC, margin 500, taker fee 5
    assert v.iso_margin[a][0] == pytest.approx(500.0)
    assert v.bal[a][0] == pytest.approx(1000.0 - 500.0 - 5.0)
    # the crash: the only bid is at 94000, mid 95000 = index, so mark = median(P1, P2, last) = 95000
    bidder = v.open_account()
    v.deposit(bidder, 1_000_000.0)
    v.submit_order(bidder, "BTC", BUY, 100, 94000.0, "limit")
    v.submit_order(bidder, "BTC", SELL, 1, 96000.0, "limit")
    v.update_prices({"BTC": 95000.0, "ALT": 10.0})
    assert v.mark[0] == pytest.approx(95000.0)
    # equity 500 - 500 = 0 < mm; bankruptcy price 95000 = E (1 - 1/20)
    assert v._bankruptcy_price(a, 0) == pytest.approx(95000.0)
    fund0 = v.insurance[0]
    v.run_liquidations()
    assert v.lots[a][0] == 0 and v.lots[bidder][0] == 100
    # filled at 94000, 1000 below the bankruptcy price, on 0.1 BTC: the fund pays exactly 100
    assert v.insurance[0] == approx(fund0 - 100.0)
    ins = rows(v, INSURANCE)
    assert len(ins) >= 1 and ins[0][8] == approx(100.0) and ins[0][10] == approx(100.0) and ins[0][11] == approx(-100.0)
    liq = rows(v, LIQUIDATION)
    assert len(liq) == 1
    assert liq[0][3] == a and liq[0][5] == SELL and liq[0][6] == 100 and liq[0][7] == approx(94000.0)
    assert liq[0][9] == 0.0  # the fee is taken from what is left: nothing
    assert liq[0][10] == 1 and liq[0][11] == bidder
    # the event after the LIQUIDATION row is the maker's FILL, then the INSURANCE row
    i = v.events.index(liq[0])
    assert v.events[i + 1][4] == FILL and v.events[i + 1][3] == bidder
    assert v.events[i + 2][4] == INSURANCE
    assert abs(v.iso_margin[a][0]) < 1e-9 and v.bad_debt[0] == 0.0
    assert v.bal[a][0] == approx(495.0)
    v.check_invariants()


# ---------------------------------------------------------------------- ADL of a negative account
def test_adl_winners_absorb_exact_deficit():
    v = venue("lighter_like")  # no fees, no fund; vault = account 0
    a = v.open_account()
    b = v.open_account()
    c = v.open_account()
    d = v.open_account()
    v.deposit(a, 10000.0)
    for x in (b, c, d):
        v.deposit(x, 100000.0)
    assert v.set_leverage(a, "BTC", 10.0)
    v.submit_order(b, "BTC", SELL, 600, 100000.0, "limit")
    v.submit_order(c, "BTC", SELL, 400, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 1000)["status"] == "filled"
    assert v.lots[b][0] == -600 and v.lots[c][0] == -400
    # thin quotes around 85000, nothing at A's bankruptcy price
    v.submit_order(d, "BTC", BUY, 1, 84990.0, "limit")
    v.submit_order(d, "BTC", SELL, 1, 85010.0, "limit")
    v.update_prices({"BTC": 85000.0, "ALT": 10.0}, [[85000.0], [10.0]])
    assert v.mark[0] == pytest.approx(85000.0)
    assert v.equity(a) == approx(-5000.0)
    eq_b, eq_c = v.equity(b), v.equity(c)
    assert eq_b == approx(109000.0) and eq_c == approx(106000.0)
    v.run_liquidations()
    # A closed at its bankruptcy price 90000 against B then C (pnl_leverage: B scores higher)
    adl = rows(v, ADL)
    assert [(e[3], e[6]) for e in adl] == [(b, 600), (c, 400)]
    assert all(e[7] == approx(90000.0) for e in adl)
    assert adl[0][11] == approx(9000.0) and adl[0][10] == approx(0.6 * 85000.0 / 109000.0)
    liq = rows(v, LIQUIDATION)
    assert [(e[3], e[10], e[11]) for e in liq] == [(a, 3, b), (a, 3, c)]
    assert v.lots[a][0] == 0 and v.lots[b][0] == 0 and v.lots[c][0] == 0
    # the winners absorb exactly A's deficit of 5000
    assert (eq_b - v.equity(b)) + (eq_c - v.equity(c)) == approx(5000.0)
    assert v.equity(a) == approx(0.0)
    assert v.bad_debt[0] == 0.0 and not rows(v, BAD_DEBT)
    v.check_invariants()


def test_adl_cap_and_bad_debt():
    """A winner whose equity cannot absorb its share is capped; with no one left the rest is closed at the
    mark (stage 4, caps ignored) and the deficit left is booked as bad debt."""
    v = venue("hyperliquid_like", {"backstop_vault_usd": 0.0})  # no vault, no fund
    a = v.open_account()
    b = v.open_account(isolated=True)
    c = v.open_account()
    d = v.open_account()
    v.deposit(a, 10100.0)
    v.deposit(b, 5000.0)
    v.deposit(c, 100000.0)
    v.deposit(d, 100000.0)
    v.set_leverage(a, "BTC", 10.0)
    v.submit_order(c, "BTC", SELL, 1000, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 1000)["status"] == "filled"  # taker fee 45
    # the price falls to 85000; C hands its short to B (isolated, 20x) at 85000
    v.submit_order(d, "BTC", BUY, 1, 84990.0, "limit")
    v.submit_order(d, "BTC", SELL, 1, 85010.0, "limit")
    v.update_prices({"BTC": 85000.0, "ALT": 10.0}, [[85000.0], [10.0]])
    assert v.mark[0] == pytest.approx(85000.0)
    assert v.submit_order(b, "BTC", SELL, 1000, 85000.0, "limit")["status"] == "resting"
    assert v.submit_order(c, "BTC", BUY, 1000)["filled_lots"] == 1000
    assert v.lots[b][0] == -1000 and v.lots[c][0] == 0
    assert v.iso_margin[b][0] == approx(4250.0)
    # and on to 80000
    v.cancel_all(d)
    v.submit_order(d, "BTC", BUY, 1, 79990.0, "limit")
    v.submit_order(d, "BTC", SELL, 1, 80010.0, "limit")
    v.update_prices({"BTC": 80000.0, "ALT": 10.0}, [[80000.0], [10.0]])
    assert v.mark[0] == pytest.approx(80000.0)
    eq_a = v.equity(a)
    assert eq_a == approx(10100.0 - 45.0 - 20000.0)
    p_bk = 80000.0 - eq_a
    eq_b = v._unit_equity(b, 0)
    assert eq_b == approx(4250.0 + 5000.0)
    cap = math.floor(eq_b / ((p_bk - 80000.0) * 0.001))
    assert cap == 930
    v.run_liquidations()
    adl = rows(v, ADL)
    assert [(e[3], e[6]) for e in adl] == [(b, 930), (b, 70)]
    assert adl[0][7] == approx(p_bk) and adl[1][7] == approx(80000.0)
    assert adl[0][11] == approx(5000.0) and adl[0][10] == approx(80000.0 / 9250.0)
    liq = rows(v, LIQUIDATION)
    assert [(e[3], e[10], e[6]) for e in liq] == [(a, 3, 930), (a, 4, 70)]
    assert v.lots[a][0] == 0 and v.lots[b][0] == 0
    # B (maker fee 1.5 bps = 12.75) kept what its equity could not pay; the rest of the deficit is booked
    assert v.bal[b][0] == approx(5000.0 - 4250.0 - 12.75 + 9250.0 - 930 * 0.001 * (p_bk - 80000.0))
    assert v.bad_debt[0] == approx(-eq_a * 70 / 1000)
    bd = rows(v, BAD_DEBT)
    assert len(bd) == 1 and bd[0][3] == a and bd[0][8] == approx(v.bad_debt[0])
    assert v.bal[a][0] == 0.0
    v.check_invariants()


# ---------------------------------------------------------------------- backstop takeover
def test_vault_takeover_hyperliquid():
    v = venue("hyperliquid_like")
    vault = 0
    a = v.open_account()
    mm = v.open_account()
    v.deposit(a, 2600.0)
    v.deposit(mm, 1_000_000.0)
    v.set_leverage(a, "BTC", 40.0)
    v.submit_order(mm, "BTC", SELL, 1000, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 1000)["status"] == "filled"  # taker fee 45
    # mark 98000 -> equity 2555 - 2000 = 555 < 2/3 x 1225; no bids at all
    v.mark[0] = 98000.0
    v.kept_base[0] = 98000.0
    v.kept_others[0] = 98000.0
    assert 0 <= v.equity(a) < (2 / 3) * v._unit_mm(a, -1)
    v.run_liquidations()
    assert v.lots[a][0] == 0 and v.lots[vault][0] == 1000
    assert v.bal[a] == [0.0]
    bs = rows(v, BACKSTOP)
    assert len(bs) == 1 and bs[0][3] == vault and bs[0][10] == a and bs[0][6] == 1000
    assert rows(v, LIQUIDATION)[0][10] == 2
    v.check_invariants()
    v.unwind_vault()
    assert v.open_sell[vault][0] == 100  # 10% of the position, reduce-only
    v.check_invariants()


# ---------------------------------------------------------------------- a crash: the identity holds
@pytest.mark.parametrize("preset", ["binance_like", "hyperliquid_like", "lighter_like"])
def test_invariants_after_crash(preset):
    v = venue(preset)
    mkr = v.open_account()
    v.deposit(mkr, 50_000_000.0)
    price = 100000.0
    for j in range(1, 40):
        v.submit_order(mkr, "BTC", SELL, 50, price + 10 * j, "limit")
        v.submit_order(mkr, "BTC", BUY, 50, price - 10 * j, "limit")
        v.submit_order(mkr, "ALT", SELL, 500, 10.0 + 0.001 * j, "limit")
        v.submit_order(mkr, "ALT", BUY, 500, 10.0 - 0.001 * j, "limit")
    traders = []
    for t in range(12):
        iso = t % 3 == 0
        a = v.open_account(isolated=iso)
        v.deposit(a, 3000.0 + 500.0 * t)
        v.set_leverage(a, "BTC", 10.0 + t)
        v.set_leverage(a, "ALT", 5.0 + t % 5)
        side = BUY if t % 4 else SELL
        v.submit_order(a, "BTC", side, 150 + 10 * t)
        v.submit_order(a, "ALT", side, 800 + 50 * t)
        traders.append(a)
        v.check_invariants()
    step = 0
    for px in (100000.0, 97000.0, 93000.0, 90000.0, 86000.0, 80000.0, 84000.0):
        step += 1
        v.set_step(step)
        # the maker pulls and requotes around the new price, thinly
        v.cancel_all(mkr)
        for j in range(1, 6):
            v.submit_order(mkr, "BTC", SELL, 20, px * (1 + 0.002 * j), "limit")
            v.submit_order(mkr, "BTC", BUY, 20, px * (1 - 0.01 * j), "limit")
            v.submit_order(mkr, "ALT", SELL, 200, 10.0 * px / 1e5 * (1 + 0.002 * j), "limit")
            v.submit_order(mkr, "ALT", BUY, 200, 10.0 * px / 1e5 * (1 - 0.01 * j), "limit")
        v.update_prices({"BTC": px, "ALT": 10.0 * px / 1e5}, [[px], [10.0 * px / 1e5]])
        v.check_invariants()
        v.run_liquidations()
        v.check_invariants()
        v.unwind_vault()
        v.settle_funding()
        v.check_invariants()
    kinds = {e[4] for e in v.events}
    assert LIQUIDATION in kinds
    snap = v.snapshot()
    assert len(snap["bal"]) == len(v.bal) and snap["events"] == v.events


# ---------------------------------------------------------------------- SPEC revision 2
def test_r2_isolated_release_on_partial_and_full_close():
    """SPEC 4.2 [R2]: a partial close releases max(0, m0 x closed / |old| + realised); a full close releases
    max(0, margin); a negative margin stays in iso_margin of the flat position (then 8.8 books it)."""
    v = venue("lighter_like")  # zero fees, no fund; account 0 is the vault
    mm = v.open_account()
    v.deposit(mm, 1_000_000.0)
    bidder = v.open_account()
    v.deposit(bidder, 1_000_000.0)
    a = v.open_account(isolated=True)
    v.deposit(a, 20_000.0)
    assert v.set_leverage(a, "BTC", 10.0)
    v.submit_order(mm, "BTC", SELL, 1000, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 1000)["filled_lots"] == 1000
    assert v.iso_margin[a][0] == approx(10000.0) and v.bal[a][0] == approx(10000.0)
    # partial close of half at 95000: realised -2500; release 10000 x 1/2 - 2500 = 2500 (R1 would give 3750)
    v.submit_order(bidder, "BTC", BUY, 500, 95000.0, "limit")
    assert v.submit_order(a, "BTC", SELL, 500)["filled_lots"] == 500
    assert v.lots[a][0] == 500
    assert v.bal[a][0] == approx(12500.0)
    assert v.iso_margin[a][0] == approx(5000.0)
    v.check_invariants()
    # full close of the rest at 85000: realised -7500, margin -2500: nothing released, -2500 stays
    v.submit_order(bidder, "BTC", BUY, 500, 85000.0, "limit")
    assert v.submit_order(a, "BTC", SELL, 500)["filled_lots"] == 500
    assert v.lots[a][0] == 0
    assert v.bal[a][0] == approx(12500.0)
    assert v.iso_margin[a][0] == approx(-2500.0)
    v.check_invariants()
    # the negative pass books it as bad debt of the flat isolated unit (a, 0)
    v.run_liquidations()
    bd = rows(v, BAD_DEBT)
    assert len(bd) == 1 and bd[0][2] == 0 and bd[0][3] == a and bd[0][8] == approx(2500.0)
    assert v.iso_margin[a][0] == 0.0 and v.bad_debt[0] == approx(2500.0)
    assert v.bal[a][0] == approx(12500.0)
    v.check_invariants()


def test_r2_liquidation_fee_once_after_shortfall():
    """SPEC 8.4 step 1 [R2]: the fund pays each fill's shortfall first; the fee is charged once per position
    from what is left, and split over the LIQUIDATION rows by nominal share; events written after the fee."""
    v = venue("binance_like")  # fund 2M, maker 2 bps, taker 5 bps, liquidation fee 40 bps, slip 500 bps
    mm = v.open_account()
    v.deposit(mm, 1_000_000.0)
    bidder = v.open_account()
    v.deposit(bidder, 1_000_000.0)
    a = v.open_account(isolated=True)
    v.deposit(a, 1000.0)
    v.submit_order(mm, "BTC", SELL, 100, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 100)["filled_lots"] == 100  # margin 500, taker fee 5
    v.submit_order(bidder, "BTC", BUY, 50, 95400.0, "limit")
    v.submit_order(bidder, "BTC", BUY, 50, 94800.0, "limit")
    v.mark[0] = 95300.0  # equity 500 - 470 = 30 < mm 9530 x 0.004 = 38.12; p_bk = 95000
    assert v._unit_equity(a, 0) == approx(30.0)
    assert v._bankruptcy_price(a, 0) == approx(95000.0)
    fund0 = v.insurance[0]
    fees0 = v.fees_kept[0]
    v.run_liquidations()
    assert v.lots[a][0] == 0 and v.lots[bidder][0] == 100
    # fill 1 at 95400: margin 500 - 230 = 270; fill 2 at 94800: 270 - 260 = 10, shortfall 10 paid -> 20
    # nominal = (4770 + 4740) x 0.004 = 38.04; charged = min(38.04, 20) = 20
    assert v.insurance[0] == approx(fund0 - 10.0 + 20.0)
    assert v.fees_kept[0] == approx(fees0 + 0.0002 * (4770.0 + 4740.0))  # the bidder's maker fees only
    assert abs(v.iso_margin[a][0]) < 1e-9 and v.bal[a][0] == approx(495.0)
    tail = [e for e in v.events if e[4] in (LIQUIDATION, FILL, INSURANCE)][-5:]
    assert [(e[4], e[3]) for e in tail] == [(LIQUIDATION, a), (FILL, bidder), (LIQUIDATION, a), (FILL, bidder),
                                            (INSURANCE, a)]
    l1, l2 = tail[0], tail[2]
    assert l1[6] == 50 and l1[7] == approx(95400.0) and l1[9] == approx(20.0 * 19.08 / 38.04)
    assert l2[6] == 50 and l2[7] == approx(94800.0) and l2[9] == approx(20.0 * 18.96 / 38.04)
    assert l1[9] + l2[9] == approx(20.0)
    ins = tail[4]
    assert ins[7] == approx(94800.0) and ins[8] == approx(10.0) and ins[10] == approx(10.0) and ins[11] == approx(-10.0)
    assert v.bad_debt[0] == 0.0
    v.check_invariants()


def test_r2_cross_remainder_moves_whole_collateral_to_fund():
    """SPEC 8.4 step 2 [R2]: a flat cross unit with equity > EPS_NEG hands every asset (USD even if negative)
    to the fund; one INSURANCE row, market -1, notional = aux = equity."""
    v = venue("binance_like")
    mm = v.open_account()
    v.deposit(mm, 1_000_000.0)
    bidder = v.open_account()
    v.deposit(bidder, 1_000_000.0)
    a = v.open_account()
    v.deposit(a, 600.0)
    v.deposit(a, 0.002, "BTC")  # collateral 0.002 x 100000 x 0.9 = 180
    assert v.submit_spot_order(a, "BTC", SELL, 1, 200000.0, "limit")["status"] == "resting"
    v.submit_order(mm, "BTC", SELL, 100, 100000.0, "limit")
    assert v.submit_order(a, "BTC", BUY, 100)["filled_lots"] == 100  # taker fee 5 -> USD 595
    v.submit_order(bidder, "BTC", BUY, 100, 93800.0, "limit")
    v.mark[0] = 92600.0  # equity 595 + 180 - 740 = 35 < mm 9260 x 0.004 = 37.04
    assert v.equity(a) == approx(35.0)
    fund0 = v.insurance[0]
    v.run_liquidations()
    assert v.lots[a][0] == 0
    # fill at 93800: USD 595 - 620 = -25, equity 155; fee min(37.52, 155) = 37.52 -> USD -62.52, equity 117.48
    btc = v.asset_index["BTC"]
    assert v.bal[a] == [0.0] * v.A and v.reserved[a][btc] == approx(0.0)
    assert v.insurance[0] == approx(fund0 + 37.52 - 62.52)
    assert v.insurance[btc] == approx(0.002)
    ins = rows(v, INSURANCE)[-1]
    assert ins[2] == -1 and ins[3] == a and ins[5] == 0 and ins[6] == 0 and ins[7] == 0.0
    assert ins[8] == approx(117.48) and ins[11] == approx(117.48) and ins[9] == 0.0 and ins[10] == 0.0
    v.check_invariants()


def test_r2_vault_never_takes_itself_over():
    """SPEC 8.4 step 3 [R2]: the vault in the backstop band skips stage c (no BACKSTOP row, no self-takeover)
    and, its equity >= 0, sends its unfilled rest to ADL at its bankruptcy price."""
    v = venue("hyperliquid_like", {"backstop_vault_usd": 2600.0, "vault_max_drawdown_pct": 100.0})
    vault = 0
    mm = v.open_account()
    v.deposit(mm, 1_000_000.0)
    assert v.set_leverage(vault, "BTC", 40.0)
    v.submit_order(mm, "BTC", SELL, 1000, 100000.0, "limit")
    assert v.submit_order(vault, "BTC", BUY, 1000)["filled_lots"] == 1000  # taker fee 45
    v.mark[0] = 98000.0
    v.kept_base[0] = 98000.0
    v.kept_others[0] = 98000.0
    e = v.equity(vault)
    assert e == approx(555.0) and 0 <= e < (2 / 3) * v._unit_mm(vault, -1)
    v.run_liquidations()
    assert not rows(v, BACKSTOP)
    # 98000 < partial threshold 100000: the whole 1000 lots; no bids: all of it to ADL at 98000 - 555 = 97445
    adl = rows(v, ADL)
    assert [(e[3], e[5], e[6]) for e in adl] == [(mm, BUY, 1000)]
    assert adl[0][7] == approx(97445.0) and adl[0][11] == approx(2000.0)
    liq = rows(v, LIQUIDATION)
    assert [(e[3], e[5], e[10], e[11]) for e in liq] == [(vault, SELL, 3, mm)]
    assert v.lots[vault][0] == 0 and v.lots[mm][0] == 0
    assert v.bal[vault][0] == approx(2600.0 - 45.0 - 2555.0)
    assert v.bal[mm][0] == approx(1_000_000.0 - 15.0 + 2555.0)
    assert v.bad_debt[0] == 0.0
    v.check_invariants()


def test_r2_negative_pass_books_free_collateral_of_isolated_account():
    """SPEC 8.8 [R2]: an isolated account's free collateral below -EPS_NEG is unit (i, -1): BAD_DEBT market -1."""
    v = venue("lighter_like")
    a = v.open_account(isolated=True)
    v.deposit(a, 100.0)
    v.bal[a][0] -= 400.0  # as if 400 had been paid out of it (kept in fees so the identity holds)
    v.fees_kept[0] += 400.0
    v.check_invariants()
    v.run_liquidations()
    bd = rows(v, BAD_DEBT)
    assert len(bd) == 1 and bd[0][2] == -1 and bd[0][3] == a and bd[0][8] == approx(300.0)
    assert v.bal[a][0] == 0.0 and v.bad_debt[0] == approx(300.0)
    v.check_invariants()


def test_r2_halted_update_prices_takes_no_sample():
    """SPEC 5 [R2]: while halted no premium sample, the basis window and the EMA stay; marks stay frozen."""
    v = venue("hyperliquid_like")
    v.update_prices({"BTC": 101000.0, "ALT": 10.0})
    n, s, ema, w = v.prem_n, list(v.prem_sum), list(v.premium_ema), [list(x) for x in v.basis_window]
    mark = list(v.mark)
    v.set_halted(True)
    v.update_prices({"BTC": 90000.0, "ALT": 9.0})
    assert v.prem_n == n and v.prem_sum == s and v.premium_ema == ema and v.basis_window == w
    assert v.mark == mark and v.index[0] == 90000.0
