"""The liquidation waterfall against hand-built cases (settled rule 2, venues/SPEC.md section 8)."""

from __future__ import annotations

import pytest

from conftest import force_mark, make_venue, trade
from venues import events as ev
from venues.orderbook import BUY

NO_FEES = {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0}


def rows(v, kind):
    return v.events.of_kind(kind)


# ---------------------------------------------------------------------------------------------- ADL rankings
def adl_world(ranking: str, long_lots: int = 600):
    """A long L with negative equity at mark 90k (bankruptcy price 95k) and three shorts A, B, C:
    A: 0.5 BTC short from 110k, collateral 10k  -> PnL 10k, PnL% 18.2%, leverage 2.25, score 0.409
    B: 0.3 BTC short from 100k, collateral 2k   -> PnL 3k,  PnL% 10%,   leverage 5.4,  score 0.54
    C: 0.2 BTC short from 91k,  collateral 500  -> PnL 200, PnL% 1.1%,  leverage 25.7, score 0.283
    No fund and no vault: what the book cannot take goes to ADL."""
    v = make_venue("hyperliquid_like", {**NO_FEES, "backstop_vault_usd": 0.0, "adl_ranking": ranking})
    mm = v.open_account()
    v.deposit(mm, 1e7)
    A, B, C, L = (v.open_account() for _ in range(4))
    for acct, coll in ((A, 10_000), (B, 2_000), (C, 500)):
        v.deposit(acct, coll)
        v.set_leverage(acct, "BTC", 40)
    for acct, lots, px in ((A, 500, 110_000.0), (B, 300, 100_000.0), (C, 200, 91_000.0)):
        force_mark(v, {"BTC": px})   # each short opens at the mark of its day
        trade(v, mm, acct, "BTC", lots, px)
    force_mark(v, {"BTC": 100_000.0})
    bk_collateral = 3_000.0   # equity at 90k = 3k - 0.6 x 10k = -3k (with 600 lots)
    v.deposit(L, bk_collateral)
    v.set_leverage(L, "BTC", 40)
    trade(v, L, mm, "BTC", long_lots, 100_000.0)
    force_mark(v, {"BTC": 90_000.0})
    return v, mm, A, B, C, L


@pytest.mark.parametrize("ranking,expected", [
    ("pnl_leverage", [("B", 300), ("A", 300)]),
    ("pnl", [("A", 500), ("B", 100)]),
    ("leverage", [("C", 140), ("B", 300), ("A", 160)]),   # C's cap: equity 700 / (5,000 x 0.001) = 140 lots
])
def test_adl_ranking_picks_the_documented_counterparties_in_order(ranking, expected):
    v, mm, A, B, C, L = adl_world(ranking)
    names = {A: "A", B: "B", C: "C"}
    eq_before = {a: v.equity(a) for a in (A, B, C)}
    assert v.equity(L) == pytest.approx(-3_000.0)
    v.run_liquidations()
    liq = rows(v, ev.LIQUIDATION)
    adl = {k: x[liq["account"] == L] for k, x in rows(v, ev.ADL).items()}   # rows written in pairs with L's
    assert [(names[a], n) for a, n in zip(adl["account"].tolist(), adl["lots"].tolist())] == expected
    assert adl["price"] == pytest.approx(95_000.0)   # the bankruptcy price: 90k + 3k / 0.6
    assert v.ch.lots[L, 0] == 0 and v.equity(L) == pytest.approx(0.0, abs=1e-6)
    # the winners absorb exactly the deficit; none is left negative
    absorbed = sum(eq_before[a] - v.equity(a) for a in (A, B, C))
    assert absorbed == pytest.approx(3_000.0)
    assert min(v.equity(a) for a in (A, B, C)) >= -1e-9
    # (with `leverage`, C is left at zero equity and is itself liquidated in the next round: a cascade)
    assert v.ch.bad_debt[0] == 0.0
    lev = dict(zip(adl["account"].tolist(), adl["info"].tolist()))
    assert lev[B] == pytest.approx(27_000 / 5_000)     # effective leverage just before the fill
    v.check_invariants()


def test_pro_rata_cuts_every_opposite_position_by_the_same_share_floored():
    v, mm, A, B, C, L = adl_world("pro_rata", long_lots=600)
    v.run_liquidations()
    adl = rows(v, ev.ADL)
    got = dict(zip(adl["account"].tolist(), adl["lots"].tolist()))
    # 600 of 1,000 opposite lots: 60% of each (C's 120 is within its cap of 140)
    assert got == {A: 300, B: 180, C: 120}
    v.check_invariants()


def test_pro_rata_leftover_comes_from_the_top_of_the_pnl_leverage_queue():
    v, mm, A, B, C, L = adl_world("pro_rata", long_lots=601)
    v.run_liquidations()
    adl = rows(v, ev.ADL)
    pairs = list(zip(adl["account"].tolist(), adl["lots"].tolist()))
    # floor(500 x 601 / 1000) = 300, floor(300 x 601 / 1000) = 180, floor(200 x 601 / 1000) = 120: 1 lot left,
    # taken by the top of the pnl_leverage queue (B)
    assert pairs[:3] == [(A, 300), (B, 180), (C, 120)]
    assert pairs[3:] == [(B, 1)]


# ---------------------------------------------------------------------------------------------- fund
def fund_world(fund_usd: float = 2_000_000.0):
    v = make_venue("binance_like", {**NO_FEES, "insurance_fund_usd": fund_usd, "liquidation_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    L = v.open_account()
    v.deposit(L, 10_000)
    v.set_leverage(L, "BTC", 10)
    trade(v, L, mm, "BTC", 1000, 100_000.0)      # 1 BTC long at 10x: bankruptcy price 90k
    return v, mm, L


def test_fund_pays_exactly_the_shortfall_of_a_fill_below_the_bankruptcy_price():
    v, mm, L = fund_world()
    v.submit_order(mm, "BTC", BUY, 1000, 89_000.0, kind="limit")
    force_mark(v, {"BTC": 90_300.0})             # equity 300 < maintenance 401.5: liquidatable, not negative
    fund0 = v.ch.insurance[0]
    v.run_liquidations()
    liq = rows(v, ev.LIQUIDATION)
    assert liq["price"].tolist() == [89_000.0] and liq["info"].tolist() == [1]   # stage: book
    ins = rows(v, ev.INSURANCE)
    assert ins["notional"].tolist() == pytest.approx([1_000.0])    # (90,000 - 89,000) x 1 BTC
    assert fund0 - v.ch.insurance[0] == pytest.approx(1_000.0)
    assert v.equity(L) == pytest.approx(0.0, abs=1e-6)
    assert len(rows(v, ev.ADL)["account"]) == 0 and v.ch.bad_debt[0] == 0
    v.check_invariants()


def test_fund_takes_a_gapped_position_while_it_has_money_then_adl_takes_the_rest():
    v, mm, L = fund_world(fund_usd=5_000.0)
    A = v.open_account()                          # a profitable short for ADL
    v.deposit(A, 50_000)
    trade(v, mm, A, "BTC", 1000, 100_000.0)
    v.submit_order(mm, "BTC", BUY, 1000, 79_000.0, kind="limit")
    force_mark(v, {"BTC": 80_000.0})             # gapped: equity -10k, bankruptcy price 90k
    v.run_liquidations()
    # the fund covers 5,000 of shortfall: the order may sell down to 90,000 - 5,000 = 85,000, so the bid at 79k
    # is refused and the whole position goes to ADL at 90k
    assert len(rows(v, ev.INSURANCE)["account"]) == 0
    adl = rows(v, ev.ADL)
    assert adl["account"].tolist() == [A] and adl["price"].tolist() == pytest.approx([90_000.0])
    assert v.ch.bad_debt[0] == 0
    v.check_invariants()
    # a rich fund takes the same gap at the book
    v2, mm2, L2 = fund_world(fund_usd=2_000_000.0)
    v2.submit_order(mm2, "BTC", BUY, 1000, 79_000.0, kind="limit")
    force_mark(v2, {"BTC": 80_000.0})
    v2.run_liquidations()
    assert rows(v2, ev.INSURANCE)["notional"].tolist() == pytest.approx([11_000.0])  # (90k - 79k) x 1
    assert len(rows(v2, ev.ADL)["account"]) == 0 and v2.ch.bad_debt[0] == 0
    assert v2.equity(L2) == pytest.approx(0.0, abs=1e-6)
    v2.check_invariants()


# ---------------------------------------------------------------------------------------------- no fund, vault
def vault_world(drawdown_ok: bool = True, vault_usd: float = 1_000_000.0):
    v = make_venue("hyperliquid_like", {**NO_FEES, "backstop_vault_usd": vault_usd, "vault_max_drawdown_pct": 20.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    L = v.open_account()
    v.deposit(L, 3_000)
    v.set_leverage(L, "BTC", 40)
    trade(v, L, mm, "BTC", 1000, 100_000.0)     # 1 BTC at 33x; maintenance 1.25%
    A = v.open_account()
    v.deposit(A, 50_000)
    trade(v, mm, A, "BTC", 1000, 100_000.0)      # an opposite short for ADL
    if not drawdown_ok:
        v.ch.bal[v.vault, 0] -= 300_000.0        # the vault lost 30% (> 20% limit) ...
        v.ch.bal[mm, 0] += 300_000.0             # ... to the market maker (money stays in the venue)
    return v, mm, L, A


def test_unfilled_rest_goes_to_the_vault_below_its_threshold():
    v, mm, L, A = vault_world()
    force_mark(v, {"BTC": 98_200.0})   # equity 1,200 < 2/3 x maintenance (1,227.5 x 2/3 = 818)? no: 1,200 > 818
    force_mark(v, {"BTC": 97_700.0})   # equity 700 < 818: below the backstop threshold, not negative
    v.run_liquidations()               # the book is empty: nothing fills at the bankruptcy price 97k
    bs = rows(v, ev.BACKSTOP)
    assert bs["account"].tolist() == [v.vault] and bs["lots"].tolist() == [1000]
    assert v.ch.lots[v.vault, 0] == 1000 and v.ch.lots[L, 0] == 0
    assert v.ch.bal[L].sum() == 0.0 and v.equity(L) == 0.0        # the account is left empty
    assert len(rows(v, ev.ADL)["account"]) == 0 and v.ch.bad_debt[0] == 0
    v.check_invariants()


def test_without_fund_or_vault_takeover_unfilled_rest_goes_to_adl_and_no_bad_debt():
    v, mm, L, A = vault_world()
    force_mark(v, {"BTC": 97_900.0})   # equity 900 >= 818: above the backstop threshold, below maintenance
    v.run_liquidations()
    adl = rows(v, ev.ADL)
    assert adl["account"].tolist() == [A] and adl["lots"].tolist() == [1000]
    assert adl["price"] == pytest.approx(97_000.0)   # bankruptcy price 100k - 3k / 1
    assert v.ch.bad_debt[0] == 0 and v.equity(A) > 0
    v.check_invariants()


def test_vault_below_its_drawdown_limit_declines_and_adl_takes_over():
    v, mm, L, A = vault_world(drawdown_ok=False)
    force_mark(v, {"BTC": 97_700.0})
    v.run_liquidations()
    bs = rows(v, ev.BACKSTOP)
    assert bs["info"].tolist() == [-1.0] and bs["lots"].tolist() == [0]   # declined
    assert v.ch.lots[v.vault, 0] == 0
    adl = rows(v, ev.ADL)
    assert adl["account"].tolist() == [A] and adl["lots"].tolist() == [1000]
    v.check_invariants()


def test_bad_debt_only_when_no_opposite_position_can_take_a_lot():
    v = make_venue("hyperliquid_like", {**NO_FEES, "backstop_vault_usd": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e6)
    L, A = v.open_account(), v.open_account()
    v.deposit(L, 3_000)
    v.set_leverage(L, "BTC", 40)
    v.deposit(A, 100)                              # a short with almost no equity: its cap is 0 lots
    v.set_leverage(A, "BTC", 40)
    trade(v, mm, A, "BTC", 20, 100_000.0)          # A short 0.02 BTC
    trade(v, L, mm, "BTC", 20, 100_000.0)          # L long 0.02 BTC
    v.ch.bal[L, 0] -= 2_960.0                      # L: 40 USD left (moved to the maker, conserved)
    v.ch.bal[mm, 0] += 2_960.0
    force_mark(v, {"BTC": 99_000.0})               # L equity 40 - 20 = 20; bk 99k... take it negative:
    force_mark(v, {"BTC": 97_000.0})               # L equity 40 - 60 = -20: bk = 97k + 20 / 0.02 = 98k
    # A: short 0.02 from 100k: equity 100 + 60 = 160; adverse 98k - 97k = 1k per BTC -> cap 160 / 1 = 160 lots
    v.run_liquidations()
    assert v.ch.bad_debt[0] == 0 and rows(v, ev.ADL)["account"].tolist() == [A]
    v.check_invariants()


# ---------------------------------------------------------------------------------------------- order of service
def two_competitors(preset: str, overrides: dict):
    v = make_venue(preset, {**NO_FEES, **overrides})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    # X (opened first, lower id) is healthier than Y; both liquidatable at the same mark
    X, Y = v.open_account(), v.open_account()
    v.deposit(X, 8_000)
    v.deposit(Y, 7_000)
    for a in (X, Y):
        v.set_leverage(a, "BTC", 20)
        trade(v, a, mm, "BTC", 1000, 100_000.0)
    return v, mm, X, Y


def test_the_last_of_the_book_goes_to_the_lowest_margin_ratio():
    v, mm, X, Y = two_competitors("hyperliquid_like", {"backstop_vault_usd": 0.0})
    force_mark(v, {"BTC": 92_400.0})   # X equity 400, Y -600: both below maintenance
    v.submit_order(mm, "BTC", BUY, 1000, 93_500.0, kind="limit")   # room for one of them
    scan = v.scan()
    assert scan.accounts.tolist() == [Y, X]
    v.run_liquidations()
    liq = rows(v, ev.LIQUIDATION)
    book = liq["info"] == 1
    assert liq["account"][book].tolist() == [Y]          # Y (lower ratio) gets the book


def test_the_fund_serves_the_lowest_margin_ratio_first():
    v, mm, X, Y = two_competitors("binance_like", {"insurance_fund_usd": 1_500.0, "liquidation_fee_bps": 0.0})
    force_mark(v, {"BTC": 93_200.0})   # X equity 1,200 (bk 92k), Y 200 (bk 93k); both below maintenance
    v.submit_order(mm, "BTC", BUY, 2000, 91_600.0, kind="limit")
    v.run_liquidations()
    ins = rows(v, ev.INSURANCE)
    # Y first: shortfall (93k - 91.6k) x 1 = 1,400, paid in full; X then finds 100 left in the fund, so its
    # order may only go to 92k - 100 = 91.9k and the bid at 91.6k is refused: X goes to ADL
    assert ins["account"].tolist() == [Y] and ins["notional"].tolist() == pytest.approx([1_400.0])


def test_the_head_of_the_adl_queue_goes_to_the_lowest_margin_ratio():
    v, mm, X, Y = two_competitors("hyperliquid_like", {"backstop_vault_usd": 0.0})
    A = v.open_account()   # the best-ranked short, but with room for only one of them
    v.deposit(A, 100_000)
    force_mark(v, {"BTC": 110_000.0})
    trade(v, mm, A, "BTC", 1000, 110_000.0)
    force_mark(v, {"BTC": 92_400.0})   # Y negative (bk 93k), X at bk 92k; empty book
    v.run_liquidations()
    adl = rows(v, ev.ADL)
    liq = rows(v, ev.LIQUIDATION)
    first = liq["account"][liq["info"] == 3][0]
    assert first == Y and adl["account"][0] == A
