"""Slow liquidity away from the mid: limit-order traders and value traders (settled rule 13).

Limit-order traders rest bids and asks along a depth profile out to tens of percent from the price they
observe (their venue's last trade and index as of the previous minute), re-placed on a slow clock of their own:
the orders a crash walks into once the makers have pulled their quotes (10 October 2025: meaningful bids only
4-10% from the mid at the worst moments). What fills is inventory they lean against on their next re-placement.

Value traders are the only agents that see the fundamental (rule 13a), with a delay and noise; with finite
capital they buy their venue's perp when it is cheap against their estimate and sell it when dear, and unwind
when the gap has closed: the force that brings prices back after a wick.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from venues.orderbook import BUY, SELL

from .base import stream, take
from .params import LiquidityParams, ValueParams  # noqa: F401  (defined there, without Mesa: conf/schema.py reads them)


def depth_profile(rng: np.random.Generator, n_levels: int, min_pct: float, max_pct: float,
                  profile: float) -> tuple[np.ndarray, np.ndarray]:
    """(distances as fractions, weights summing to 1) of one trader's levels: distances log-uniform in
    [min_pct, max_pct] percent, weights proportional to distance^profile."""
    d = np.exp(rng.uniform(math.log(min_pct), math.log(max_pct), n_levels)) / 100.0
    w = d ** profile
    return d, w / w.sum()


class LimitTrader(mesa.Agent):
    """Rests a ladder of bids and asks far from the price on one venue and perp market; re-places it on its
    own slow clock around what it observes as of the previous minute, leaning against inventory it has taken."""

    def __init__(self, model, index: int, venue_name: str, k: int, depth_usd: float, p: LiquidityParams):
        super().__init__(model)
        self.venue_name = venue_name
        self.venue = v = model.venues[venue_name]
        self.vi = model.venue_names.index(venue_name)
        self.k = k
        self.p = p
        self.depth_usd = depth_usd            # per side
        self.own_rng = stream(model.cfg.seed, "agent", "limit_trader", index)
        self.account = v.open_account()
        lev = min(p.leverage, v.max_leverage(k, 2.0 * depth_usd))
        # capital such that its whole ladder fits its initial margin: a bid d below the price is 1 / (1 - d)
        # as much notional at the mark as at its own price
        self.capital = 3.0 * depth_usd / (1.0 - p.max_pct / 100.0 / 2.0) / lev
        v.deposit(self.account, self.capital)
        v.set_leverage(self.account, k, lev)

    def observed_price(self) -> float:
        """The median of its book's last trade and mid and the index, as of the previous minute."""
        m = self.model
        prev = max(0, m.steps - 1)
        close = float(m.ts_close[prev, self.vi, self.k])
        mid = float(m.ts_mid[prev, self.vi, self.k])
        index = float(self.venue.index[self.k])
        obs = [x for x in (close, mid) if math.isfinite(x)]
        if index != index:   # NaN: numpy's median as it was (NaN)
            return float(np.median(obs + [index]))
        # np.median of 1, 2 or 3 numbers in plain floats, the same bits: the middle one of three, the mean
        # (a + b) / 2 of two, the one itself
        if len(obs) == 2:
            a, b = obs
            if a > b:
                a, b = b, a
            return b if index >= b else (a if index <= a else index)
        if obs:
            return (obs[0] + index) / 2
        return index

    def _equity(self) -> float:
        """v.equity(account) where its float form gives the same bits (at most two markets: the two positions'
        PnL summed in the same order; a cross account holds no isolated margin), else v.equity itself. Only
        the sign of a zero may differ, which `fit` (clipped to [0, 1]) does not see."""
        v = self.venue
        ch = v.ch
        if v.M <= 2 and not ch.isolated[self.account]:
            return ch.unit_equity(self.account, -1)
        return v.equity(self.account)

    def replace(self) -> None:
        v, p = self.venue, self.p
        if not v.halted:
            # cancel_all then post_ladder, as one replace_ladder at the end (the cancel changes nothing read in
            # between: the observed price, position, equity and draws do not depend on resting orders)
            px = self.observed_price()
            k = self.k
            lot = v.books[k].lot_size
            pos = v.position(self.account, k)
            inv_usd = pos * lot * px
            u = max(-1.0, min(1.0, inv_usd / self.depth_usd))
            # a trader that has lost money rests less (its margin must carry the ladder)
            fit = max(0.0, min(1.0, self._equity() / self.capital))
            orders = []
            depth_usd = self.depth_usd
            for side, sign in ((BUY, -1.0), (SELL, 1.0)):
                d, w = depth_profile(self.own_rng, p.levels, p.min_pct, p.max_pct, p.profile)
                # the side that adds to its inventory shrinks; the other carries the inventory back
                scale = fit * ((1.0 - max(0.0, u)) if side == BUY else (1.0 - max(0.0, -u)))
                for dj, wj in zip(d.tolist(), w.tolist()):
                    price = px * (1.0 + sign * dj)
                    n = int(depth_usd * wj * scale / (price * lot))
                    if n > 0 and price > 0:
                        orders.append((side, price, n))
            if pos != 0:   # unwind what it holds a little beyond the nearest level, on the reducing side
                side = SELL if pos > 0 else BUY
                price = px * (1.0 + (p.min_pct / 100.0 if side == SELL else -p.min_pct / 100.0))
                orders.append((side, float(price), abs(int(pos))))
            v.replace_ladder(self.account, k, orders)
        self.model.schedule_event(self.replace, after=float(self.own_rng.exponential(self.p.replace_minutes)) + 0.5)


class ValueTrader(mesa.Agent):
    """Trades its venue's perp against the fundamental it observes with a delay and noise (settled rule 13a:
    the only agents that see it), within its capital."""

    def __init__(self, model, index: int, venue_name: str, k: int, asset: str, capital: float, p: ValueParams):
        super().__init__(model)
        self.venue_name = venue_name
        self.venue = v = model.venues[venue_name]
        self.k = k
        self.asset = asset
        self.p = p
        self.capital = capital
        self.clip = p.clip_usd.get(asset, capital)
        self.own_rng = stream(model.cfg.seed, "agent", "value_trader", index)
        self.account = v.open_account()
        v.deposit(self.account, capital)
        self.lev = min(p.leverage, v.max_leverage(k, capital * p.leverage))
        v.set_leverage(self.account, k, self.lev)
        self._err: tuple[int, float] | None = None             # (step, log error) of its last look (noise_minutes)
        self._exit_posted: tuple[int, int, float] | None = None   # (order id, lots, price) of its resting exit

    def estimate(self) -> float:
        """The fundamental delay_minutes ago times exp(error): the error is a fresh N(0, noise_pct) draw at each
        look, or with noise_minutes > 0 an Ornstein-Uhlenbeck process of that stationary deviation, decaying by
        exp(-elapsed / noise_minutes) between looks."""
        m = self.model
        t = max(0, m.steps - self.p.delay_minutes)
        sd = self.p.noise_pct / 100.0
        z = self.own_rng.standard_normal()
        if self.p.noise_minutes > 0:
            last = self._err
            if last is None:
                err = sd * z
            else:
                a = math.exp(-max(0.0, m.steps - last[0]) / self.p.noise_minutes)
                err = last[1] * a + math.sqrt(1.0 - a * a) * sd * z
            self._err = (m.steps, err)
        else:
            err = sd * z
        return float(m.fund_paths[self.asset][t]) * math.exp(err)

    def act(self) -> None:
        v, p, m = self.venue, self.p, self.model
        if not v.halted:
            est = self.estimate()
            k = self.k
            book = v.books[k]
            lot = book.lot_size
            tick = book.tick_size
            th = p.threshold_pct / 100.0
            pos = v.position(self.account, k)
            pos_usd = pos * lot * est
            ba, bb = book.best_ask(), book.best_bid()
            if ba is not None and ba * tick < est * (1.0 - th) \
                    and (room_long := self.capital * self.lev * 0.9 - pos_usd) > 0:
                limit = est * (1.0 - th)
                n = int(min(self.clip, room_long) / (limit * lot))
                if n > 0:
                    take(v, self.account, k, BUY, n, limit, "ioc")
            elif bb is not None and bb * tick > est * (1.0 + th) \
                    and (room_short := self.capital * self.lev * 0.9 + pos_usd) > 0:
                limit = est * (1.0 + th)
                n = int(min(self.clip, room_short) / (limit * lot))
                if n > 0:
                    take(v, self.account, k, SELL, n, limit, "ioc")
            elif pos != 0 and ba is not None and bb is not None:
                mid = 0.5 * (ba + bb) * tick
                if abs(mid / est - 1.0) < th / 2.0:   # the gap has closed: take the profit back
                    n = min(abs(pos), int(self.clip / (mid * lot)))
                    if n > 0:
                        side = SELL if pos > 0 else BUY
                        limit = est * (1.0 - th / 2.0) if side == SELL else est * (1.0 + th / 2.0)
                        take(v, self.account, k, side, n, limit, "ioc", reduce_only=True)
            if p.rest_exit:
                self._rest_exit(est, th)
        m.schedule_event(self.act, after=0.5 + float(self.own_rng.exponential(p.act_minutes)))

    def _rest_exit(self, est: float, th: float) -> None:
        """Holding a position, rest one order for all of it at est x (1 +- th / 2); the resting one is left in
        place (keeping its queue priority) while it still covers the whole position and its price is within
        th / 4 of the new one, else cancelled and re-posted (one venue.replace_ladder: cancel_all then
        post_ladder); flat, none."""
        v = self.venue
        k = self.k
        book = v.books[k]
        pos = v.position(self.account, k)
        last = self._exit_posted
        if pos == 0 and last is None and not book.has_orders(self.account):
            return   # flat with nothing resting (what follows would cancel nothing and post nothing)
        price = est * (1.0 + th / 2.0) if pos > 0 else est * (1.0 - th / 2.0)
        resting = book.orders_of(self.account)
        if pos != 0 and last is not None and resting == [last[0]] and last[1] == pos \
                and abs(last[2] / price - 1.0) < th / 4.0:
            return
        self._exit_posted = None
        if pos == 0 or price < book.tick_size:
            if resting:
                v.cancel_all(self.account, k)
            return
        side = SELL if pos > 0 else BUY
        if v.replace_ladder(self.account, k, [(side, float(price), abs(int(pos)))]):
            ids = book.orders_of(self.account)
            if len(ids) == 1:
                self._exit_posted = (ids[0], pos, price)
