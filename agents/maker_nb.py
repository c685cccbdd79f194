"""A market maker's perp requote on a numba book in one kernel call: its quoting rule (`market_maker.ladder` and
the lots `MarketMaker.requote` makes of it) computed in the kernel, then the ladder's replacement
(`venues.ladder_nb.k_replace_ladder`: cancel_all, then post_ladder). The same floating-point operations in the
same order as the Python forms, so the same orders, book, events and results; tests/test_maker_nb.py holds the two
forms to each other. It saves building the ladder as Python lists and checking them again (about 15 us of the
40 us a maker's minute took on two markets).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from venues.ladder_nb import _A2F, _A2I, _I, _V, _VF, OLD_PATH, k_replace_ladder, run_kernel
from venues.orderbook_nb import OrderBookNB

# the quoting inputs, in this order, as one float row (Q)
FAIR, INVENTORY, VOL, DEPTH, LEVELS, HALF_SPREAD, STEP, CALM, LIMIT, SKEW, WITHDRAW, SIZE, TICK, LOT = range(14)


@njit(_I(_V, _I, _I, _VF, _VF, _V, _V, _V, _I, _I, _I, _A2I, _A2I, _A2I, _A2F, _VF, _VF, _VF, _VF, _VF, _I),
      cache=True)
def k_requote(M, owner, oslot, Q, rows, tk, out, res, start, i, m, L, ob, osl, lev, lot, mark, P, upper, maxlev,
              oi_long):
    """Account i's ladder on market m from the quoting inputs Q (see the names above), written to `rows` (side,
    price, lots float rows; their count in res[3]; rows holds at least 6 x levels), then k_replace_ladder on
    them (its arguments and return value; `start` is passed on: -1)."""
    fair = Q[FAIR]
    n = 0
    x = Q[VOL] / Q[CALM]
    stress = x if x > 1.0 else 1.0                       # max(1.0, vol / calm)
    if Q[DEPTH] > 0 and not stress > Q[WITHDRAW] and fair > 0 and np.isfinite(fair):
        r = Q[INVENTORY] / Q[LIMIT]
        r = r if r < 1.0 else 1.0                        # min(1.0, r)
        u = r if r > -1.0 else -1.0                      # max(-1.0, ...)
        centre = fair * (1.0 - u * Q[SKEW] * 1e-4)
        levels = int(Q[LEVELS])
        per_level = Q[DEPTH] / levels / stress
        bid_usd = per_level * (1.0 - (u if u > 0.0 else 0.0))
        ask_usd = per_level * (1.0 - (-u if -u > 0.0 else 0.0))
        size, tick, lot_m = Q[SIZE], Q[TICK], Q[LOT]
        for side in (1.0, -1.0):
            usd = bid_usd if side == 1.0 else ask_usd
            for k in range(levels):
                off = (Q[HALF_SPREAD] + k * Q[STEP]) * stress * 1e-4
                px = centre * (1.0 - off) if side == 1.0 else centre * (1.0 + off)
                if px >= tick:
                    rows[3 * n] = side
                    rows[3 * n + 1] = px
                    rows[3 * n + 2] = float(int(size * usd / (px * lot_m)))
                    n += 1
    res[3] = n
    return k_replace_ladder(M, owner, oslot, rows[:3 * n], tk, out, res, start, i, m, L, ob, osl, lev, lot, mark,
                            P, upper, maxlev, oi_long)


_requote = k_requote.overloads[k_requote.signatures[0]].entry_point if k_requote.signatures else k_requote
_rows = {"rows": np.zeros(6 * 16)}


def requote(venue, account: int, m: int, fair: float, inventory_usd: float, vol_bps: float, p, size: float):
    """`venue.replace_ladder(account, m, orders)` with the orders `MarketMaker.requote` makes from
    `ladder(fair, inventory_usd, vol_bps, p)` at `size`, in one kernel call; None (nothing done) where the
    kernel does not apply (not a numba book, an owner it has never seen, the venue halted, an isolated account):
    the caller takes the Python path."""
    book = venue.books[m]
    if not isinstance(book, OrderBookNB) or venue.halted:
        return None
    slot = book._oslot.get(account)
    if slot is None or venue.ch.isolated[account]:
        return None
    rows = _rows["rows"]
    if rows.shape[0] < 6 * p.levels:
        rows = _rows["rows"] = np.zeros(6 * p.levels)
    Q = np.array([fair, inventory_usd, vol_bps, p.depth_usd, p.levels, p.half_spread_bps, p.level_step_bps,
                  p.calm_vol_bps, p.inventory_limit_usd, p.skew_bps, p.withdraw_threshold, size, book.tick_size,
                  book.lot_size], np.float64)
    return run_kernel(venue, account, m, book, slot, _requote, (Q, rows), 2 * p.levels)


__all__ = ["requote", "k_requote", "OLD_PATH"]
