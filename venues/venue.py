"""A venue: its order books, its clearinghouse, its prices and funding, its event log.

Each venue is its own clearinghouse: nothing on one venue covers a loss on another. Agents change a venue's
state only through its public methods (open an account, deposit, withdraw, submit and cancel orders); they read
their accounts through them too, except where a population reads many at once, read only: the clearinghouse's
`ch.lots`, `ch.mark` / `ch.mark_list`, `ch.lot_size`, `ch.isolated`, `ch.unit_equity` and the margin pass
`ch.account_margins_of` (directional traders, the farmers' watch, far liquidity, the makers' kernels), and for the
compiled batches also `ch.bal`, `ch.qty`, `ch.entry`, `ch.leverage`, `ch.open_buy` / `ch.open_sell`,
`ch.weight_array` and `v.spot_locked`; the makers' compiled requotes record their refusals with `log_reject`.
The model calls `update_prices` and `settle_funding` once a step and `check_invariants` when it wants the identity
of settled rule 1 enforced.

`Venue` is built here from its parts, each in a module named for what it holds: venues/accounts.py (accounts,
deposits, withdrawals, what an agent may read, margin helpers), venues/orders.py (perp and spot orders, ladders,
cancels, fill settlement), venues/pricing.py (index, mark, premium, funding, collateral values, halts). This
module keeps the construction, the waterfall's entry points, detection, snapshots and the invariants.
"""

from __future__ import annotations

import math

import numpy as np

from . import events as ev
from .accounts import Accounts
from .clearinghouse import Clearinghouse, Scan, TierTable
from .orderbook import BUY, SELL
from .orderbook_nb import OrderBookNB
from .orders import OrderResult, Orders
from .params import SYNTH, USD, VenueParams
from .pricing import STEP_MINUTES, Pricing
from .waterfall import Waterfall

OrderBook = OrderBookNB
"""The class a venue builds its books with: the numba book (venues/orderbook_nb.py, the same API and results as
the Python `venues.orderbook.OrderBook`, its readable reference; tests/test_orderbook_nb.py checks the two against
each other and tests swap the Python one in by patching this name)."""

__all__ = ["STEP_MINUTES", "InvariantError", "OrderResult", "Venue"]


class InvariantError(AssertionError):
    """Settled rule 1 (or balanced open interest) broke; the message names venue, step, asset and size."""


class Venue(Accounts, Orders, Pricing):
    """One exchange. `initial_prices` maps each perp and spot asset to its starting USD price."""

    def __init__(self, name: str, params: VenueParams, initial_prices: dict[str, float], venue_id: int = 0,
                 capacity: int = 1024):
        self.name = name
        self.params = p = params
        self.venue_id = venue_id
        self.step = 0
        self.halted = False
        self.redemption_works = True  # the synthetic dollar redeems at 1.00 while this holds
        self.perp_names = list(p.perps)
        self.M = len(self.perp_names)
        self.volume_usd = np.zeros(self.M)   # running traded notional per perp market (one count per trade)
        self.spot_names = list(p.spots)
        # assets: USD, then each spot base (BTC, ALT, SYNTH, ...) in spot order, SYNTH if accepted as collateral
        assets = [USD]
        for s in p.spots.values():
            if s.base not in assets:
                assets.append(s.base)
        if p.synthetic_collateral and SYNTH not in assets:
            assets.append(SYNTH)
        self.assets = assets
        self.asset_index = {a: k for k, a in enumerate(assets)}
        tiers = [TierTable(p.perps[m].tiers, p.max_leverage) for m in self.perp_names]
        self.ch = Clearinghouse([(m, p.perps[m].lot_size, t) for m, t in zip(self.perp_names, tiers)], assets,
                                capacity)
        self.books = [OrderBook(p.perps[m].tick_size, p.perps[m].lot_size, f"{name}:{m}-PERP")
                      for m in self.perp_names]
        self.spot_books = [OrderBook(s.tick_size, s.lot_size, f"{name}:{k}/USD") for k, s in p.spots.items()]
        self.spot_base = [self.asset_index[s.base] for s in p.spots.values()]
        # spot reservations: base lots offered and USD committed by resting spot orders
        self._spot_locked = np.zeros((capacity, len(assets)))
        self.events = ev.EventLog(venue_id)
        # prices
        for a in self.perp_names:
            if a not in initial_prices:
                raise ValueError(f"venue {name}: no initial price for {a}")
        self.index = np.array([float(initial_prices[m]) for m in self.perp_names])
        self.ch.mark = self.index.copy()
        self.mid = self.index.copy()
        self.prev_mid = self.index.copy()
        self.prev_mark = self.index.copy()
        self.basis_hist = np.zeros((max(1, int(round(p.basis_ma_minutes / STEP_MINUTES))), self.M))
        self._n_price_updates = 0
        # the mark terms that do not come from this venue's book, kept for the re-mark between waterfall rounds
        self._mark_terms: list[tuple] = [(x, x) if p.mark_rule == "binance_like" else (x, math.nan)
                                         for x in self.index.tolist()]
        self.premium_ema = np.zeros(self.M)
        self.premium_sum = np.zeros(self.M)
        self.premium_n = 0
        self.last_funding_rate = np.zeros(self.M)   # per interval
        self.interval_steps = max(1, int(round(p.funding_interval_hours * 60 / STEP_MINUTES)))
        self.spot_ref = {s.base: float(initial_prices.get(s.base, 1.0)) for s in p.spots.values()}
        self._update_asset_values()
        self.fee_maker = p.maker_fee_bps * 1e-4
        self.fee_taker = p.taker_fee_bps * 1e-4
        self._default_lev = np.array([min(p.default_leverage, t.max_leverage[0]) for t in tiers])
        # the insurance fund's starting capital is a deposit (settled rule 1)
        self.fund_present = p.insurance_fund_usd > 0
        if self.fund_present:
            self.ch.insurance[0] = p.insurance_fund_usd
            self.ch.deposits[0] += p.insurance_fund_usd
        # the backstop vault is an account like any other: account 0, its capital a deposit (settled rule 1)
        self.vault: int | None = None
        if p.backstop_vault_usd > 0:
            self.vault = self.open_account()
            self.deposit(self.vault, p.backstop_vault_usd)
        self.waterfall = Waterfall(self)

    def set_step(self, step: int) -> None:
        """The model's clock (one step is one minute); stamps events and times funding."""
        self.step = step
        self.events.step = step

    # ================================================================== the waterfall
    def run_liquidations(self) -> int:
        """This step's liquidation waterfall (settled rule 2; SPEC section 8). Returns units processed."""
        return self.waterfall.run()

    def unwind_vault(self) -> None:
        """The backstop vault offers part of what it holds by resting limit orders near the mid (SR 2c)."""
        if self.vault is None or self.halted:
            return
        V = self.vault
        pct = self.params.vault_unwind_pct_per_step / 100.0
        for k in range(self.M):
            lots = int(self.ch.lots[V, k])
            if lots == 0:
                continue
            self.cancel_all(V, k)
            n = min(abs(lots), max(1, int(math.floor(abs(lots) * pct))))
            book = self.books[k]
            mark_ticks = book.to_ticks(self.ch.mark_list[k])
            bb, ba = book.best_bid(), book.best_ask()
            bb = mark_ticks if bb is None else bb   # a missing side: the mark's ticks
            ba = mark_ticks if ba is None else ba
            mid = 0.5 * (bb + ba)
            if lots > 0:
                px = max(math.ceil(mid), bb + 1)
                self.submit_order(V, k, SELL, n, px * book.tick_size, kind="limit", reduce_only=True)
            else:
                px = min(math.floor(mid), ba - 1)
                self.submit_order(V, k, BUY, n, px * book.tick_size, kind="limit", reduce_only=True)

    def snapshot(self) -> dict:
        """The whole state as plain data (for the differential test and for debugging)."""
        ch = self.ch
        n = ch.n
        cols = self.events.columns()
        names = ("step", "venue", "market", "account", "kind", "side", "lots", "price", "notional", "fee", "info", "aux")
        rows = list(zip(*(cols[c].tolist() for c in names))) if self.events.n else []
        return {
            "assets": list(self.assets),
            "bal": ch.bal[:n].tolist(), "lots": ch.lots[:n].tolist(), "entry": ch.entry[:n].tolist(),
            "iso_margin": ch.iso_margin[:n].tolist(), "leverage": ch.leverage[:n].tolist(),
            "open_buy": ch.open_buy[:n].tolist(), "open_sell": ch.open_sell[:n].tolist(),
            "insurance": list(ch.insurance), "fees_kept": list(ch.fees_kept), "bad_debt": list(ch.bad_debt),
            "deposits": list(ch.deposits), "withdrawals": list(ch.withdrawals),
            "mark": ch.mark.tolist(), "index": self.index.tolist(), "events": rows,
        }

    def insurance_fund_value(self) -> tuple[float, float]:
        """The insurance fund's (USD, value of its other holdings): the synthetic dollar and spot assets the
        fund took (SPEC 8.4 step 2, 8.7 step 2) at the collateral oracle's value, before haircut (SPEC 2)."""
        ch = self.ch
        other = sum(float(ch.insurance[a]) * float(ch.asset_value[a]) for a in range(1, ch.A))
        return float(ch.insurance[0]), other

    # ================================================================== liquidation detection
    def scan(self) -> Scan:
        """Every account (cross) or position (isolated) below maintenance margin, ascending margin ratio."""
        return self.ch.scan()

    def bankruptcy_prices(self, fee_rate: float = 0.0) -> np.ndarray:
        return self.ch.bankruptcy_prices(fee_rate)

    def liquidation_prices(self) -> np.ndarray:
        return self.ch.liquidation_prices()

    # ================================================================== invariants
    def check_invariants(self, rel_tol: float = 1e-9) -> float:
        """Settled rule 1 per asset and balanced open interest per market. Raises InvariantError naming the
        venue, step, asset and size of the break; returns the largest relative gap seen."""
        ch = self.ch
        gap = ch.identity_gap()
        # |gap| / max(deposits, 1) per asset, in plain floats (the same operations as the arrays')
        rel = [abs(g) / max(d, 1.0) for g, d in zip(gap.tolist(), ch.deposits)]
        if not all(r <= rel_tol for r in rel):   # also catches nan; the loop names the first asset
            for k, a in enumerate(self.assets):
                if not rel[k] <= rel_tol:
                    raise InvariantError(f"venue {self.name} step {self.step}: accounting identity broken for {a} "
                                         f"by {gap[k]:.6g} ({rel[k]:.3g} of gross deposits {ch.deposits[k]:.6g})")
        for k, a in enumerate(self.assets):   # the fund pays only what it has (SR 2d; SPEC 10 [R4])
            if not ch.insurance[k] >= 0.0:
                raise InvariantError(f"venue {self.name} step {self.step}: insurance fund holds {ch.insurance[k]:.6g} "
                                     f"{a}, below zero")
        long, short = ch.open_interest_lots()   # integer lots: exact
        if long != short or long != list(ch.oi_long_lots) or short != list(ch.oi_short_lots):
            for m in range(self.M):
                if long[m] != short[m] or long[m] != ch.oi_long_lots[m] or short[m] != ch.oi_short_lots[m]:
                    raise InvariantError(f"venue {self.name} step {self.step}: open interest unbalanced in "
                                         f"{self.perp_names[m]}: long {long[m]} lots, short {short[m]} lots")
        return float(max(rel))
