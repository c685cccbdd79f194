"""A venue: its order books, its clearinghouse, its prices and funding, its event log.

Each venue is its own clearinghouse: nothing on one venue covers a loss on another. Agents talk to a venue
only through the public methods here (open an account, deposit, withdraw, submit and cancel orders, read
the account). The model calls `update_prices` and `settle_funding` once a step and `check_invariants`
when it wants the identity of settled rule 1 enforced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import events as ev
from .clearinghouse import Clearinghouse, Scan, TierTable
from .orderbook import BUY, SELL, Fills, OrderBook
from .params import SYNTH, USD, VenueParams
from .prices import funding_rate, median_of, weighted_median
from .waterfall import Waterfall

STEP_MINUTES = 1.0  # one step is one minute (settled rule 4)


class InvariantError(AssertionError):
    """Settled rule 1 (or balanced open interest) broke; the message names venue, step, asset and size."""


@dataclass(slots=True)
class OrderResult:
    """What became of an order."""

    status: str                 # "filled", "partial", "resting", "rejected", "cancelled" (IOC rest)
    reason: str = ""            # rejection reason (events.REJECT_REASONS)
    order_id: int | None = None  # id of the resting part, if any
    filled_lots: int = 0
    avg_price: float = math.nan
    unfilled_lots: int = 0

    @property
    def ok(self) -> bool:
        return self.status != "rejected"


class Venue:
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

    def set_halted(self, halted: bool) -> None:
        """Open or close the venue's halt window (settled rule 8): no orders, no matching, no funding, no
        liquidations, a frozen mark; at reopening the caller updates prices, then runs the waterfall."""
        self.halted = bool(halted)

    def set_step(self, step: int) -> None:
        """The model's clock (one step is one minute); stamps events and times funding."""
        self.step = step
        self.events.step = step

    # ================================================================== accounts
    @property
    def n_accounts(self) -> int:
        return self.ch.n

    def open_account(self, isolated: bool = False) -> int:
        i = self.ch.open_account(isolated, self._default_lev)
        if self._spot_locked.shape[0] < self.ch.cap:
            grown = np.zeros((self.ch.cap, len(self.assets)))
            grown[: self._spot_locked.shape[0]] = self._spot_locked
            self._spot_locked = grown
        return i

    def market_index(self, market: int | str) -> int:
        if type(market) is int:
            return market
        return market if isinstance(market, np.integer) else self.perp_names.index(market)

    def spot_index(self, market: int | str) -> int:
        return market if isinstance(market, (int, np.integer)) else self.spot_names.index(market)

    def deposit(self, account: int, amount: float, asset: str = USD) -> None:
        a = self.asset_index[asset]
        if not (amount > 0 and math.isfinite(amount)):
            raise ValueError(f"venue {self.name}: deposit must be a positive finite amount, got {amount!r}")
        self.ch.bal[account, a] += amount
        self.ch.deposits[a] += amount
        self.events.append(ev.DEPOSIT, -1, account, 0, 0, 0.0, amount, info=a)

    def withdrawable(self, account: int) -> float:
        """USD value that may leave (settled rule 6): max(0, collateral value + min(0, unrealised PnL)
        - initial margin of open positions); with withdraw_unrealized_profit the profit counts too."""
        ch = self.ch
        i = account
        coll = float(ch.collateral_value(slice(i, i + 1))[0])
        coll -= float(self._spot_locked[i] @ (ch.asset_value * (1.0 - ch.asset_haircut)))
        upnl_pos = ch.qty[i] * (ch.mark - ch.entry[i])
        if ch.isolated[i]:  # isolated positions keep their own margin; only the free balance may leave
            return max(0.0, coll)
        upnl = float(upnl_pos.sum())
        counted = upnl if self.params.withdraw_unrealized_profit else min(0.0, upnl)
        return max(0.0, coll + counted - self._initial_margin(i, ch.lots[i]))

    def withdraw(self, account: int, amount: float, asset: str = USD) -> bool:
        """Withdraw `amount` of `asset` if settled rule 6 allows; a refusal is logged as a rejection."""
        a = self.asset_index[asset]
        ch = self.ch
        if not (amount > 0 and math.isfinite(amount)):
            self._reject(account, -1, 0, 0, "invalid")
            return False
        if self.halted:
            self._reject(account, -1, 0, 0, "halted")
            return False
        if amount > ch.bal[account, a] - self._spot_locked[account, a] + 1e-12:
            self._reject(account, -1, 0, 0, "insufficient_balance")
            return False
        value = amount * ch.asset_value[a] * (1.0 - ch.asset_haircut[a])
        if value > self.withdrawable(account) + 1e-9:
            self._reject(account, -1, 0, 0, "withdrawal_limit")
            return False
        ch.bal[account, a] -= amount
        ch.withdrawals[a] += amount
        self.events.append(ev.WITHDRAWAL, -1, account, 0, 0, 0.0, amount, info=a)
        return True

    def set_leverage(self, account: int, market: int | str, leverage: float) -> bool:
        """Choose the leverage an account trades at on a market; refused above the effective max for the
        account's current notional (settled rule 7)."""
        m = self.market_index(market)
        worst = self._worst_notional(account, m, 0, 0)
        if not (leverage >= 1) or leverage > self.ch.tiers[m].max_leverage_at(worst):
            self._reject(account, m, 0, 0, "tier_max_leverage")
            return False
        self.ch.leverage[account, m] = leverage
        return True

    def account(self, account: int) -> dict:
        """A readable snapshot of one account."""
        ch = self.ch
        i = account
        return {
            "balances": {a: float(ch.bal[i, k]) for k, a in enumerate(self.assets)},
            "isolated": bool(ch.isolated[i]),
            "positions": {m: float(ch.qty[i, k]) for k, m in enumerate(self.perp_names)},
            "lots": {m: int(ch.lots[i, k]) for k, m in enumerate(self.perp_names)},
            "entry": {m: float(ch.entry[i, k]) for k, m in enumerate(self.perp_names)},
            "iso_margin": {m: float(ch.iso_margin[i, k]) for k, m in enumerate(self.perp_names)},
            "equity": float(ch.equity(slice(i, i + 1))[0]),
            "maintenance": float(ch.maintenance_matrix(ch.notional(slice(i, i + 1))).sum()),
            "initial_margin": self._initial_margin(i, ch.lots[i]),
            "withdrawable": self.withdrawable(i),
        }

    def equity(self, account: int) -> float:
        return float(self.ch.equity(slice(account, account + 1))[0])

    # ------------------------------------------------------------------ what an agent may read
    def position(self, account: int, market: int | str) -> int:
        """The account's position in lots (signed)."""
        return int(self.ch.lots[account, self.market_index(market)])

    def balance(self, account: int, asset: str = USD) -> float:
        return float(self.ch.bal[account, self.asset_index[asset]])

    def mark_price(self, market: int | str) -> float:
        return self.ch.mark_list[self.market_index(market)]

    def index_price(self, market: int | str) -> float:
        return float(self.index[self.market_index(market)])

    def lot_size(self, market: int | str) -> float:
        return self.books[self.market_index(market)].lot_size

    def max_leverage(self, market: int | str, notional_usd: float = 0.0) -> float:
        """The effective max leverage (tier and venue cap, settled rule 7) for a position of that notional."""
        return float(self.ch.tiers[self.market_index(market)].max_leverage_at(notional_usd))

    def margin(self, account: int) -> tuple[float, float]:
        """(equity, maintenance margin) of a cross account, USD."""
        eq, mm, _, _ = self.ch.unit_state(account, -1)
        return eq, mm

    # ================================================================== margin helpers
    def _worst_notional(self, i: int, m: int, side: int, lots: int) -> float:
        """Largest |position| notional (at mark) the account could reach in market m if all its resting
        orders and this order filled."""
        ch = self.ch
        pos = int(ch.lots[i, m])
        up = pos + int(ch.open_buy[i, m]) + (lots if side == BUY else 0)
        dn = pos - int(ch.open_sell[i, m]) - (lots if side == SELL else 0)
        return max(abs(up), abs(dn)) * ch.lot_size[m] * ch.mark[m]

    def _initial_margin(self, i: int, lots_row: np.ndarray) -> float:
        ch = self.ch
        notional = np.abs(lots_row) * ch.lot_size * ch.mark
        return float((notional / ch.leverage[i]).sum())

    def _reject(self, account: int, market: int, side: int, lots: int, reason: str, price: float = 0.0) -> OrderResult:
        self.events.append(ev.REJECT, market, account, side, lots, price, 0.0, info=ev.REASON_CODE[reason])
        return OrderResult("rejected", reason=reason)

    def _locked_value(self, i: int) -> float:
        """Collateral value (USD) reserved by the account's resting spot orders."""
        if not self.spot_books:
            return 0.0
        return sum(a * w for a, w in zip(self._spot_locked[i].tolist(), self.ch.collateral_weight) if a)

    def _check_perp_order(self, i: int, m: int, side: int, lots: int, est_price: float) -> str:
        """'' if the order may go in, else the rejection reason (settled rule 7 and initial margin).
        Plain floats over the account's row: this runs for every order an agent sends."""
        ch = self.ch
        L, ob, osl = ch.lots[i].tolist(), ch.open_buy[i].tolist(), ch.open_sell[i].tolist()
        lot, mark = ch._lot_list, ch.mark_list

        def worst(k: int, s: int, n: int) -> float:
            # the largest |position| notional reachable if all resting orders and this order filled
            up = L[k] + ob[k] + (n if s == BUY else 0)
            dn = L[k] - osl[k] - (n if s == SELL else 0)
            return max(abs(up), abs(dn)) * lot[k] * mark[k]

        pos = L[m]
        worst_after = worst(m, side, lots)
        if worst_after <= worst(m, 0, 0) + 1e-9:
            return ""  # it cannot increase exposure: always allowed
        levs = ch.leverage[i].tolist()
        lev = levs[m]
        if lev > ch.tiers[m].max_leverage_scalar(worst_after) * (1 + 1e-12):
            return "tier_max_leverage"
        new_pos = pos + (lots if side == BUY else -lots)
        increase = max(0, abs(new_pos) - abs(pos)) * lot[m] * mark[m]
        oi_usd = ch.oi_long_lots[m] * lot[m] * mark[m]
        if increase > 0 and oi_usd + increase > self.params.perps[self.perp_names[m]].oi_cap_usd:
            return "oi_cap"
        q = lots * lot[m]
        fee = q * est_price * self.fee_taker
        adverse = max(0.0, (est_price - mark[m]) * q if side == BUY else (mark[m] - est_price) * q)
        if ch.isolated[i]:
            need = increase / lev + fee + adverse
            free = float(ch.bal[i, 0]) - (float(self._spot_locked[i, 0]) if self.spot_books else 0.0)
            return "initial_margin" if need > free + 1e-9 else ""
        im = sum(worst(k, side if k == m else 0, lots if k == m else 0) / levs[k] for k in range(self.M))
        eq = ch.unit_equity(i, -1) - self._locked_value(i)
        if eq - fee - adverse < im - 1e-9:
            return "initial_margin"
        return ""

    # ================================================================== perp orders
    def submit_order(self, account: int, market: int | str, side: int, lots: int, price: float | None = None,
                     kind: str = "market", reduce_only: bool = False, post_only: bool = False) -> OrderResult:
        """A perp order. kind: "market" (walks the book, no limit), "ioc" (walks up to `price`), or "limit"
        (the crossing part trades, the rest rests at `price`). Sizes in lots, prices in USD."""
        m = self.market_index(market)
        book = self.books[m]
        ch = self.ch
        if self.halted:
            return self._reject(account, m, side, lots, "halted")
        if lots <= 0 or side not in (BUY, SELL) or (kind != "market" and not (price is not None and price > 0)):
            return self._reject(account, m, side, max(lots, 0), "invalid")
        if reduce_only:
            pos = int(ch.lots[account, m])
            room = max(0, -pos) if side == BUY else max(0, pos)
            if room == 0:
                return self._reject(account, m, side, lots, "reduce_only")
            lots = min(lots, room)
        limit_ticks = None if kind == "market" else book.to_ticks(price, side)
        if kind == "limit":
            est = limit_ticks * book.tick_size
        else:
            filled, vwap = book.simulate_take(side, lots, limit_ticks, account)
            if filled == 0:
                if kind == "market":
                    return self._reject(account, m, side, lots, "no_liquidity")
                est = ch.mark[m]
            else:
                est = vwap * book.tick_size
        if not reduce_only:
            reason = self._check_perp_order(account, m, side, lots, est)
            if reason:
                return self._reject(account, m, side, lots, reason, est)
        if kind == "limit":
            oid, fills = book.post(side, limit_ticks, lots, account, post_only)
            if oid is None and fills.requested_lots == 0 and post_only:
                return self._reject(account, m, side, lots, "post_only_would_cross")
            self._release_self_trade_cancels(account, m, fills)
            self._settle_perp_fills(account, m, side, fills)
            rest = lots - sum(fills.lots)
            if oid is not None:
                if side == BUY:
                    ch.open_buy[account, m] += rest
                else:
                    ch.open_sell[account, m] += rest
            return self._result(fills, lots, oid, book.tick_size)
        fills = book.take(side, lots, limit_ticks, account)
        self._release_self_trade_cancels(account, m, fills)
        self._settle_perp_fills(account, m, side, fills)
        return self._result(fills, lots, None, book.tick_size)

    def post_ladder(self, account: int, market: int | str, orders: list[tuple[int, float, int]],
                    post_only: bool = True) -> int:
        """Post a ladder of limit orders [(side, price, lots), ...] in one market, as if each were sent by
        `submit_order(kind="limit")` in turn, with the same results and events, but with one margin check for
        the whole ladder when it passes: the checks of settled rule 7 and initial margin are monotone in the
        resting size, so a ladder whose full size passes them (with the worst single order's fee and adverse
        fill) passes them order by order. Otherwise each order is checked on its own. Returns orders resting."""
        m = self.market_index(market)
        orders = [(side, price, lots) for side, price, lots in orders if lots > 0]
        if not orders:
            return 0
        book = self.books[m]
        valid = all(side in (BUY, SELL) and price is not None and price > 0 for side, price, _ in orders)
        ticked = [(side, book.to_ticks(price, side), lots) for side, price, lots in orders] if valid else None
        if self.halted or not valid or not self._ladder_fits(account, m, ticked):
            return sum(self.submit_order(account, m, side, lots, price, kind="limit",
                                         post_only=post_only).order_id is not None
                       for side, price, lots in orders)
        ch = self.ch
        if post_only:   # nothing can trade: the book takes the ladder in one call, no fills to settle
            ids = book.post_passive(account, ticked)
            buys = sells = resting = 0
            for (side, ticks, lots), oid in zip(ticked, ids):
                if oid is None:
                    self._reject(account, m, side, lots, "post_only_would_cross")
                    continue
                resting += 1
                if side == BUY:
                    buys += lots
                else:
                    sells += lots
            ch.open_buy[account, m] += buys
            ch.open_sell[account, m] += sells
            return resting
        resting = 0
        for side, ticks, lots in ticked:
            oid, fills = book.post(side, ticks, lots, account, post_only)
            self._release_self_trade_cancels(account, m, fills)
            self._settle_perp_fills(account, m, side, fills)
            if oid is not None:
                resting += 1
                rest = lots - sum(fills.lots)
                if side == BUY:
                    ch.open_buy[account, m] += rest
                else:
                    ch.open_sell[account, m] += rest
        return resting

    def _ladder_fits(self, i: int, m: int, orders: list[tuple[int, int, int]]) -> bool:
        """Whether the whole ladder [(side, price_ticks, lots), ...] passes the pre-trade checks at once (see
        post_ladder)."""
        ch = self.ch
        if ch.isolated[i]:
            return False
        L, ob, osl = ch.lots[i].tolist(), ch.open_buy[i].tolist(), ch.open_sell[i].tolist()
        lot, mark = ch._lot_list, ch.mark_list
        buys = sells = 0
        for s, _, n in orders:
            if s == BUY:
                buys += n
            else:
                sells += n
        worst = [max(abs(L[k] + ob[k]), abs(L[k] - osl[k])) * lot[k] * mark[k] for k in range(self.M)]
        worst[m] = max(abs(L[m] + ob[m] + buys), abs(L[m] - osl[m] - sells)) * lot[m] * mark[m]
        levs = ch.leverage[i].tolist()
        if levs[m] > ch.tiers[m].max_leverage_scalar(worst[m]) * (1 + 1e-12):
            return False
        cap = self.params.perps[self.perp_names[m]].oi_cap_usd
        lot_m, mark_m, pos, fee = lot[m], mark[m], L[m], self.fee_taker
        oi_usd = ch.oi_long_lots[m] * lot_m * mark_m
        tick = self.books[m].tick_size
        worst_cost = 0.0
        for side, ticks, n in orders:
            est = ticks * tick
            q = n * lot_m
            if side == BUY:
                increase = max(0, abs(pos + n) - abs(pos)) * lot_m * mark_m
                adverse = max(0.0, (est - mark_m) * q)
            else:
                increase = max(0, abs(pos - n) - abs(pos)) * lot_m * mark_m
                adverse = max(0.0, (mark_m - est) * q)
            if increase > 0 and oi_usd + increase > cap:
                return False
            cost = q * est * fee + adverse
            if cost > worst_cost:
                worst_cost = cost
        im = sum(w / lv for w, lv in zip(worst, levs))
        eq = ch.unit_equity(i, -1) - self._locked_value(i)
        return eq - worst_cost >= im - 1e-9

    def _release_self_trade_cancels(self, account: int, m: int, fills: Fills, spot: int = -1) -> None:
        """Release the reservations of own resting orders that self-trade prevention cancelled."""
        for _oid, side, price_ticks, lots in fills.self_cancelled:
            if spot >= 0:
                self._unlock_spot(account, spot, side, price_ticks, lots)
            elif side == BUY:
                self.ch.open_buy[account, m] -= lots
            else:
                self.ch.open_sell[account, m] -= lots

    @staticmethod
    def _result(fills: Fills, lots: int, oid: int | None, tick_size: float) -> OrderResult:
        resting = oid is not None
        filled = sum(fills.lots)
        avg = math.nan
        if filled:
            avg = fills.vwap_ticks() * tick_size
        if resting:
            status = "resting" if filled == 0 else "partial"
        elif filled == lots:
            status = "filled"
        else:
            status = "partial" if filled else "cancelled"
        return OrderResult(status, order_id=oid, filled_lots=filled, avg_price=avg, unfilled_lots=lots - filled)

    def _settle_perp_fills(self, taker: int, m: int, side: int, fills: Fills) -> None:
        if not fills.lots:
            return
        ch = self.ch
        lot = ch.lot_size[m]
        tick = self.books[m].tick_size
        log = self.events.append
        for maker, p_ticks, n in zip(fills.maker_owner, fills.price_ticks, fills.lots):
            price = p_ticks * tick
            notional = n * lot * price
            fee_t = notional * self.fee_taker
            fee_m = notional * self.fee_maker
            ch.apply_fill(taker, m, side * n, price)
            ch.apply_fill(maker, m, -side * n, price)
            ch.bal[taker, 0] -= fee_t
            ch.bal[maker, 0] -= fee_m
            ch.fees_kept[0] += fee_t + fee_m
            if side == BUY:
                ch.open_sell[maker, m] -= n
            else:
                ch.open_buy[maker, m] -= n
            log(ev.FILL, m, taker, side, n, price, notional, fee_t, info=1.0, aux=maker)
            log(ev.FILL, m, maker, -side, n, price, notional, fee_m, info=0.0, aux=taker)
            self.volume_usd[m] += notional

    def cancel(self, account: int, order_id: int, market: int | str) -> int:
        """Cancel one resting perp order of `account`; returns the lots removed."""
        m = self.market_index(market)
        book = self.books[m]
        o = book.order(order_id)
        if o is None or o[3] != account:
            return 0
        removed = book.cancel(order_id)
        if o[0] == BUY:
            self.ch.open_buy[account, m] -= removed
        else:
            self.ch.open_sell[account, m] -= removed
        return removed

    def cancel_all(self, account: int, market: int | str | None = None) -> int:
        """Cancel every resting perp order of `account` (one market or all); returns the lots removed."""
        ms = range(self.M) if market is None else [self.market_index(market)]
        total = 0
        ch = self.ch
        for m in ms:
            removed = self.books[m].cancel_all_of(account)
            if removed:
                buys = sum(n for side, _, n in removed if side == BUY)
                sells = sum(n for side, _, n in removed if side != BUY)
                ch.open_buy[account, m] -= buys
                ch.open_sell[account, m] -= sells
                total += buys + sells
        return total

    # ================================================================== spot orders
    def submit_spot_order(self, account: int, market: int | str, side: int, lots: int, price: float | None = None,
                          kind: str = "market") -> OrderResult:
        """A spot order (no margin): a buy needs free USD for its cost and fee, a sell needs the asset."""
        s = self.spot_index(market)
        book = self.spot_books[s]
        a = self.spot_base[s]
        ch = self.ch
        if self.halted:
            return self._reject(account, -2 - s, side, lots, "halted")
        if lots <= 0 or side not in (BUY, SELL) or (kind != "market" and not (price is not None and price > 0)):
            return self._reject(account, -2 - s, side, max(lots, 0), "invalid")
        limit_ticks = None if kind == "market" else book.to_ticks(price, side)
        if kind == "limit":
            est = limit_ticks * book.tick_size
        else:
            filled, vwap = book.simulate_take(side, lots, limit_ticks, account)
            if filled == 0 and kind == "market":
                return self._reject(account, -2 - s, side, lots, "no_liquidity")
            est = vwap * book.tick_size if filled else 0.0
        q = lots * book.lot_size
        if side == BUY:
            cost = q * est * (1.0 + self.fee_taker)
            if cost > self.withdrawable(account) + 1e-9 or cost > ch.bal[account, 0] - self._spot_locked[account, 0] + 1e-9:
                return self._reject(account, -2 - s, side, lots, "insufficient_balance", est)
        elif q > ch.bal[account, a] - self._spot_locked[account, a] + 1e-12:
            return self._reject(account, -2 - s, side, lots, "insufficient_balance", est)
        if kind == "limit":
            oid, fills = book.post(side, limit_ticks, lots, account)
        else:
            oid, fills = None, book.take(side, lots, limit_ticks, account)
        self._release_self_trade_cancels(account, -1, fills, spot=s)
        self._settle_spot_fills(account, s, side, fills)
        if oid is not None:
            self._lock_spot(account, s, side, limit_ticks, lots - sum(fills.lots))
        return self._result(fills, lots, oid, book.tick_size)

    def post_spot_ladder(self, account: int, market: int | str, orders: list[tuple[int, float, int]]) -> int:
        """Post limit orders [(side, price, lots), ...] on one spot book, with the results and events of
        `submit_spot_order(kind="limit")` sent in turn, but one balance check for the ladder while it holds:
        the buys' costs (and the USD they lock) together within the free USD and what may be withdrawn, the
        sells within the free asset. After any fill, or if the ladder does not fit, each remaining order is
        checked on its own. Returns the orders resting."""
        s = self.spot_index(market)
        book = self.spot_books[s]
        a = self.spot_base[s]
        ch = self.ch
        orders = [(side, price, lots) for side, price, lots in orders if lots > 0]
        if not orders:
            return 0
        fits = not self.halted and all(side in (BUY, SELL) and price is not None and price > 0
                                       for side, price, _ in orders)
        if fits:
            usd_need = 0.0
            base_need = 0.0
            for side, price, lots in orders:
                q = lots * book.lot_size
                if side == BUY:
                    est = book.to_ticks(price, side) * book.tick_size
                    usd_need += q * est * (1.0 + max(self.fee_taker, self.fee_maker, 0.0))
                else:
                    base_need += q
            free_usd = min(self.withdrawable(account), ch.bal[account, 0] - self._spot_locked[account, 0])
            free_base = ch.bal[account, a] - self._spot_locked[account, a]
            fits = usd_need <= free_usd + 1e-9 and base_need <= free_base + 1e-12
        resting = 0
        for side, price, lots in orders:
            if not fits:
                resting += self.submit_spot_order(account, s, side, lots, price, kind="limit").order_id is not None
                continue
            ticks = book.to_ticks(price, side)
            oid, fills = book.post(side, ticks, lots, account)
            self._release_self_trade_cancels(account, -1, fills, spot=s)
            self._settle_spot_fills(account, s, side, fills)
            if oid is not None:
                resting += 1
                self._lock_spot(account, s, side, ticks, lots - sum(fills.lots))
            if fills.lots:
                fits = False   # balances moved: check the rest one by one
        return resting

    def _lock_spot(self, i, s, side, price_ticks, lots, sign=1.0):
        book = self.spot_books[s]
        if side == BUY:
            self._spot_locked[i, 0] += sign * lots * book.lot_size * price_ticks * book.tick_size * (1 + self.fee_maker)
        else:
            self._spot_locked[i, self.spot_base[s]] += sign * lots * book.lot_size

    def _unlock_spot(self, i, s, side, price_ticks, lots):
        self._lock_spot(i, s, side, price_ticks, lots, sign=-1.0)

    def _settle_spot_fills(self, taker: int, s: int, side: int, fills: Fills) -> None:
        if not fills.lots:
            return
        if self.ch.touched is not None:
            self.ch.touched.add(taker)
            self.ch.touched.update(fills.maker_owner)
        book = self.spot_books[s]
        a = self.spot_base[s]
        ch = self.ch
        log = self.events.append
        for maker, p_ticks, n in zip(fills.maker_owner, fills.price_ticks, fills.lots):
            price = p_ticks * book.tick_size
            q = n * book.lot_size
            notional = q * price
            fee_t = notional * self.fee_taker
            fee_m = notional * self.fee_maker
            # buyer gets the asset and pays USD; the seller the reverse; both assets conserved
            buyer, seller = (taker, maker) if side == BUY else (maker, taker)
            ch.bal[buyer, a] += q
            ch.bal[seller, a] -= q
            ch.bal[buyer, 0] -= notional
            ch.bal[seller, 0] += notional
            ch.bal[taker, 0] -= fee_t
            ch.bal[maker, 0] -= fee_m
            ch.fees_kept[0] += fee_t + fee_m
            self._unlock_spot(maker, s, -side, p_ticks, n)
            log(ev.FILL, -2 - s, taker, side, n, price, notional, fee_t, info=1.0, aux=maker)
            log(ev.FILL, -2 - s, maker, -side, n, price, notional, fee_m, info=0.0, aux=taker)

    def cancel_all_spot(self, account: int, market: int | str | None = None) -> int:
        """Cancel every resting spot order of `account` (one book or all, book by book), in ascending order id;
        returns the lots removed."""
        total = 0
        for s in (range(len(self.spot_books)) if market is None else [self.spot_index(market)]):
            for side, price_ticks, lots in self.spot_books[s].cancel_all_of(account):
                self._unlock_spot(account, s, side, price_ticks, lots)
                total += lots
        return total

    def spot_book_of(self, asset: int) -> int | None:
        """Index of the spot book trading asset index `asset` against USD, if any."""
        for s, base in enumerate(self.spot_base):
            if base == asset:
                return s
        return None

    def cancel_spot(self, account: int, order_id: int, market: int | str) -> int:
        s = self.spot_index(market)
        book = self.spot_books[s]
        o = book.order(order_id)
        if o is None or o[3] != account:
            return 0
        removed = book.cancel(order_id)
        self._unlock_spot(account, s, o[0], o[1], removed)
        return removed

    # ================================================================== prices and funding
    def spot_mid(self, asset: str) -> float | None:
        for s, base in enumerate(self.spot_base):
            if self.assets[base] == asset:
                book = self.spot_books[s]
                return book.mid() or book.last_trade()
        return None

    def _update_asset_values(self) -> None:
        ch = self.ch
        p = self.params
        for k, a in enumerate(self.assets):
            if a == USD:
                continue
            if a == SYNTH:
                if p.collateral_oracle == "redemption" and self.redemption_works:
                    value = 1.0
                else:
                    value = self.spot_mid(SYNTH) or self.spot_ref.get(SYNTH, 1.0)
                ch.asset_value[k] = value
                ch.asset_haircut[k] = p.synthetic_haircut if p.synthetic_collateral else 1.0  # not collateral
            else:
                m = self.perp_names.index(a) if a in self.perp_names else -1
                ch.asset_value[k] = self.index[m] if m >= 0 else self.spot_ref.get(a, 0.0)
                ch.asset_haircut[k] = p.spot_collateral_haircut
        ch.refresh_collateral_weight()

    def book_mid(self, m: int) -> float:
        """The perp book's mid, else its last trade, else the index."""
        book = self.books[m]
        mid = book.mid()
        if mid is None:
            mid = book.last_trade()
        return self.index[m] if mid is None else mid

    def update_prices(self, index: np.ndarray | dict, other_mids: list[list[float]] | None = None) -> None:
        """Take this step's index per perp market (settled rule 4: the weighted median of reference prices,
        computed by the caller), update the mark by the venue's rule, the premium statistics, and the
        collateral oracle. `other_mids[m]` are the other venues' perp mids for market m at the previous step.
        In a halt the mark is frozen (settled rule 8)."""
        p = self.params
        idx = np.array([index[m] for m in self.perp_names], float) if isinstance(index, dict) else np.asarray(index, float)
        self.index = idx
        self.prev_mark = self.ch.mark.copy()
        self.prev_mid = self.mid.copy()
        mids = np.array([self.book_mid(m) for m in range(self.M)])
        self.mid = mids
        if self.halted:   # a frozen book feeds no premium, basis or funding (settled rule 8; SPEC 5)
            self._update_asset_values()
            return
        premium = (mids - idx) / idx
        self.premium_sum += premium
        self.premium_n += 1
        basis = mids - idx
        self.basis_hist = np.roll(self.basis_hist, 1, axis=0)
        self.basis_hist[0] = basis
        self._n_price_updates += 1
        alpha = 1.0 - math.exp(-STEP_MINUTES / p.premium_ema_minutes) if p.premium_ema_minutes > 0 else 1.0
        self.premium_ema += alpha * (basis - self.premium_ema)
        interval_min = self.interval_steps * STEP_MINUTES
        to_funding = (self.interval_steps - (self.step % self.interval_steps)) * STEP_MINUTES
        filled = min(self._n_price_updates, self.basis_hist.shape[0])
        for m in range(self.M):
            if p.mark_rule == "binance_like":
                price1 = idx[m] * (1.0 + self.last_funding_rate[m] * (to_funding / interval_min))
                price2 = idx[m] + float(self.basis_hist[:filled, m].mean())
                self._mark_terms[m] = (float(price1), float(price2))
            else:
                c = math.nan
                if other_mids is not None and len(other_mids[m]):
                    c = weighted_median(other_mids[m])
                self._mark_terms[m] = (float(idx[m] + self.premium_ema[m]), c)
        self.remark()

    def remark(self) -> None:
        """Each mark by its rule from the kept non-book terms and the book as it is now (settled rule 4);
        between waterfall rounds this is the re-mark of settled rule 2."""
        if self.halted:
            return
        mark = np.empty(self.M)
        for m in range(self.M):
            book = self.books[m]
            last = book.last_trade()
            if self.params.mark_rule == "binance_like":
                price1, price2 = self._mark_terms[m]
                mark[m] = median_of(price1, price2, last)  # binance_mark's three terms
            else:
                a, c = self._mark_terms[m]
                bb, ba = book.best_bid(), book.best_ask()
                b = median_of(None if bb is None else bb * book.tick_size,
                              None if ba is None else ba * book.tick_size, last)
                mark[m] = median_of(a, b, c)
        self.ch.mark = mark
        self._update_asset_values()

    def funding_due(self) -> bool:
        return (self.step + 1) % self.interval_steps == 0

    def settle_funding(self) -> np.ndarray | None:
        """At the end of an interval: the rate from the interval's average premium (settled rule 5), paid
        between longs and shorts at the index. Returns the rate per interval per market, or None if not due.
        A halted venue pays no funding (settled rule 8)."""
        if not self.funding_due():
            return None
        p = self.params
        rates = np.zeros(self.M)
        if self.premium_n and not self.halted:
            avg = self.premium_sum / self.premium_n
            for m in range(self.M):
                rates[m] = funding_rate(float(avg[m]), p.funding_interval_hours, p.funding_interest_rate_8h,
                                        p.funding_clamp, p.funding_cap_per_hour)
                pay = self.ch.apply_funding(m, rates[m], float(self.index[m]))
                rows = np.flatnonzero(pay)
                lots = self.ch.lots[rows, m]
                self.events.append_many(ev.FUNDING, m, rows, np.sign(lots), np.abs(lots), float(self.index[m]),
                                        np.abs(pay[rows]), 0.0, info=rates[m] / p.funding_interval_hours,
                                        aux=pay[rows])   # one record per payment
            self.last_funding_rate = rates
        self.premium_sum[:] = 0.0
        self.premium_n = 0
        return rates

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
        scale = np.maximum(np.array(ch.deposits), 1.0)
        rel = np.abs(gap) / scale
        for k, a in enumerate(self.assets):
            if not rel[k] <= rel_tol:  # also catches nan
                raise InvariantError(f"venue {self.name} step {self.step}: accounting identity broken for {a} by "
                                     f"{gap[k]:.6g} ({rel[k]:.3g} of gross deposits {ch.deposits[k]:.6g})")
        for k, a in enumerate(self.assets):   # the fund pays only what it has (SR 2d; SPEC 10 [R4])
            if not ch.insurance[k] >= 0.0:
                raise InvariantError(f"venue {self.name} step {self.step}: insurance fund holds {ch.insurance[k]:.6g} "
                                     f"{a}, below zero")
        lots = ch.lots[: ch.n]
        long = np.where(lots > 0, lots, 0).sum(axis=0)
        short = -np.where(lots < 0, lots, 0).sum(axis=0)
        for m in range(self.M):
            if long[m] != short[m] or long[m] != ch.oi_long_lots[m] or short[m] != ch.oi_short_lots[m]:
                raise InvariantError(f"venue {self.name} step {self.step}: open interest unbalanced in "
                                     f"{self.perp_names[m]}: long {long[m]} lots, short {short[m]} lots")
        return float(rel.max())
