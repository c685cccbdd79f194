"""Delta-neutral points farmers: long on one venue, short the same asset on another.

Each venue is its own clearinghouse, so the two legs are margined apart: a price move drains one leg while the
other gains, and collateral can only be moved by a withdrawal that lands on the other venue after
`transfers.delay_minutes`. When a leg is liquidated, taken over or ADL'd, the other is suddenly naked (the
10 October 2025 farmers, MECHANICS "delta-neutral farmers").

Entry rule (documented, responds to incentives): the expected daily yield of a pair per USD of notional is
    points value (volume points on both legs for the round trip over `hold_days`, open-interest points on both
    legs) + the funding the pair collects (short leg's rate - long leg's rate, per day) - taker fees of the round
    trip spread over `hold_days`;
a farmer enters the best pair when yield x leverage (per USD of its capital) exceeds its hurdle rate, drawn per
farmer, and commits the share min(1, yield x leverage / (2 x hurdle)) of its capital (half of it at the hurdle,
all of it at twice the hurdle): richer incentives bring both more farmers and bigger positions. Half the
committed capital goes to each venue; the notional per leg is that half x leverage.
"""

from __future__ import annotations

from functools import cached_property

import mesa
import numpy as np

from venues.orderbook import BUY, SELL

from .base import stream, stream_of
from .params import FarmerParams, Incentives  # noqa: F401  (defined there, without Mesa: conf/schema.py reads them)


def pair_yield_per_day(point_value_usd: float, inc_long: Incentives, inc_short: Incentives,
                       funding_long_per_hour: float, funding_short_per_hour: float, taker_long: float,
                       taker_short: float, hold_days: float) -> float:
    """Expected daily yield per USD of notional per leg of a long-here short-there pair (see module doc)."""
    volume = (inc_long.points_per_volume_usd + inc_short.points_per_volume_usd) * 2.0 / hold_days
    oi = (inc_long.points_per_oi_usd_hour + inc_short.points_per_oi_usd_hour) * 24.0
    funding = (funding_short_per_hour - funding_long_per_hour) * 24.0   # the short receives, the long pays
    fees = (taker_long + taker_short) * 2.0 / hold_days
    return point_value_usd * (volume + oi) + funding - fees


def best_pair(yields: np.ndarray) -> tuple[int, int, float]:
    """(long venue, short venue, yield) of the best ordered pair in a (venues x venues) yield matrix whose
    diagonal is ignored (the two legs must be on different venues)."""
    y = np.array(yields, dtype=float)
    np.fill_diagonal(y, -np.inf)
    flat = int(np.argmax(y))
    a, b = divmod(flat, y.shape[1])
    return a, b, float(y[a, b])


def commit_share(daily_return: float, hurdle: float) -> float:
    """Share of its capital a farmer commits at this expected daily return on capital (see module doc)."""
    if hurdle <= 0:
        return 1.0
    return min(1.0, daily_return / (2.0 * hurdle))


def transfer_needed(equity: float, maintenance: float, alert_ratio: float) -> float:
    """USD a leg needs to get back to twice the alert ratio of maintenance margin (0 if it is above alert)."""
    if maintenance <= 0 or equity >= alert_ratio * maintenance:
        return 0.0
    return 2.0 * alert_ratio * maintenance - equity


_STATE_CODE = {"idle": 0, "hedged": 1, "broken": 2, "closed": 3}
_HEDGED, _BROKEN = _STATE_CODE["hedged"], _STATE_CODE["broken"]


class Farmer(mesa.Agent):
    """A delta-neutral farmer with an account on each of two venues."""

    def __init__(self, model, index: int, capital: float, leverage: float, hurdle_daily: float):
        super().__init__(model)
        self.index = index
        self.capital = capital
        self.leverage = leverage
        self.hurdle_daily = hurdle_daily
        self.legs: dict[str, int] = {}        # venue name -> account id
        self.long_venue: str | None = None
        self.short_venue: str | None = None
        self.market = "BTC"
        # its state's code is kept in the model's FarmWatch array too (read there once a minute for all)
        self._codes = getattr(getattr(model, "farm_watch", None), "codes", None)
        self.state = "idle"
        self.broken_at: int | None = None

    @cached_property
    def own_rng(self) -> np.random.Generator:
        """This trader's own stream (settled rule 10), made when first drawn from: the same generator whenever
        that is, and a population of 100,000 is built without making 100,000 of them up front."""
        words = self.model.__dict__.get("farmer_words")   # the population's seed words (model build)
        if words is None:
            return stream(self.model.cfg.seed, "agent", "farmer", self.index)
        return stream_of(words[self.index])   # the same generator, made from its words (agents/base.py)

    @property
    def state(self) -> str:
        """idle, hedged, broken or closed."""
        return self._state

    @state.setter
    def state(self, s: str) -> None:
        self._state = s
        if self._codes is not None:
            self._codes[self.index] = _STATE_CODE[s]

    # ------------------------------------------------------------------ entry
    def consider_entry(self) -> None:
        model = self.model
        if self.state != "idle":
            return
        names = model.venue_names
        y = model.pair_yields(self.market, self.model.cfg.farmers.hold_days)
        a, b, yld = best_pair(y)
        if yld * self.leverage < self.hurdle_daily:
            model.schedule_event(self.consider_entry,
                                 after=0.5 + float(self.own_rng.exponential(model.cfg.farmers.check_minutes)))
            return
        self.long_venue, self.short_venue = names[a], names[b]
        half = self.capital * commit_share(yld * self.leverage, self.hurdle_daily) / 2.0
        notional = half * self.leverage * 0.9   # 10% headroom for fees and the walk of the book
        for name in (self.long_venue, self.short_venue):
            v = model.venues[name]
            if name not in self.legs:
                acct = v.open_account()
                v.deposit(acct, half)
                self.legs[name] = acct
            k = v.market_index(self.market)
            v.set_leverage(self.legs[name], k, min(self.leverage, v.max_leverage(k, notional)))
        lots = int(notional / (model.reference[self.market] * model.venues[self.long_venue].lot_size(self.market)))
        filled = []
        for name, side in ((self.long_venue, BUY), (self.short_venue, SELL)):
            r = model.venues[name].submit_order(self.legs[name], self.market, side, lots)
            filled.append(r.filled_lots)
        # square the legs if one filled less (delta-neutral means equal size)
        diff = filled[0] - filled[1]
        if diff > 0:
            model.venues[self.long_venue].submit_order(self.legs[self.long_venue], self.market, SELL, diff,
                                                       reduce_only=True)
        elif diff < 0:
            model.venues[self.short_venue].submit_order(self.legs[self.short_venue], self.market, BUY, -diff,
                                                        reduce_only=True)
        if min(filled) > 0:
            self.state = "hedged"
            model.register_farmer(self)   # watched every minute from now on (FarmWatch: margin alerts, broken legs)
        else:
            model.schedule_event(self.consider_entry,
                                 after=0.5 + float(self.own_rng.exponential(model.cfg.farmers.check_minutes)))

    # ------------------------------------------------------------------ monitoring
    def leg_lots(self, name: str) -> int:
        v = self.model.venues[name]
        return v.position(self.legs[name], self.market)

    def rebalance(self) -> None:
        """Move collateral from the richer leg to one near maintenance (on a margin alert from the model's watch,
        FarmWatch, once a minute); the withdrawal leaves now, the deposit lands after the transfer delay."""
        model, p = self.model, self.model.cfg.farmers
        states = {}
        for name in (self.long_venue, self.short_venue):
            v = model.venues[name]
            states[name] = v.margin(self.legs[name])
        for poor, rich in ((self.long_venue, self.short_venue), (self.short_venue, self.long_venue)):
            need = transfer_needed(states[poor][0], states[poor][1], p.alert_margin_ratio)
            if need > 0 and not model.transfer_pending(self, poor):
                v = model.venues[rich]
                amount = min(need, v.withdrawable(self.legs[rich]))
                if amount > 1.0:
                    model.transfer(self, rich, self.legs[rich], poor, self.legs[poor], amount)

    def on_broken(self, t: int) -> None:
        """A leg was closed by liquidation, backstop or ADL while the other stayed open."""
        self.state = "broken"
        self.broken_at = t
        self.model.schedule_event(self.react, after=self.model.cfg.farmers.reaction_minutes)

    def react(self) -> None:
        model, policy = self.model, self.model.cfg.farmers.policy
        if self.state != "broken" or policy == "hold":
            return
        for name in (self.long_venue, self.short_venue):
            lots = self.leg_lots(name)
            if lots == 0:
                continue
            v = model.venues[name]
            if policy == "close_other":
                v.submit_order(self.legs[name], self.market, SELL if lots > 0 else BUY, abs(lots), reduce_only=True)
            else:  # rehedge: reopen the closed leg's side on its venue, if margin allows
                other = self.short_venue if name == self.long_venue else self.long_venue
                w = model.venues[other]
                w.submit_order(self.legs[other], self.market, BUY if lots < 0 else SELL, abs(lots))
        if self.leg_lots(self.long_venue) == 0 and self.leg_lots(self.short_venue) == 0:
            self.state = "closed"
        elif self.leg_lots(self.long_venue) != 0 and self.leg_lots(self.short_venue) != 0:
            self.state = "hedged"
        else:   # still naked: the intent stays armed and is tried again next minute (settled rule 13c)
            model.schedule_event(self.react, after=1.0)

    def naked_notional(self) -> float:
        if self.state not in ("broken",):
            return 0.0
        total = 0.0
        for name in (self.long_venue, self.short_venue):
            v = self.model.venues[name]
            k = v.market_index(self.market)
            total += abs(v.position(self.legs[name], k)) * v.lot_size(k) * v.mark_price(k)
        return total


class FarmWatch:
    """The model's watch over the farmers holding (or left with half of) a pair: broken hedges and margin alerts,
    checked once a minute in one vectorized pass over their legs (CascadeModel.step, after the waterfall)."""

    def __init__(self, model):
        self.model = model
        self.hedged: list[Farmer] = []   # the farmers watched, in the order they entered
        # their legs, row by row in that order: (long venue, account, market, short venue, account, market,
        # farmer index); kept as the list changes (a row appended on entry, rows dropped on exit)
        self._legs = np.zeros((max(16, model.cfg.n_farmers), 7), dtype=np.int64)
        self._cache = None               # per venue and leg side, the rows there (rebuilt when the list changes)
        self.codes = np.zeros(model.cfg.n_farmers, dtype=np.int8)   # every farmer's state code, by index

    def add(self, f: Farmer) -> None:
        m = self.model
        lv, sv = m.venues[f.long_venue], m.venues[f.short_venue]
        vidx = m.venue_names.index
        n = len(self.hedged)
        if n == self._legs.shape[0]:
            self._legs = np.concatenate([self._legs, np.zeros_like(self._legs)])
        self._legs[n] = (vidx(f.long_venue), f.legs[f.long_venue], lv.market_index(f.market),
                         vidx(f.short_venue), f.legs[f.short_venue], sv.market_index(f.market), f.index)
        self.hedged.append(f)
        self._cache = None

    def _rows(self) -> tuple:
        """The farmers' indices (self.hedged, in order), and per venue the legs there as (position, account, market):
        a leg's position is j for the long leg of the j-th farmer, n + j for its short leg (n farmers watched)."""
        if self._cache is None:
            n = len(self.hedged)
            arr = self._legs[:n]
            per_venue = []
            for vi in range(len(self.model.venue_names)):
                jl = np.flatnonzero(arr[:, 0] == vi)
                js = np.flatnonzero(arr[:, 3] == vi)
                per_venue.append((np.concatenate([jl, js + n]), np.concatenate([arr[jl, 1], arr[js, 4]]),
                                  np.concatenate([arr[jl, 2], arr[js, 5]])))
            self._cache = (arr[:, 6].copy(), per_venue)
        return self._cache

    def check(self) -> None:
        """Broken hedges (a leg closed by the waterfall) and margin alerts, from one vectorized pass over the
        watched farmers' legs; Python runs only for the farmers that must act."""
        m = self.model
        if not self.hedged:
            return
        index, per_venue = self._rows()
        vs = list(m.venues.values())
        n = len(self.hedged)
        lots = np.empty(2 * n)                # each leg's position in lots: the long legs, then the short legs
        for v, (pos, acct, mkt) in zip(vs, per_venue):
            if pos.size:
                lots[pos] = v.ch.lots[acct, mkt]
        l_lots, s_lots = lots[:n], lots[n:]
        state = self.codes[index]   # each watched farmer's state, as a code
        hedged = state == _HEDGED
        l_flat, s_flat = l_lots == 0, s_lots == 0
        broken_now = hedged & (l_flat != s_flat)
        closed_now = hedged & l_flat & s_flat
        still_hedged = hedged & ~(l_flat | s_flat)
        alert = None
        if still_hedged.any():
            leg_alert = np.zeros(2 * n, dtype=bool)
            ratio = m.cfg.farmers.alert_margin_ratio
            for v, (pos, acct, _) in zip(vs, per_venue):
                if pos.size:
                    # the venue's account_margins() at the legs' accounts alone (a compiled pass over those rows)
                    eq, mm = v.ch.account_margins_of(acct)
                    leg_alert[pos] = (mm > 0) & (eq < ratio * mm)
            alert = (leg_alert[:n] | leg_alert[n:]) & still_hedged
        for j in np.flatnonzero(broken_now).tolist():
            f = self.hedged[j]
            closed = f.long_venue if l_lots[j] == 0 else f.short_venue
            m.broken_log.append((m.steps, f.index, closed))
            f.on_broken(m.steps)
        for j in np.flatnonzero(closed_now).tolist():
            self.hedged[j].state = "closed"
        if alert is not None:
            for j in np.flatnonzero(alert).tolist():
                self.hedged[j].rebalance()
        broken = (state == _BROKEN) | broken_now
        m.ts_naked_usd[m.steps] = self._naked_usd(broken, lots, vs, per_venue) if broken.any() else 0.0
        keep = hedged | (state == _BROKEN)
        keep &= ~closed_now
        if not keep.all():
            k = int(keep.sum())
            self._legs[:k] = self._legs[:n][keep]
            self.hedged = [f for f, k in zip(self.hedged, keep.tolist()) if k]
            self._cache = None

    @staticmethod
    def _naked_usd(broken, lots, vs, per_venue) -> float:
        """USD notional at mark of the legs of the broken farmers (both legs, the closed one counting 0)."""
        n = broken.size
        px = np.zeros(2 * n)       # USD per lot of each leg's market
        for v, (pos, _, mkt) in zip(vs, per_venue):
            if pos.size:
                px[pos] = (v.ch.lot_size * v.ch.mark)[mkt]   # USD per lot, per market
        return float((np.abs(lots[:n]) * px[:n] + np.abs(lots[n:]) * px[n:])[broken].sum())
