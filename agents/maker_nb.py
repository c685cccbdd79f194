"""A market maker's requote on numba books with its ladders computed in a kernel. A perp market: one kernel call,
its quoting rule (`market_maker.ladder` and the lots `MarketMaker.requote` makes of it, `ladder_orders`) and then
the ladder's replacement (`venues.ladder_nb.k_replace_ladder`: cancel_all, then post_ladder). A spot book: its
rows (`MarketMaker.requote_spot`'s bids and inventory-limited asks) in one call, posted by ladder_nb's spot
kernel. The same floating-point operations in the same order as the Python forms, so the same orders, books,
events and results; tests/test_maker_nb.py holds the two forms to each other. It saves building the ladders as
Python lists and checking them again (about 15 us of the 40 us a maker's minute took on two perp markets).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from venues.book_kernels import _entry
from venues.ladder_nb import _A2F, _A2I, _I, _V, _VF, OLD_PATH, k_replace_ladder, run_kernel, run_spot_kernel
from venues.orderbook_nb import OrderBookNB

# the quoting inputs, in this order, as one float row (Q)
_F = types.float64
FAIR, INVENTORY, VOL, DEPTH, LEVELS, HALF_SPREAD, STEP, CALM, LIMIT, SKEW, WITHDRAW, SIZE, TICK, LOT = range(14)


@njit(cache=True, inline="always")
def _ladder_rows(Q, rows, spot, held):
    """The ladder's orders as (side, price, lots) float rows in `rows`; their number, or -1 when the ladder is
    empty (withdrawn, or no fair value). held < 0: a perp ladder (`ladder_orders`: every rung at or above one
    tick, lots rounded down, zero lots included); spot: a spot ladder (`MarketMaker.requote_spot`: its
    bids, then asks limited to the `held` base units left, only the rungs with lots > 0)."""
    fair = Q[FAIR]
    x = Q[VOL] / Q[CALM]
    stress = x if x > 1.0 else 1.0                       # max(1.0, vol / calm)
    if not (Q[DEPTH] > 0 and not stress > Q[WITHDRAW] and fair > 0 and np.isfinite(fair)):
        return -1
    r = Q[INVENTORY] / Q[LIMIT]
    r = r if r < 1.0 else 1.0                            # min(1.0, r)
    u = r if r > -1.0 else -1.0                          # max(-1.0, ...)
    centre = fair * (1.0 - u * Q[SKEW] * 1e-4)
    levels = int(Q[LEVELS])
    per_level = Q[DEPTH] / levels / stress
    bid_usd = per_level * (1.0 - (u if u > 0.0 else 0.0))
    ask_usd = per_level * (1.0 - (-u if -u > 0.0 else 0.0))
    size, tick, lot = Q[SIZE], Q[TICK], Q[LOT]
    left = held
    n = 0
    for side in (1.0, -1.0):
        for k in range(levels):
            off = (Q[HALF_SPREAD] + k * Q[STEP]) * stress * 1e-4
            px = centre * (1.0 - off) if side == 1.0 else centre * (1.0 + off)
            if px < tick:
                continue
            if side == -1.0 and spot:
                a = ask_usd / px
                q = float(int((left if left < a else a) / lot))   # int(min(usd / px, left) / lot)
                left -= q * lot
            else:
                q = float(int(size * (bid_usd if side == 1.0 else ask_usd) / (px * lot)))
            if q > 0 or not spot:
                rows[3 * n] = side
                rows[3 * n + 1] = px
                rows[3 * n + 2] = q
                n += 1
    return n


@njit(_I(_V, _I, _I, _VF, _VF, _V, _V, _V, _I, _I, _I, _A2I, _A2I, _A2I, _A2F, _VF, _VF, _VF, _VF, _VF, _I),
      cache=True)
def k_requote(M, owner, oslot, Q, rows, tk, out, res, start, i, m, L, ob, osl, lev, lot, mark, P, upper, maxlev,
              oi_long):
    """Account i's ladder on market m from the quoting inputs Q (see the names above), written to `rows` (side,
    price, lots float rows; their count in res[3]; rows holds at least 6 x levels), then k_replace_ladder on
    them (its arguments and return value; `start` is passed on: -1)."""
    n = _ladder_rows(Q, rows, False, 0.0)
    n = n if n > 0 else 0
    res[3] = n
    return k_replace_ladder(M, owner, oslot, rows[:3 * n], tk, out, res, start, i, m, L, ob, osl, lev, lot, mark,
                            P, upper, maxlev, oi_long)


@njit(_I(_VF, _VF, _F), cache=True)
def k_spot_rows(Q, rows, held):
    """A spot ladder's rows with lots > 0 (see _ladder_rows; SIZE 1), their number, or -1 when it is empty."""
    return _ladder_rows(Q, rows, True, held)


_requote = _entry(k_requote)
_spot_rows = _entry(k_spot_rows)
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


def requote_spot(venue, account: int, s: int, fair: float, inventory_usd: float, vol_bps: float, p, held: float):
    """`venue.post_spot_ladder(account, s, orders)` with the orders `MarketMaker.requote_spot` makes from
    `ladder(fair, inventory_usd, vol_bps, p)` and the `held` base units, its rows computed in a kernel: the orders
    resting, -1 when the ladder is empty (nothing posted: withdrawn), or None (nothing done) where the kernel
    does not apply (not a numba book, an owner it has never seen, the venue halted)."""
    book = venue.spot_books[s]
    if not isinstance(book, OrderBookNB) or venue.halted:
        return None
    slot = book._oslot.get(account)
    if slot is None:
        return None
    rows = _rows["rows"]
    if rows.shape[0] < 6 * p.levels:
        rows = _rows["rows"] = np.zeros(6 * p.levels)
    Q = np.array([fair, inventory_usd, vol_bps, p.depth_usd, p.levels, p.half_spread_bps, p.level_step_bps,
                  p.calm_vol_bps, p.inventory_limit_usd, p.skew_bps, p.withdraw_threshold, 1.0, book.tick_size,
                  book.lot_size], np.float64)
    n = _spot_rows(Q, rows, held)
    if n <= 0:
        return n
    return run_spot_kernel(venue, account, s, book, slot, rows[:3 * n])


__all__ = ["requote", "requote_spot", "k_requote", "k_spot_rows", "OLD_PATH"]
