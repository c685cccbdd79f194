"""Regression tests for the findings of the independent review of the venue mechanics (SPEC revision 2), and
for an insurance fund that went negative (issue 20 item 3, SPEC revision 4)."""

from __future__ import annotations

import pytest

from conftest import force_mark, make_venue, trade
from venues import events as ev
from venues.orderbook import BUY, SELL


def rows(v, kind):
    return v.events.of_kind(kind)


def test_liquidation_fee_never_crowds_out_the_fund():
    """The fee is taken after the fund paid the shortfalls: no bad debt while the fund has money."""
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    L = v.open_account()
    v.deposit(L, 5_000)
    v.set_leverage(L, "BTC", 20)
    trade(v, L, mm, "BTC", 1000, 100_000.0)        # bankruptcy price 95,000
    v.submit_order(mm, "BTC", BUY, 500, 95_200.0, kind="limit")
    v.submit_order(mm, "BTC", BUY, 500, 94_900.0, kind="limit")
    force_mark(v, {"BTC": 95_300.0})               # equity 300 < maintenance 426.5
    fund0 = v.ch.insurance[0]
    v.run_liquidations()
    # equity: 300 - 50 (0.5 @ 95,200) - 200 (0.5 @ 94,900) + 50 (fund: (95,000 - 94,900) x 0.5) = 100
    ins = rows(v, ev.INSURANCE)
    assert ins["notional"].tolist() == pytest.approx([50.0])
    liq = rows(v, ev.LIQUIDATION)
    assert liq["fee"].sum() == pytest.approx(100.0)   # min(40 bps x 95,050, 100)
    assert v.ch.bad_debt[0] == 0 and v.equity(L) == pytest.approx(0.0, abs=1e-6)
    assert v.ch.insurance[0] - fund0 == pytest.approx(50.0)
    v.check_invariants()


def test_partial_close_of_a_losing_isolated_position_releases_only_its_share():
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    a = v.open_account(isolated=True)
    v.deposit(a, 5_000)
    v.set_leverage(a, "BTC", 20)
    trade(v, a, mm, "BTC", 1000, 100_000.0)        # margin 5,000
    force_mark(v, {"BTC": 95_500.0})               # position equity 500
    free0 = v.ch.bal[a, 0]
    v.submit_order(mm, "BTC", BUY, 900, 95_500.0, kind="limit")
    v.submit_order(a, "BTC", SELL, 900)            # closes 0.9 BTC at the mark
    assert v.ch.bal[a, 0] - free0 == pytest.approx(0.9 * 500)
    eq_rest = v.ch.iso_margin[a, 0] + v.ch.qty[a, 0] * (95_500.0 - v.ch.entry[a, 0])
    assert eq_rest == pytest.approx(0.1 * 500)
    v.check_invariants()


def test_a_negative_isolated_margin_is_never_released_and_becomes_bad_debt():
    v = make_venue("hyperliquid_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0, "backstop_vault_usd": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    a = v.open_account(isolated=True)
    v.deposit(a, 5_000)
    v.set_leverage(a, "BTC", 20)
    trade(v, a, mm, "BTC", 1000, 100_000.0)        # margin 5,000
    force_mark(v, {"BTC": 94_000.0})               # position equity -1,000 (not yet liquidated)
    v.submit_order(mm, "BTC", BUY, 1000, 94_000.0, kind="limit")
    v.submit_order(a, "BTC", SELL, 1000, reduce_only=True)
    assert v.ch.bal[a, 0] == pytest.approx(0.0) and v.ch.iso_margin[a, 0] == pytest.approx(-1_000.0)
    v.run_liquidations()
    assert v.ch.bad_debt[0] == pytest.approx(1_000.0)
    assert rows(v, ev.BAD_DEBT)["notional"].tolist() == pytest.approx([1_000.0])
    assert v.ch.iso_margin[a, 0] == 0.0
    v.check_invariants()


def test_a_negative_free_balance_of_an_isolated_account_is_booked():
    v = make_venue("lighter_like", {"backstop_vault_usd": 0.0})
    a = v.open_account(isolated=True)
    v.deposit(a, 100.0)
    v.ch.bal[a, 0] -= 150.0                        # e.g. fees on reduce-only orders took it below zero ...
    v.ch.fees_kept[0] += 150.0                     # ... to the venue (the identity holds)
    v.check_invariants()
    v.run_liquidations()
    assert v.ch.bad_debt[0] == pytest.approx(50.0) and v.ch.bal[a, 0] == 0.0
    v.check_invariants()


def test_the_vault_never_takes_itself_over():
    v = make_venue("hyperliquid_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0, "backstop_vault_usd": 10_000.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    V = v.vault
    v.ch.apply_fill(V, 0, 10_000, 100_000.0)        # the vault holds 10 BTC long (as from takeovers) ...
    v.ch.apply_fill(mm, 0, -10_000, 100_000.0)      # ... against the maker
    force_mark(v, {"BTC": 99_200.0})               # vault equity 2,000 < 2/3 x maintenance (12,400 x 2/3)
    v.run_liquidations()
    assert len(rows(v, ev.BACKSTOP)["account"]) == 0
    liq = rows(v, ev.LIQUIDATION)
    assert set(liq["account"].tolist()) == {V} and set(liq["info"].tolist()) <= {1, 3}
    v.check_invariants()


def test_remainder_to_insurance_moves_the_whole_collateral():
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0, "collateral_oracle": "redemption",
                                    "liquidation_fee_bps": 0.0})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    a = v.open_account()
    v.deposit(a, 3_000, asset="SYNTH")             # collateral value 3,000 x 0.95 = 2,850
    v.set_leverage(a, "BTC", 20)
    trade(v, a, mm, "BTC", 500, 100_000.0)         # 0.5 BTC
    v.submit_order(mm, "BTC", BUY, 500, 94_650.0, kind="limit")
    force_mark(v, {"BTC": 94_650.0})               # equity 2,850 - 2,675 = 175 < maintenance 0.4% x 47,325
    assert len(v.scan()) == 1
    v.run_liquidations()
    s = v.asset_index["SYNTH"]
    assert v.ch.bal[a].tolist() == [0.0] * len(v.assets)
    assert v.ch.insurance[s] == pytest.approx(3_000.0)       # the synthetic dollar went to the fund too
    ins = rows(v, ev.INSURANCE)
    assert ins["aux"].tolist() == pytest.approx([175.0])
    v.check_invariants()


def test_a_synth_holder_closed_at_zero_on_an_empty_spot_book_hands_its_synth_to_the_fund():
    """R3: market mode, no bids for the synthetic dollar: what the book cannot take goes to the fund at its
    oracle value, so only the deficit beyond the collateral's value is bad debt, and the account ends at zero."""
    v = make_venue("binance_like")
    mm = v.open_account()
    v.deposit(mm, 10_000, asset="SYNTH")
    s = v.spot_index("SYNTH")
    v.submit_spot_order(mm, s, SELL, 1_000, 1.0, kind="limit")      # asks only: no one to sell to
    a = v.open_account()
    v.deposit(a, 1_000, asset="SYNTH")                              # collateral value 1,000 x 0.95
    v.ch.bal[a, 0] -= 2_000.0                                       # a USD debt (e.g. realised losses) ...
    v.ch.fees_kept[0] += 2_000.0                                    # ... that went to the venue
    assert v.equity(a) == pytest.approx(-1_050.0)
    syn = v.asset_index["SYNTH"]
    fund_usd0 = v.ch.insurance[0]
    v.run_liquidations()
    assert v.ch.bal[a].tolist() == [0.0] * len(v.assets)            # closed at zero
    assert v.ch.insurance[syn] == pytest.approx(1_000.0)             # the fund took the synthetic dollars ...
    assert fund_usd0 - v.ch.insurance[0] == pytest.approx(950.0)     # ... at their value after haircut
    assert v.ch.bad_debt[0] == pytest.approx(1_050.0)
    v.check_invariants()


# ---------------------------------------------------------------------------------------------- SPEC R4 (issue 20.3)
def synth_long_world(overrides: dict, synth_bid: float, synth_ask: float):
    """An account holding only 3,000 synthetic dollars (collateral 2,850 after the 5% haircut at a 1.00 mid) and
    long 0.5 BTC from 100k; the mark falls to 94,650, where the maker bids for the whole position: equity
    2,850 - 2,675 = 175 < maintenance 189.3. The book closes it at the mark, which realises the loss in USD:
    USD -2,675 against 3,000 synthetic dollars. The maker's synthetic-dollar quotes are `synth_bid` / `synth_ask`."""
    v = make_venue("binance_like", {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0, "liquidation_fee_bps": 0.0,
                                    "insurance_fund_usd": 100.0, **overrides})
    mm = v.open_account()
    v.deposit(mm, 1e8)
    s = v.spot_index("SYNTH")
    v.submit_spot_order(mm, s, BUY, 3_000, synth_bid, kind="limit")
    v.submit_spot_order(mm, s, SELL, 3_000, synth_ask, kind="limit")
    a = v.open_account()
    v.deposit(a, 3_000, asset="SYNTH")
    v.set_leverage(a, "BTC", 20)
    trade(v, a, mm, "BTC", 500, 100_000.0)
    v.submit_order(mm, "BTC", BUY, 500, 94_650.0, kind="limit")
    force_mark(v, {"BTC": 94_650.0})
    assert v.equity(a) == pytest.approx(175.0) and len(v.scan()) == 1
    return v, mm, a


def test_a_remainder_with_negative_usd_sells_its_synthetic_dollar_and_the_fund_takes_only_what_is_left():
    """Before R4 the fund took the account's USD of -2,675 with its synthetic dollars and fell to -2,575."""
    v, mm, a = synth_long_world({}, 0.99, 1.01)
    v.run_liquidations()
    syn = v.asset_index["SYNTH"]
    assert v.ch.bal[a].tolist() == [0.0] * len(v.assets)
    assert v.ch.bal[mm, syn] == pytest.approx(3_000.0)               # sold on the spot book (settled rule 2f) ...
    assert v.ch.insurance[0] == pytest.approx(100.0 + 295.0)          # ... 2,970 - 2,675 left, to the fund
    assert v.ch.insurance[syn] == 0.0 and v.ch.bad_debt[0] == 0.0
    ins = rows(v, ev.INSURANCE)
    assert ins["aux"].tolist() == pytest.approx([295.0]) and ins["lots"].tolist() == [0]
    v.check_invariants()


def test_a_remainder_whose_synthetic_dollar_sells_below_its_value_books_only_the_usd_still_negative():
    """The oracle (the mid, 1.00) values the collateral at 2,850; the bids pay 2,550: USD -125 is bad debt (rule
    2f) and the fund neither pays nor receives anything."""
    v, mm, a = synth_long_world({}, 0.85, 1.15)
    v.run_liquidations()
    assert v.ch.bal[a].tolist() == [0.0] * len(v.assets)
    assert v.ch.insurance == pytest.approx([100.0, 0.0, 0.0, 0.0])
    assert v.ch.bad_debt[0] == pytest.approx(125.0)
    assert len(rows(v, ev.INSURANCE)["aux"]) == 0
    v.check_invariants()


def test_in_redemption_mode_a_fund_that_cannot_pay_the_synthetic_dollar_leaves_it_to_fees_kept():
    """Redemption mode: the synthetic dollar is taken at 1.00 after haircut (2,850) by the fund only if its USD
    covers it; this fund has 100, so the venue's fees kept pay; the account's 175 goes to the fund."""
    v, mm, a = synth_long_world({"collateral_oracle": "redemption"}, 0.5, 0.6)
    fees0 = v.ch.fees_kept[0]
    v.run_liquidations()
    syn = v.asset_index["SYNTH"]
    assert v.ch.bal[a].tolist() == [0.0] * len(v.assets)
    assert v.ch.insurance[0] == pytest.approx(275.0) and v.ch.insurance[syn] == 0.0
    assert fees0 - v.ch.fees_kept[0] == pytest.approx(2_850.0) and v.ch.fees_kept[syn] == pytest.approx(3_000.0)
    assert rows(v, ev.INSURANCE)["aux"].tolist() == pytest.approx([175.0])
    v.check_invariants()


@pytest.mark.slow
def test_whole_model_with_a_small_fund_keeps_it_non_negative_and_the_book_stage_working():
    """Issue 20.3 at a small scale: binance with a 1,000 USD fund. Before R4 the fund took remainders' negative
    USD and fell to -3,601; its cover turned negative, the book stage's limit went above the bankruptcy price,
    and after the shock the book closed 1.44M against 0.52M by ADL (with the fix: 1.95M and 0.02M)."""
    from model import CascadeModel, compute_metrics
    from worlds import unit_world

    steps = 400
    venues = {"binance": {"preset": "binance_like", "overrides": {"insurance_fund_usd": 1_000.0}},
              "hyperliquid": {"preset": "hyperliquid_like"}, "lighter": {"preset": "lighter_like"}}
    m = CascadeModel(unit_world(seed=0, steps=steps, n_directional=1500, n_farmers=100, venues=venues))
    v = m.venues["binance"]
    for t in range(steps):
        m.step()
        assert min(v.ch.insurance) >= 0.0, f"minute {t + 1}: fund {v.ch.insurance}"
    c = v.events.columns()
    after = (c["kind"] == ev.LIQUIDATION) & (c["step"] > 199)       # the shock starts at minute 180
    book = float(c["notional"][after & (c["info"] == 1)].sum())
    adl = float(c["notional"][after & (c["info"] == 3)].sum())
    assert book > 0 and adl <= 0.1 * (book + adl), (book, adl)       # the fund, not ADL, takes the gaps (2b, 2d)
    # the fund's value: its USD and what else it holds at the collateral oracle (here synthetic dollars)
    met = compute_metrics(m, 0.0)["venues"]["binance"]
    syn = v.asset_index["SYNTH"]
    assert met["insurance_fund_end_cash_usd"] == v.ch.insurance[0]
    value = v.ch.insurance[0] + v.ch.insurance[syn] * v.ch.asset_value[syn]
    assert met["insurance_fund_end_usd"] == pytest.approx(value)
