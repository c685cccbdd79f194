"""Agents' act methods against a small fake venue and a bare Mesa model: what they send, and when."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import mesa
import numpy as np
import pytest

from agents.directional import DirectionalParams, DirectionalTrader
from agents.farmer import Farmer, FarmerParams, Incentives
from venues.orderbook import BUY, SELL
from venues.venue import OrderResult


@dataclass
class FakeVenue:
    """The public surface agents use, with fills at the mark and a record of every order."""

    mark: float = 100.0
    lot: float = 1.0
    cap: float = 20.0
    withdraw_ok: float = 1e12
    orders: list = field(default_factory=list)
    positions: dict = field(default_factory=dict)
    deposits: list = field(default_factory=list)
    withdrawals: list = field(default_factory=list)
    params: SimpleNamespace = field(default_factory=lambda: SimpleNamespace(synthetic_collateral=False,
                                                                             funding_interval_hours=1.0))
    fee_taker: float = 0.0
    last_funding_rate: np.ndarray = field(default_factory=lambda: np.zeros(1))
    n: int = 0

    def market_index(self, market):
        return 0

    def open_account(self, isolated=False):
        self.n += 1
        return self.n - 1

    def deposit(self, account, amount, asset="USD"):
        self.deposits.append((account, amount, asset))

    def withdraw(self, account, amount, asset="USD"):
        self.withdrawals.append((account, amount))
        return True

    def withdrawable(self, account):
        return self.withdraw_ok

    def set_leverage(self, account, market, lev):
        return lev <= self.cap

    def max_leverage(self, market, notional=0.0):
        return self.cap

    def position(self, account, market):
        return self.positions.get(account, 0)

    def mark_price(self, market):
        return self.mark

    def lot_size(self, market):
        return self.lot

    def margin(self, account):
        return self.positions.get(("eq", account), (1e9, 1.0))

    def submit_order(self, account, market, side, lots, price=None, kind="market", reduce_only=False):
        self.orders.append((account, side, lots, reduce_only))
        self.positions[account] = self.positions.get(account, 0) + side * lots
        return OrderResult("filled", filled_lots=lots, avg_price=self.mark)


class FakeModel(mesa.Model):
    def __init__(self, venues: dict, mids: np.ndarray):
        super().__init__(rng=0)
        self.cfg = SimpleNamespace(seed=0, directional=DirectionalParams(signal_minutes=3, stop_loss_pct=5.0,
                                                                         take_profit_pct=10.0),
                                   farmers=FarmerParams(alert_margin_ratio=1.5), point_value_usd=0.02,
                                   transfer_delay_minutes=30.0,
                                   incentives={"a": Incentives(1e-3, 1e-3)})
        self.venues = venues
        self.venue_names = list(venues)
        self.mids = mids
        self.stops = {}
        self.reference = {"BTC": 100.0}
        self.transfers = []

    def mid_history(self, venue, k, n):
        return self.mids[-(n + 1):]

    def set_stops(self, k, side, sl, tp):
        self.stops[k] = (side, sl, tp)

    def pair_yields(self, market, hold_days):
        return np.array([[0.0, 0.01], [-0.01, 0.0]])   # long on a, short on b pays

    def register_farmer(self, f):
        self.registered = f

    def transfer(self, agent, src, src_acct, dst, dst_acct, usd):
        self.transfers.append((src, dst, usd))
        return True

    def transfer_pending(self, agent, dst):
        return False


def test_momentum_trader_buys_a_rising_market_with_its_stops():
    v = FakeVenue(mark=100.0, lot=1.0, cap=20.0)
    model = FakeModel({"v": v}, np.array([98.0, 99.0, 100.0, 101.0]))
    t = DirectionalTrader(model, 0, "v", "BTC", capital=1_000.0, leverage=5.0, momentum=True)
    t.act()
    assert v.orders == [(0, BUY, 45, False)]          # 1,000 x 0.9 x 5 / 100 = 45 lots
    assert model.stops[0] == (BUY, pytest.approx(95.0), pytest.approx(110.0))
    t.act()                                            # already in a position: no new order
    assert len(v.orders) == 1
    t.exit()
    assert v.orders[-1] == (0, SELL, 45, True) and v.position(0, 0) == 0


def test_contrarian_sells_a_rising_market_and_leverage_is_capped():
    v = FakeVenue(mark=100.0, cap=3.0)
    model = FakeModel({"v": v}, np.array([98.0, 99.0, 100.0, 101.0]))
    t = DirectionalTrader(model, 0, "v", "BTC", capital=1_000.0, leverage=50.0, momentum=False)
    assert t.leverage == 3.0
    t.act()
    assert v.orders == [(0, SELL, 27, False)]


def test_farmer_enters_the_paying_pair_and_moves_collateral_on_an_alert():
    a, b = FakeVenue(), FakeVenue()
    model = FakeModel({"a": a, "b": b}, np.array([100.0]))
    f = Farmer(model, 0, capital=20_000.0, leverage=5.0, hurdle_daily=0.01)
    f.consider_entry()
    assert f.state == "hedged" and f.long_venue == "a" and f.short_venue == "b"
    assert a.orders[0][1] == BUY and b.orders[0][1] == SELL and a.orders[0][2] == b.orders[0][2] == 450
    # the long leg near maintenance, the short rich: collateral moves from b to a
    a.positions[("eq", f.legs["a"])] = (1_000.0, 900.0)
    b.positions[("eq", f.legs["b"])] = (19_000.0, 900.0)
    f.rebalance()
    assert model.transfers and model.transfers[0][:2] == ("b", "a")
    assert model.transfers[0][2] == pytest.approx(2 * 1.5 * 900.0 - 1_000.0)


def test_farmer_closes_the_naked_leg_after_a_broken_hedge():
    a, b = FakeVenue(), FakeVenue()
    model = FakeModel({"a": a, "b": b}, np.array([100.0]))
    f = Farmer(model, 0, capital=20_000.0, leverage=5.0, hurdle_daily=0.01)
    f.consider_entry()
    a.positions[f.legs["a"]] = 0                      # the long leg was liquidated
    f.on_broken(5)
    assert f.state == "broken" and f.naked_notional() == pytest.approx(450 * 100.0)
    f.react()
    assert b.orders[-1] == (f.legs["b"], BUY, 450, True) and f.state == "closed"


def test_market_maker_quotes_a_ladder_then_withdraws_on_volatility():
    """Against a real, small venue (the maker needs books): ten levels a side, then nothing past the threshold."""
    from agents.market_maker import MarketMaker
    from venues.presets import load_preset
    from venues.venue import Venue

    v = Venue("x", load_preset("hyperliquid_like"), {"BTC": 100_000.0, "ALT": 10.0}, capacity=16)
    model = FakeModel({"x": v}, np.array([100_000.0] * 20))
    model.cfg.mm_capital_usd = 50_000_000.0
    model.cfg.mm_depth_usd = {"BTC": 1_000_000.0, "ALT": 100_000.0}
    model.cfg.mm_withdraw_threshold = 5.0
    model.cfg.mm_return_minutes = 30
    model.cfg.mm_synth_depth_usd = 0.0
    model.cfg.initial_prices = {"BTC": 100_000.0, "ALT": 10.0}
    model.reference = {"BTC": 100_000.0, "ALT": 10.0}
    model.steps = 20
    mm = MarketMaker(model, 0, "x")
    mm.requote(20)
    snap = v.books[0].snapshot(20)
    assert len(snap["bids"]) == 10 and len(snap["asks"]) == 10
    assert snap["bids"][0][0] < 1_000_000 < snap["asks"][0][0]          # around 100,000 USD in 0.1 ticks
    # one-minute moves of 1% (100 bps, 10 x calm) in the venue's mids: the maker pulls all its quotes
    model.mids = 100_000.0 * np.exp(np.cumsum(np.tile([0.01, -0.01], 10)))
    model.mid_history = lambda venue, k, n: model.mids[-(n + 1):]
    mm.requote(21)
    assert mm.withdrawals == [21] and v.books[0].orders_of(mm.account) == []
    mm.requote(30)                                                      # still away until minute 51
    assert v.books[0].orders_of(mm.account) == []
