"""Agents' act methods against a small fake venue and a bare Mesa model: what they send, and when."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import mesa
import numpy as np
import pytest

from agents.directional import DirectionalParams, DirectionalPopulation, DirectionalTrader
from agents.farmer import Farmer, FarmerParams, Incentives
from venues.orderbook import BUY, SELL
from venues.venue import OrderResult
from worlds import plain


class FakeBook:
    """A book with something on both sides (exits are not sent into an empty side)."""

    def best_bid(self):
        return 1

    def best_ask(self):
        return 1


@dataclass
class FakeVenue:
    """The public surface agents use, with fills at the mark and a record of every order."""

    halted: bool = False
    books: list = field(default_factory=lambda: [FakeBook()])
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
        self.cfg = SimpleNamespace(seed=0, directional=plain(DirectionalParams, signal_minutes=3, stop_loss_pct=5.0,
                                                                          take_profit_pct=10.0),
                                   farmers=plain(FarmerParams, alert_margin_ratio=1.5), point_value_usd=0.02,
                                   transfer_delay_minutes=30.0,
                                   incentives={"a": Incentives(1e-3, 1e-3)})
        self.venues = venues
        self.venue_names = list(venues)
        self.mids = mids
        self.stops = {}
        self.armed = []
        self.reference = {"BTC": 100.0}
        self.transfers = []

    def mid_history(self, venue, k, n):
        return self.mids[-(n + 1):]

    def set_stops(self, k, side, sl, tp):
        self.stops[k] = (side, sl, tp)

    def arm_exit(self, k):
        self.armed.append(k)

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
    pop = DirectionalPopulation(model, [t], first=[0.0])
    pop.decide(np.array([0]))
    assert v.orders == [(0, BUY, 45, False)]          # 1,000 x 0.9 x 5 / 100 = 45 lots
    assert model.stops[0] == (BUY, pytest.approx(95.0), pytest.approx(110.0))
    pop.decide(np.array([0]))                          # already in a position: no new order
    assert len(v.orders) == 1
    t.exit()
    assert v.orders[-1] == (0, SELL, 45, True) and v.position(0, 0) == 0


def test_contrarian_sells_a_rising_market_and_leverage_is_capped():
    v = FakeVenue(mark=100.0, cap=3.0)
    model = FakeModel({"v": v}, np.array([98.0, 99.0, 100.0, 101.0]))
    t = DirectionalTrader(model, 0, "v", "BTC", capital=1_000.0, leverage=50.0, momentum=False)
    assert t.leverage == 3.0
    DirectionalPopulation(model, [t], first=[0.0]).decide(np.array([0]))
    assert v.orders == [(0, SELL, 27, False)]


def test_the_population_acts_on_those_due_in_the_order_they_fell_due_and_redraws_their_waits():
    v = FakeVenue(mark=100.0, lot=1.0, cap=20.0)
    model = FakeModel({"v": v}, np.array([98.0, 99.0, 100.0, 101.0]))
    ts = [DirectionalTrader(model, k, "v", "BTC", capital=1_000.0 * (k + 1), leverage=5.0, momentum=True)
          for k in range(4)]
    v.positions.clear()
    pop = DirectionalPopulation(model, ts, first=[0.9, 0.3, 5.0, 0.6])
    model.time = 1.0
    pop.act()
    assert [o[2] for o in v.orders] == [90, 180, 45]   # traders 1, 3, 0 (by due time); 2 is not due yet
    assert pop.next_at[2] == 5.0 and (pop.next_at[[0, 1, 3]] >= 1.5).all()


def test_a_flat_signal_takes_the_traders_own_coin_and_a_holder_without_stops_arms_its_exit():
    from agents.base import stream
    v = FakeVenue(mark=100.0, lot=1.0, cap=20.0)
    model = FakeModel({"v": v}, np.array([100.0, 100.0, 100.0, 100.0]))   # no move: no signal
    ts = [DirectionalTrader(model, k, "v", "BTC", capital=1_000.0, leverage=5.0, momentum=bool(k % 2),
                            uses_stops=False) for k in range(6)]
    v.positions.clear()
    pop = DirectionalPopulation(model, ts, first=[0.0] * 6)
    pop.decide(np.arange(6))
    # each side is its own stream's first draw (settled rule 10), whatever the others drew
    want = [BUY if stream(0, "agent", "directional", k).random() < 0.5 else SELL for k in range(6)]
    assert [side for _, side, _, _ in v.orders] == want and model.stops == {}   # no stops: none set
    v.positions[ts[2].account] = 45                    # trader 2 holds a position, without stops
    n = len(v.orders)
    pop.decide(np.array([2]))
    assert model.armed == [2] and len(v.orders) == n   # its horizon has come: the exit is armed, no new entry


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
    from agents.market_maker import MakerParams, MarketMaker
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
    model.cfg.vol_daily = {"BTC": 0.03, "ALT": 0.06}
    model.cfg.makers = plain(MakerParams)            # fair value = the venue's index as of the previous minute
    model.cfg.venue_scale = {}
    model.ts_close = np.full((64, 1, 2), np.nan)
    model.ts_mid = np.full((64, 1, 2), np.nan)
    model.steps = 20
    mm = MarketMaker(model, 0, "x")
    mm.requote(20)
    snap = v.books[0].snapshot(20)
    assert len(snap["bids"]) == 10 and len(snap["asks"]) == 10
    assert snap["bids"][0][0] < 1_000_000 < snap["asks"][0][0]          # around 100,000 USD in 0.1 ticks
    # the index it observes swings 1% a minute (about 12 x calm volatility): the maker pulls all its quotes
    for t in range(21, 26):
        v.index = v.index * np.array([1.01 if t % 2 else 0.99, 1.0])
        model.steps = t
        mm.requote(t)
    assert mm.withdrawals == [22] and v.books[0].orders_of(mm.account) == []   # three prices: 2 swings
    mm.requote(30)                                                      # still away until minute 52
    assert v.books[0].orders_of(mm.account) == []


def _arb_model(venue, depth_usd: float = 1e15):
    """A model whose outside market has `depth_usd` a log unit (settled rule 4's impact rule), deep by default."""
    from agents.arbitrageur import ArbParams
    model = FakeModel({"x": venue}, np.array([100_000.0] * 5))
    model.cfg.outside_depth_usd = {"BTC": depth_usd, "ALT": depth_usd}
    model.reference = {"BTC": 100_000.0, "ALT": 10.0}   # the venue's prices: the outside market trades there
    model.flows = []
    model.outside_flow = lambda asset, usd: model.flows.append((asset, usd))
    model.outside_price = lambda asset: model.reference[asset] * math.exp(
        sum(u for a, u in model.flows if a == asset) / depth_usd)
    model.redeemed = []
    model.redeem = lambda agent, name, acct, qty: (model.redeemed.append((name, acct, qty)),
                                                   venue.withdraw(acct, qty, asset="SYNTH"))[1]
    return model, plain(ArbParams, capital_usd=2_000_000.0, clip_usd=200_000.0, max_position_usd=1_000_000.0)


def test_arbitrageur_buys_a_cheap_perp_hedges_outside_and_unwinds_when_the_gap_closes():
    """A perp ask 50 bps under the index (band: taker fee + 5 bps outside fee + 10 bps threshold): the
    arbitrageur lifts it up to its clip, sells the same notional outside, and sells back once the gap is shut."""
    from agents.arbitrageur import Arbitrageur
    from venues.presets import load_preset
    from venues.venue import Venue

    v = Venue("x", load_preset("hyperliquid_like"), {"BTC": 100_000.0, "ALT": 10.0}, capacity=16)
    maker = v.open_account()
    v.deposit(maker, 10_000_000.0)
    v.set_leverage(maker, 0, 10.0)
    v.submit_order(maker, 0, SELL, 5_000, 99_500.0, kind="limit", post_only=True)   # 5 BTC at 99,500
    model, p = _arb_model(v)
    arb = Arbitrageur(model, 0, p)
    acct = arb.accounts["x"]
    arb.act()
    lots = v.position(acct, 0)
    assert lots == int(200_000.0 / (99_500.0 * v.lot_size(0)))        # the clip: 2.01 BTC -> 2,010 lots
    assert model.flows == [("BTC", pytest.approx(-lots * v.lot_size(0) * 100_000.0))]
    # the gap closes (the maker's ask now sits at the index): the arbitrageur unwinds reduce-only
    v.cancel_all(maker)
    v.submit_order(maker, 0, SELL, 5_000, 100_010.0, kind="limit", post_only=True)
    v.submit_order(maker, 0, BUY, 5_000, 99_990.0, kind="limit", post_only=True)
    arb.act()
    assert v.position(acct, 0) == lots - 2_000                          # one clip (200,000 USD at 100,000)
    arb.act()
    assert v.position(acct, 0) == 0
    assert model.flows[-1][1] > 0                                         # bought back the outside hedge


def test_arbitrageur_hedges_only_what_the_outside_market_can_take():
    """Finite outside depth (rule 4): a hedge may move the outside price at most half the way to the perp's price
    less the band, from where the price stands after this minute's flow. Two arbitrageurs on one 50 bp gap: the
    first hedges depth x 0.5 x (gap - band); the second sees the price it moved and hedges half of what is left,
    so together they never push the outside reference past the perp (the overshoot that made calm prices
    oscillate minute to minute)."""
    from agents.arbitrageur import Arbitrageur, hedge_cap_usd
    from venues.presets import load_preset
    from venues.venue import Venue

    v = Venue("x", load_preset("hyperliquid_like"), {"BTC": 100_000.0, "ALT": 10.0}, capacity=16)
    maker = v.open_account()
    v.deposit(maker, 10_000_000.0)
    v.set_leverage(maker, 0, 10.0)
    v.submit_order(maker, 0, SELL, 50_000, 99_500.0, kind="limit", post_only=True)   # 50 BTC at 99,500
    depth = 50_000_000.0
    model, p = _arb_model(v, depth_usd=depth)
    band = v.fee_taker + (p.outside_fee_bps + p.threshold_bps) * 1e-4
    excess = math.log(100_000.0 / 99_500.0) - math.log1p(band)
    assert excess > 0
    first = depth * 0.5 * excess                                         # well under the 200,000 USD clip
    assert first < p.clip_usd
    a1, a2 = Arbitrageur(model, 0, p), Arbitrageur(model, 1, p)
    a1.act()
    lots1 = v.position(a1.accounts["x"], 0)
    assert lots1 == int(first / (99_500.0 * v.lot_size(0)))
    moved = model.outside_price("BTC")
    assert moved < 100_000.0                                             # its hedge sold outside
    a2.act()
    lots2 = v.position(a2.accounts["x"], 0)
    second = hedge_cap_usd(99_500.0, moved, band, depth, 0.5)
    assert lots2 == int(second / (99_500.0 * v.lot_size(0))) and 0 < lots2 < lots1
    assert model.outside_price("BTC") > 99_500.0 * (1 + band)           # the outside price stays above the perp
    assert lots1 < int(p.clip_usd / (99_500.0 * v.lot_size(0)))         # not the full clip


def test_arbitrageur_leaves_a_gap_inside_the_band_alone():
    from agents.arbitrageur import Arbitrageur
    from venues.presets import load_preset
    from venues.venue import Venue

    v = Venue("x", load_preset("hyperliquid_like"), {"BTC": 100_000.0, "ALT": 10.0}, capacity=16)
    maker = v.open_account()
    v.deposit(maker, 10_000_000.0)
    v.set_leverage(maker, 0, 10.0)
    v.submit_order(maker, 0, SELL, 5_000, 99_900.0, kind="limit", post_only=True)   # 10 bps: inside the band
    model, p = _arb_model(v)
    arb = Arbitrageur(model, 0, p)
    arb.act()
    assert v.position(arb.accounts["x"], 0) == 0 and model.flows == []


def test_arbitrageur_bids_a_ladder_under_the_peg_and_redeems_what_it_bought():
    """On a venue with a synthetic-dollar spot book: bids at 0.995, 0.99, 0.98, ... (peg_ladder); a seller
    hits them; the next minute the arbitrageur sends what it bought to redemption and bids again."""
    from agents.arbitrageur import Arbitrageur, peg_ladder
    from venues.presets import load_preset
    from venues.venue import Venue

    assert [round(px, 4) for px, _ in peg_ladder(700.0, 0.005, 7)] == [0.995, 0.99, 0.98, 0.96, 0.92, 0.84, 0.68]
    assert peg_ladder(0.0, 0.005, 7) == [] and len(peg_ladder(1.0, 0.3, 7)) == 2   # no bid at or below zero
    v = Venue("x", load_preset("binance_like"), {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0}, capacity=16)
    model, p = _arb_model(v)
    arb = Arbitrageur(model, 0, p)
    acct = arb.accounts["x"]
    arb.act()
    book = v.spot_books[v.spot_index("SYNTH")]
    bids = book.snapshot(10)["bids"]
    assert [round(px * book.tick_size, 4) for px, _ in bids] == [0.995, 0.99, 0.98, 0.96, 0.92, 0.84, 0.68]
    seller = v.open_account()
    v.deposit(seller, 500_000.0, asset="SYNTH")
    r = v.submit_spot_order(seller, v.spot_index("SYNTH"), SELL, int(300_000 / book.lot_size), 0.5, kind="ioc")
    assert r.filled_lots > 0 and r.avg_price < 0.995                      # walked past the first level
    bought = v.balance(acct, "SYNTH")
    assert bought == pytest.approx(r.filled_lots * book.lot_size)
    arb.act()
    assert model.redeemed == [("x", acct, pytest.approx(bought))] and v.balance(acct, "SYNTH") == 0.0


def test_synthetic_dollar_holders_sell_or_redeem_on_a_depeg():
    from agents.directional import synth_exit

    p = plain(DirectionalParams, synth_exit_depeg=0.01)
    assert synth_exit(0.995, True, p) is None and synth_exit(None, True, p) is None
    assert synth_exit(0.98, True, p) == "sell" and synth_exit(0.98, False, p) == "redeem"


def test_a_holder_redeems_without_a_position_and_sells_with_one():
    from venues.presets import load_preset
    from venues.venue import Venue

    v = Venue("x", load_preset("binance_like"), {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0}, capacity=16)
    model, _ = _arb_model(v)
    s = v.spot_index("SYNTH")
    book = v.spot_books[s]
    bidder = v.open_account()
    v.deposit(bidder, 1_000_000.0)
    v.submit_spot_order(bidder, s, BUY, int(100_000 / book.lot_size), 0.97, kind="limit")   # the mid: 0.97 bid...
    v.submit_spot_order(bidder, s, BUY, int(100_000 / book.lot_size), 0.80, kind="limit")
    model.cfg.directional = plain(DirectionalParams, synth_exit_depeg=0.01, synth_sell_floor=0.9)
    idle = DirectionalTrader(model, 0, "x", "BTC", capital=10_000.0, leverage=5.0, momentum=True,
                             synth_collateral=True)
    assert idle.synth and v.balance(idle.account, "SYNTH") == 10_000.0
    idle.on_depeg()                                     # ...and no ask, no trade yet: no price, nothing done
    assert model.redeemed == []
    seller = v.open_account()
    v.deposit(seller, 5_000.0, asset="SYNTH")
    v.submit_spot_order(seller, s, SELL, int(1_000 / book.lot_size), 0.97, kind="ioc")   # a trade at 0.97
    model.redeemed.clear()
    idle.on_depeg()
    assert model.redeemed == [("x", idle.account, 10_000.0)]
    busy = DirectionalTrader(model, 1, "x", "BTC", capital=10_000.0, leverage=5.0, momentum=True,
                             synth_collateral=True)
    maker = v.open_account()
    v.deposit(maker, 10_000_000.0)
    v.set_leverage(maker, 0, 10.0)
    v.submit_order(maker, 0, SELL, 100, 100_010.0, kind="limit", post_only=True)
    v.submit_order(busy.account, 0, BUY, 100, kind="market")
    assert v.position(busy.account, 0) == 100
    busy.on_depeg()                                     # has a position: swaps its dollars down to its floor 0.9
    assert v.balance(busy.account, "SYNTH") == 0.0 and model.redeemed == [("x", idle.account, 10_000.0)]
    assert v.balance(bidder, "SYNTH") == pytest.approx(1_000.0 + 10_000.0)   # all of it at the 0.97 bid
