"""Directional traders' decision rules: many small leveraged accounts that supply most liquidations.

Each trader enters on a momentum or contrarian signal, at a heavy-tailed leverage capped by the venue, and
leaves by a stop-loss or a take-profit (MECHANICS "Calm-market realism": BitMEX longs at 22-39x effective
leverage, 80% at or below 54x). The rules are pure functions; `DirectionalPopulation` below applies them to the
traders due each minute in one pass (`DirectionalTrader` holds one trader's account and its exit).
"""

from __future__ import annotations

import math
import sys
from functools import cached_property

import mesa
import numpy as np

from venues.orderbook import BUY, SELL

from .base import stream, stream_of
from .params import DirectionalParams  # noqa: F401  (defined there, without Mesa: conf/schema.py reads them)


def draw_leverage(rng: np.random.Generator, n: int, p: DirectionalParams, cap: float) -> np.ndarray:
    """Heavy-tailed leverage: Pareto from leverage_min with tail index leverage_tail, capped at `cap`."""
    lev = p.leverage_min * (1.0 + rng.pareto(p.leverage_tail, n))
    return np.minimum(lev, cap)


def synth_exit(mid: float | None, has_position: bool, p: DirectionalParams) -> str | None:
    """What a holder of the synthetic dollar does when it looks at the spot mid.

    Below 1 - synth_exit_depeg: a holder with an open position needs its collateral now, so it swaps the
    synthetic dollars for USD on the spot book ("sell"; its flow deepens the depeg, as on 10 October 2025);
    a holder with no position can wait, so it sends them to redemption at 1.00 ("redeem"). Otherwise None.
    """
    if mid is None or not (mid < 1.0 - p.synth_exit_depeg):
        return None
    return "sell" if has_position else "redeem"


def signal_side(prices: np.ndarray, momentum: bool) -> int:
    """BUY or SELL from the return over the look-back window (0 when flat or too short)."""
    x = np.asarray(prices, dtype=float)
    if x.size < 2 or not (x[0] > 0) or x[-1] == x[0]:
        return 0
    up = x[-1] > x[0]
    if momentum:
        return BUY if up else SELL
    return SELL if up else BUY


def order_lots(capital_usd: float, leverage: float, price: float, lot_size: float) -> int:
    """Lots for a position of capital x leverage notional at price (0 if less than one lot)."""
    if not (price > 0 and capital_usd > 0 and leverage > 0):
        return 0
    return int(math.floor(capital_usd * leverage / (price * lot_size)))


def exit_prices(entry: float, side: int, p: DirectionalParams) -> tuple[float, float]:
    """(stop-loss, take-profit) trigger prices of a position opened at `entry` on `side`."""
    sl, tp = p.stop_loss_pct / 100.0, p.take_profit_pct / 100.0
    if side == BUY:
        return entry * (1.0 - sl), entry * (1.0 + tp)
    return entry * (1.0 + sl), entry * (1.0 - tp)


class DirectionalTrader(mesa.Agent):
    """A small leveraged account on one venue and market. Its entries are decided with the others' in one pass a
    minute (DirectionalPopulation); it exits on its stops (CascadeModel._check_stops) and reacts to a depeg."""

    def __init__(self, model, index: int, venue_name: str, market: str, capital: float,
                 leverage: float, momentum: bool, synth_collateral: bool = False, uses_stops: bool = True):
        super().__init__(model)
        self.index = index
        self.venue_name = venue_name
        self.venue = model.venues[venue_name]
        self.k = self.venue.market_index(market)
        self.capital = capital
        self.momentum = momentum
        self.uses_stops = uses_stops
        self.account = self.venue.open_account()
        # some post the synthetic dollar (for its yield) where the venue accepts it as collateral
        self.synth = synth_collateral and self.venue.params.synthetic_collateral
        self.venue.deposit(self.account, capital, asset="SYNTH" if self.synth else "USD")
        cap = self.venue.max_leverage(self.k)
        self.leverage = min(leverage, cap)
        self.venue.set_leverage(self.account, self.k, self.leverage)

    @cached_property
    def own_rng(self) -> np.random.Generator:
        """This trader's own stream (settled rule 10), made when first drawn from: the same generator whenever
        that is, and a population of 100,000 is built without making 100,000 of them up front."""
        d = self.model.__dict__
        streams = d.get("directional_streams")   # the population's PCG64 states (model build)
        if streams is not None:
            return streams.of(self.index)   # the same draws, from the population's array (agents/streams_nb.py)
        words = d.get("directional_words")      # (the population's seed words, where the array is not used)
        if words is not None:
            return stream_of(words[self.index])
        return stream(self.model.cfg.seed, "agent", "directional", self.index)

    def on_depeg(self) -> None:
        """A depeg alert reached this holder (after its reaction delay): sell or redeem by `synth_exit`."""
        v, p = self.venue, self.model.cfg.directional
        if not self.synth or "SYNTH" not in v.spot_names or v.halted:
            return
        s = v.spot_index("SYNTH")
        book = v.spot_books[s]
        held = v.balance(self.account, "SYNTH")
        lots = int(held / book.lot_size)
        if lots <= 0:
            return
        action = synth_exit(v.spot_mid("SYNTH"), v.position(self.account, self.k) != 0, p)
        if action == "sell":
            v.submit_spot_order(self.account, s, SELL, lots, p.synth_sell_floor, kind="ioc")
        elif action == "redeem":
            self.model.redeem(self, self.venue_name, self.account, lots * book.lot_size)

    def exit(self) -> bool:
        """Try to close the position (an armed exit, settled rule 13c); True once it is closed. A market order
        into an empty side is not sent (the venue would reject it: no liquidity is invented); it is tried again
        next minute."""
        v = self.venue
        lots = v.position(self.account, self.k)
        if lots == 0:
            return True
        side = SELL if lots > 0 else BUY
        book = v.books[self.k]
        if v.halted or (book.best_bid() if side == SELL else book.best_ask()) is None:
            return False
        band = self.model.cfg.directional.exit_band_pct
        if band is None:
            v.submit_order(self.account, self.k, side, abs(lots), reduce_only=True)
        else:
            mark = v.mark_price(self.k)
            limit = mark * (1.0 - band / 100.0) if side == SELL else mark * (1.0 + band / 100.0)
            if limit <= 0:
                return False
            v.submit_order(self.account, self.k, side, abs(lots), limit, kind="ioc", reduce_only=True)
        return v.position(self.account, self.k) == 0


class DirectionalPopulation:
    """The directional traders deciding together: each has the minute of its next decision in an array; once a
    minute (at its half) those due decide in one pass, in the order they fell due, and send their orders in
    that order. A flat trader enters on its signal (a coin where there is none); a trader holding a position
    without stops closes it (its horizon has come: the exit is armed, rule 13c); one with stops waits for
    them. Its next decision falls half a minute plus an exponential wait (mean_wait_minutes) later, and is taken
    at the first minute's half after that (so decisions are at least a minute apart; the mean gap is about
    mean_wait_minutes + 1).

    What a trader sees is the same for all traders of its venue and market as of the previous minute (the
    mids' window, the mark), so the signals are computed once per (venue, market). Each trader's coin and wait
    come from its own stream, in the order its old per-trader event drew them (settled rule 10)."""

    def __init__(self, model, traders: list[DirectionalTrader], first: np.ndarray):
        self.model = model
        self.traders = traders
        self.next_at = np.asarray(first, dtype=float).copy()
        self.account = np.array([tr.account for tr in traders], np.int64)   # (fixed once built: the exits' batch)
        self.market = np.array([tr.k for tr in traders], np.int64)
        self._venue_names = list(dict.fromkeys(tr.venue_name for tr in traders))
        self._venue_of = np.array([self._venue_names.index(tr.venue_name) for tr in traders], np.int64)
        self._venue_of_list = self._venue_of.tolist()
        # what the compiled decisions read of each trader (fixed once built)
        self.capital = np.array([tr.capital for tr in traders], np.float64)
        self.leverage = np.array([tr.leverage for tr in traders], np.float64)
        self.momentum = np.array([tr.momentum for tr in traders], np.bool_)
        self.uses_stops = np.array([tr.uses_stops for tr in traders], np.bool_)
        self._lots: dict[str, np.ndarray] = {}   # venue -> its perp books' lot sizes

    def act(self) -> None:
        """The population's event, once a minute: the traders due by now decide and send their orders."""
        model = self.model
        now = model.time
        due = np.flatnonzero(self.next_at <= now)
        if due.size:
            due = due[np.argsort(self.next_at[due], kind="stable")]
            self.decide(due)
            mean = model.cfg.directional.mean_wait_minutes
            traders = self.traders
            streams = model.__dict__.get("directional_streams")
            if streams is not None and traders is model.__dict__.get("traders"):
                # each due trader's wait from its own stream, in due order, in one compiled call
                self.next_at[due] = now + 0.5 + streams.exponential(due, mean)
            else:
                self.next_at[due] = [now + 0.5 + traders[i].own_rng.exponential(mean) for i in due.tolist()]
        model.schedule_event(self.act, after=1.0)

    batched = True   # send the orders of venues whose books are all OrderBookNB through compiled batches

    def decide(self, due: np.ndarray) -> None:
        """Traders `due` (indices, in the order they act) decide and send their orders.

        Venue by venue (traders of different venues touch disjoint state), in due order within each venue: where
        the venue's books are all numba books (venues/orderbook_nb.py) and it is not halted, its traders' orders
        go to the venue in one compiled batch (venues/batch_nb.py: submit_venue_batch, with the effect of the
        per-trader calls in turn), otherwise one `submit_order` per trader. A trader's decision reads only its
        own account (which no other trader's order touches: directional accounts never rest orders), the mark
        and the previous minute's mids, so the decisions are taken first and the orders sent after."""
        api = _batch_api() if self.batched else None
        signal: dict[tuple[str, int], int] = {}   # (venue, market) -> the momentum side of its window
        if api is None:
            for i in due.tolist():
                self._decide_one(i, signal)
            return
        for name, idx in self._by_venue(due.tolist()).items():
            v = self.model.venues[name]
            if api.venue_batchable(v):
                self._decide_batch(v, idx, signal, api)
            else:
                for i in idx:
                    self._decide_one(i, signal)

    def _by_venue(self, ks: list[int]) -> dict[str, list[int]]:
        """Traders ks grouped by venue: each venue's in the order of ks, the venues in the order their first
        trader comes in ks."""
        names = self._venue_names
        of = self._venue_of_list
        out: dict[str, list[int]] = {}
        for k in ks:   # (a plain loop: a few dozen traders a call, where numpy's calls cost more than the work)
            name = names[of[k]]
            group = out.get(name)
            if group is None:
                out[name] = [k]
            else:
                group.append(k)
        return out

    def _entry(self, tr: DirectionalTrader, signal: dict, free: float | None = None
               ) -> tuple[int, int, float | None] | None:
        """A flat trader's entry: (side, lots, IOC limit or None for a market order), or None (too small). `free`:
        its account's withdrawable amount when the caller has it (the batch computes its traders' in one pass)."""
        model, p = self.model, self.model.cfg.directional
        v, k = tr.venue, tr.k
        cell = (tr.venue_name, k)
        if cell not in signal:
            signal[cell] = signal_side(model.mid_history(tr.venue_name, k, p.signal_minutes), True)
        side = signal[cell] if tr.momentum else -signal[cell]
        if side == 0:
            side = BUY if tr.own_rng.random() < 0.5 else SELL
        price = v.mark_price(k)
        if free is None:
            free = v.withdrawable(tr.account)
        n = order_lots(min(tr.capital, free) * 0.9, tr.leverage, price, v.lot_size(k))
        if n <= 0:
            return None
        band = p.entry_band_pct
        if band is None:
            return side, n, None
        return side, n, price * (1.0 + band / 100.0) if side == BUY else price * (1.0 - band / 100.0)

    def _decide_one(self, i: int, signal: dict) -> None:
        """Trader i decides and sends its order (the per-trader path)."""
        model = self.model
        tr = self.traders[i]
        v, k = tr.venue, tr.k
        if v.position(tr.account, k) != 0:
            if not tr.uses_stops:
                model.arm_exit(i)       # its horizon has come: close (re-tried every minute until closed)
            return
        order = self._entry(tr, signal)
        if order is None:
            return
        side, n, limit = order
        if limit is None:
            r = v.submit_order(tr.account, k, side, n)
        else:
            r = v.submit_order(tr.account, k, side, n, limit, kind="ioc")
        if r.filled_lots and tr.uses_stops:
            sl, tp = exit_prices(r.avg_price, side, model.cfg.directional)
            model.set_stops(i, side, sl, tp)

    def _decide_batch(self, v, idx: list[int], signal: dict, api) -> None:
        """Traders idx of venue v (not halted, numba books) decide in one compiled pass (agents/directional_nb.py:
        `_entry` and `_exit_spec` for each, in turn); their orders go in one batch, in that order."""
        from . import directional_nb as dn
        model = self.model
        p = model.cfg.directional
        ch = v.ch
        ix = np.array(idx, np.int64)
        n = ix.shape[0]
        name = self._venue_names[int(self._venue_of[idx[0]])]
        sig = np.zeros(v.M, np.int64)
        for k in range(v.M):   # the (venue, market) signals (pure reads of the previous minutes' mids)
            cell = (name, k)
            if cell not in signal:
                signal[cell] = signal_side(model.mid_history(name, k, p.signal_minutes), True)
            sig[k] = signal[cell]
        coin = np.zeros(n, np.int64)
        free = np.full(n, np.nan)
        if v.M >= 8:   # Accounts.withdrawable sums in numpy there (other bits than the kernel's sequential sums)
            for t in np.flatnonzero(ch.lots[self.account[ix], self.market[ix]] == 0).tolist():
                free[t] = v.withdrawable(int(self.account[idx[t]]))
        need = np.zeros(1, np.int64)
        o_int = np.empty((5, n), np.int64)
        o_limit, o_exit, o_who = np.empty(n), np.empty(n, np.bool_), np.empty(n, np.int64)
        lot = self._lots.get(name)
        if lot is None:
            lot = self._lots[name] = np.array([b.lot_size for b in v.books])
        eb, xb = p.entry_band_pct, p.exit_band_pct
        while True:
            k = dn.k_decide_venue(ix, self.account, self.market, self.capital, self.leverage, self.momentum,
                                  self.uses_stops, coin, free, ch.lots, ch.qty, ch.entry, ch.bal, ch.weight_array,
                                  ch.leverage, ch.lot_size, ch.isolated, v.spot_locked, ch.mark,
                                  bool(v.params.withdraw_unrealized_profit), lot, sig, eb is not None,
                                  0.0 if eb is None else float(eb), xb is not None, 0.0 if xb is None else float(xb),
                                  model.stop_lo, model.stop_hi, model.exit_armed, need, o_int[0], o_int[1], o_int[2],
                                  o_int[3], o_limit, o_int[4], o_exit, o_who)
            if k >= 0:
                break
            t = -1 - k   # trader idx[t] needs Python first: its coin, or its withdrawable amount (spot orders held)
            if need[0] == dn.NEED_COIN:
                coin[t] = BUY if self.traders[idx[t]].own_rng.random() < 0.5 else SELL
            else:
                free[t] = v.withdrawable(int(self.account[idx[t]]))
        if k == 0:
            return
        ex = o_exit[:k]
        filled, avg, status, pos = api.submit_venue_batch(v, o_int[0, :k], o_int[1, :k], o_int[2, :k], o_int[3, :k],
                                                          o_limit[:k], o_int[4, :k], ex, ex)
        dn.k_after(k, o_who, ex, o_int[2], filled, avg, status, pos, api.NOT_SENT, self.uses_stops,
                   p.stop_loss_pct / 100.0, p.take_profit_pct / 100.0, model.stop_lo, model.stop_hi, model.exit_armed)

    def _exit_spec(self, tr: DirectionalTrader, lots: int) -> tuple[int, int, float | None] | None:
        """The exit order of a holder of `lots` (not 0) on a venue not halted: (side, lots, IOC limit or None for
        a market order), or None when it is not sent (a limit at or below 0). Its book's side being empty is
        the batch's check (DirectionalTrader.exit's rule)."""
        side = SELL if lots > 0 else BUY
        band = self.model.cfg.directional.exit_band_pct
        if band is None:
            return side, abs(lots), None
        mark = tr.venue.mark_price(tr.k)
        limit = mark * (1.0 - band / 100.0) if side == SELL else mark * (1.0 + band / 100.0)
        if limit <= 0:
            return None
        return side, abs(lots), limit

    def exits(self, ks: list[int]) -> list[bool]:
        """Traders ks (in this order) try to close their positions, as `DirectionalTrader.exit` each in turn;
        whether each is closed. Venue by venue, in a compiled batch where the venue allows (see decide)."""
        api = _batch_api() if self.batched else None
        traders = self.traders
        if api is None:
            return [traders[i].exit() for i in ks]
        closed = dict.fromkeys(ks, False)
        for name, idx in self._by_venue(ks).items():
            v = self.model.venues[name]
            if not api.venue_batchable(v):
                for i in idx:
                    closed[i] = traders[i].exit()
                continue
            # the exits in numpy (an armed exit is retried every minute: dozens a call), as _exit_spec each
            ix = np.array(idx, np.int64)
            acc, mk = self.account[ix], self.market[ix]
            lots = v.ch.lots[acc, mk]
            side = np.where(lots > 0, SELL, BUY)
            band = self.model.cfg.directional.exit_band_pct
            if band is None:
                limit = np.full(ix.shape[0], np.nan)
                send = lots != 0
            else:
                mark = np.array(v.ch.mark_list)[mk]
                limit = np.where(side == SELL, mark * (1.0 - band / 100.0), mark * (1.0 + band / 100.0))
                send = (lots != 0) & ~(limit <= 0)       # a limit at or below 0: not sent
            for i, flat in zip(idx, (lots == 0).tolist()):
                if flat:
                    closed[i] = True
            sel = np.flatnonzero(send)
            if sel.size:
                yes = np.ones(sel.size, bool)
                _, _, status, pos = api.submit_venue_batch(
                    v, acc[sel], mk[sel], side[sel], np.abs(lots[sel]), limit[sel],
                    np.zeros(sel.size, np.int64) if band is None else np.ones(sel.size, np.int64), yes, yes)
                done = ((status != api.NOT_SENT) & (pos == 0)).tolist()
                for j, ok in zip(sel.tolist(), done):
                    closed[idx[j]] = ok
        return [closed[i] for i in ks]


class _Orders:
    """A venue's batch of directional orders being gathered: market orders, or IOCs with a limit; exits are
    reduce-only and sent only into a non-empty side."""

    def __init__(self):
        self.acc: list[int] = []
        self.mk: list[int] = []
        self.side: list[int] = []
        self.lots: list[int] = []
        self.limit: list[float] = []
        self.kind: list[int] = []
        self.is_exit: list[bool] = []
        self.tag: list[tuple[int, int, bool]] = []

    def add(self, account: int, market: int, side: int, lots: int, limit: float | None, is_exit: bool,
            i: int) -> None:
        self.acc.append(account)
        self.mk.append(market)
        self.side.append(side)
        self.lots.append(lots)
        self.limit.append(math.nan if limit is None else limit)
        self.kind.append(0 if limit is None else 1)
        self.is_exit.append(is_exit)
        self.tag.append((i, side, is_exit))

    def send(self, v, api):
        ex = np.array(self.is_exit, dtype=bool)
        return api.submit_venue_batch(v, np.array(self.acc, np.int64), np.array(self.mk, np.int64),
                                      np.array(self.side, np.int64), np.array(self.lots, np.int64),
                                      np.array(self.limit, np.float64), np.array(self.kind, np.int64), ex, ex)


def _batch_api():
    """venues.batch_nb when numba books are in use (venues.orderbook_nb imported), else None: a run on Python
    books neither needs numba nor pays for compiling its kernels."""
    if "venues.orderbook_nb" not in sys.modules:
        return None
    from venues import batch_nb
    return batch_nb
