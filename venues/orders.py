"""A venue's orders: perp and spot order entry with their pre-trade checks (settled rule 7 and initial margin),
ladders, cancels, the settlement of fills and the release of what self-trade prevention cancelled.

`Orders` is one of the parts `Venue` (venues/venue.py) is built from; it works on the state `Venue.__init__`
sets up (the clearinghouse `ch`, the perp and spot books, the spot reservations `_spot_locked`, the fees, the
event log) and on the account helpers of `Accounts` (venues/accounts.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import events as ev
from .orderbook import BUY, SELL, Fills, OrderBook

_replace_nb = None   # venues.ladder_nb.replace_ladder, imported on first use (it needs numba)
_spot_nb = None      # venues.ladder_nb.post_spot_ladder, likewise
_cancel_spot_nb = None   # venues.ladder_nb.cancel_all_spot, likewise


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


class Orders:
    """Order entry, cancels and fill settlement (a part of `Venue`)."""

    def _reject(self, account: int, market: int, side: int, lots: int, reason: str, price: float = 0.0) -> OrderResult:
        return self.log_reject(account, market, side, lots, reason, price)

    def log_reject(self, account: int, market: int, side: int, lots: int, reason: str,
                   price: float = 0.0) -> OrderResult:
        """Record a REJECT event (`reason` one of events.REASON_CODE) and return the rejected result: for an
        order refused outside this class's own checks (the makers' compiled requotes, agents/maker_nb.py)."""
        self.events.append(ev.REJECT, market, account, side, lots, price, 0.0, info=ev.REASON_CODE[reason])
        return OrderResult("rejected", reason=reason)

    def _check_perp_order(self, i: int, m: int, side: int, lots: int, est_price: float) -> str:
        """'' if the order may go in, else the rejection reason (settled rule 7 and initial margin).
        Plain floats over the account's row: this runs for every order an agent sends."""
        ch = self.ch
        L, ob, osl = ch.lots[i].tolist(), ch.open_buy[i].tolist(), ch.open_sell[i].tolist()
        lot, mark = ch._lot_list, ch.mark_list
        # worst(k, s, n): the largest |position| notional reachable in market k if all resting orders and an
        # order of n lots on side s filled, max(|L + ob (+ n)|, |L - osl (- n)|) x lot x mark (integer lots)
        pos = L[m]
        lot_m, mark_m = lot[m], mark[m]
        up0, dn0 = abs(pos + ob[m]), abs(pos - osl[m])
        if side == BUY:
            up, dn = abs(pos + ob[m] + lots), dn0
        elif side == SELL:
            up, dn = up0, abs(pos - osl[m] - lots)
        else:
            up, dn = up0, dn0
        worst_after = (up if up >= dn else dn) * lot_m * mark_m
        if worst_after <= (up0 if up0 >= dn0 else dn0) * lot_m * mark_m + 1e-9:
            return ""  # it cannot increase exposure: always allowed
        levs = ch.leverage[i].tolist()
        lev = levs[m]
        if lev > ch.tiers[m].max_leverage_scalar(worst_after) * (1 + 1e-12):
            return "tier_max_leverage"
        new_pos = pos + (lots if side == BUY else -lots)
        increase = max(0, abs(new_pos) - abs(pos)) * lot_m * mark_m
        oi_usd = ch.oi_long_lots[m] * lot_m * mark_m
        if increase > 0 and oi_usd + increase > self.params.perps[self.perp_names[m]].oi_cap_usd:
            return "oi_cap"
        q = lots * lot_m
        fee = q * est_price * self.fee_taker
        adverse = max(0.0, (est_price - mark_m) * q if side == BUY else (mark_m - est_price) * q)
        if ch.isolated[i]:
            need = increase / lev + fee + adverse
            free = float(ch.bal[i, 0]) - (float(self._spot_locked[i, 0]) if self.spot_books else 0.0)
            return "initial_margin" if need > free + 1e-9 else ""
        # the initial margin of every market's worst case, summed in market order (Python's float sum)
        ws = [max(abs(L[k] + ob[k]), abs(L[k] - osl[k])) * lot[k] * mark[k] / levs[k] for k in range(self.M)]
        ws[m] = worst_after / lev
        im = sum(ws)
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
            return self._post_each(account, m, orders, post_only)
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

    def _post_each(self, account: int, m: int, orders: list[tuple[int, float, int]], post_only: bool) -> int:
        """post_ladder's fallback: each order of the ladder through submit_order; the orders resting."""
        return sum(self.submit_order(account, m, side, lots, price, kind="limit",
                                     post_only=post_only).order_id is not None
                   for side, price, lots in orders)

    def replace_ladder(self, account: int, market: int | str, orders: list[tuple[int, float, int]],
                       post_only: bool = True) -> int:
        """A maker's requote of one market: `cancel_all(account, market)` then `post_ladder(account, market,
        orders, post_only)`, with their state, events and result (the orders resting). On an OrderBookNB a
        post-only ladder takes one kernel call (venues/ladder_nb.py); on the Python book, the two calls."""
        m = self.market_index(market)
        if post_only and not isinstance(self.books[m], OrderBook):
            global _replace_nb
            if _replace_nb is None:
                from .ladder_nb import replace_ladder as _replace_nb
            return _replace_nb(self, account, m, orders)
        self.cancel_all(account, m)
        return self.post_ladder(account, m, orders, post_only)

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
            ch.settle_maker(maker, m, side, n, price, fee_m)
            ch.bal[taker, 0] -= fee_t
            ch.fees_kept[0] += fee_t + fee_m
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
        checked on its own. Returns the orders resting. On an OrderBookNB the ladder takes one kernel call up to
        the first order that would trade (venues/ladder_nb.py), with the same results."""
        s = self.spot_index(market)
        if not isinstance(self.spot_books[s], OrderBook):
            global _spot_nb
            if _spot_nb is None:
                from .ladder_nb import post_spot_ladder as _spot_nb
            return _spot_nb(self, account, s, orders)
        return self._post_spot_ladder_py(account, s, orders)

    def _post_spot_ladder_py(self, account: int, market: int | str, orders: list[tuple[int, float, int]]) -> int:
        """post_spot_ladder in Python (any book)."""
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
        return self._spot_ladder_from(account, s, orders, fits)

    def _spot_ladder_from(self, account: int, s: int, orders: list[tuple[int, float, int]], fits: bool) -> int:
        """post_spot_ladder's posts, from the first of `orders` (those with lots > 0), the ladder's balance check
        passed (fits) or not; the orders resting."""
        book = self.spot_books[s]
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
        returns the lots removed. One book on an OrderBookNB: one kernel call (venues/ladder_nb.py)."""
        if market is not None:
            s = self.spot_index(market)
            if not isinstance(self.spot_books[s], OrderBook):
                global _cancel_spot_nb
                if _cancel_spot_nb is None:
                    from .ladder_nb import cancel_all_spot as _cancel_spot_nb
                return _cancel_spot_nb(self, account, s)
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
