"""A venue's prices: the index it is given, its mark by the venue's rule (settled rule 4), the premium and
funding (settled rule 5), the collateral oracle's values, and the halt window that freezes them (settled rule 8).
The arithmetic itself is in venues/prices.py.

`Pricing` is one of the parts `Venue` (venues/venue.py) is built from; it works on the state `Venue.__init__`
sets up (the clearinghouse `ch`, the books, the premium and basis statistics, the kept mark terms).
"""

from __future__ import annotations

import math

import numpy as np

from . import events as ev
from .params import SYNTH, USD
from .prices import binance_mark_from, binance_terms, funding_rate, hyperliquid_mark_from, hyperliquid_terms

STEP_MINUTES = 1.0  # one step is one minute (settled rule 4)


class Pricing:
    """Index, mark, premium, funding, collateral values and halts (a part of `Venue`)."""

    def set_halted(self, halted: bool) -> None:
        """Open or close the venue's halt window (settled rule 8): no orders, no matching, no funding, no
        liquidations, a frozen mark; at reopening the caller updates prices, then runs the waterfall."""
        self.halted = bool(halted)

    def mark_price(self, market: int | str) -> float:
        return self.ch.mark_list[self.market_index(market)]

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
        hist = self.basis_hist   # the newest row first (np.roll by one, in place)
        hist[1:] = hist[:-1]
        hist[0] = basis
        self._n_price_updates += 1
        alpha = 1.0 - math.exp(-STEP_MINUTES / p.premium_ema_minutes) if p.premium_ema_minutes > 0 else 1.0
        self.premium_ema += alpha * (basis - self.premium_ema)
        interval_min = self.interval_steps * STEP_MINUTES
        to_funding = (self.interval_steps - (self.step % self.interval_steps)) * STEP_MINUTES
        filled = min(self._n_price_updates, self.basis_hist.shape[0])
        for m in range(self.M):
            if p.mark_rule == "binance_like":
                self._mark_terms[m] = binance_terms(float(idx[m]), float(self.last_funding_rate[m]), to_funding,
                                                    interval_min, float(self.basis_hist[:filled, m].mean()))
            else:
                self._mark_terms[m] = hyperliquid_terms(float(idx[m]), float(self.premium_ema[m]),
                                                        None if other_mids is None else other_mids[m])
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
                mark[m] = binance_mark_from(self._mark_terms[m], last)
            else:
                bb, ba = book.best_bid(), book.best_ask()
                mark[m] = hyperliquid_mark_from(self._mark_terms[m], None if bb is None else bb * book.tick_size,
                                                None if ba is None else ba * book.tick_size, last)
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
