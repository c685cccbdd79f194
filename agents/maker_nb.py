"""A market maker's requote on numba books with its ladders computed in kernels. Perp markets: a venue's makers
queue their ladders of a minute on the venue's `Desk`, and one kernel call (`k_requote_desk`) computes each
ladder (the quoting rule, `market_maker.ladder`, and the lots `MarketMaker.requote` makes of it,
`ladder_orders`) and replaces it (`venues.ladder_nb.k_replace_ladder`: cancel_all, then post_ladder), job after
job in the makers' order. A spot book: its rows (`MarketMaker.requote_spot`'s bids and inventory-limited asks) in
one call, posted by ladder_nb's spot kernel. The same floating-point operations in the same order as the Python
forms, so the same orders, books, events and results; tests/test_maker_nb.py holds the two forms to each other.
A venue of more than two perp markets (none today) has no compiled desk: its makers take the Python path.
"""

from __future__ import annotations

import weakref

import numpy as np
from numba import njit, types

from venues.book_kernels import _entry
from venues.ladder_nb import (_A2F, _A2FC, _A2I, _I, _V, _VF, OLD_PATH, _consts, finish, k_replace_ladder,
                              kernel_tail, run_spot_kernel, scratch)
from venues.orders_nb import equity_less_locked
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


_QC = types.Array(types.float64, 2, "C")
_DESK_MARKETS = (1, 2)   # venues with this many perp markets have a compiled desk; others take the Python path


def _desk_sig(n: int):
    T = types.UniTuple
    return _I(T(_V, n), _V, _V, _V, _QC, _VF, _V, _V, _V, _I, _A2I, _A2I, _A2I, _A2F, _VF, _VF, T(_VF, n),
              T(_VF, n), T(_VF, n), _V, _V, _V, _A2F, _VF, _A2F, _A2F, _A2FC, types.boolean)


@njit([_desk_sig(n) for n in _DESK_MARKETS], cache=True)
def k_requote_desk(Ms, slots, accts, ms, Q, rows, tk, out, res, j0, L, ob, osl, lev, lot, mark, Ps, uppers,
                   maxlevs, oi_long, st, rej, bal, cw, qty, entry, spot_locked, has_spot):
    """A venue's requotes of one minute in turn from job j0: job j is account accts[j]'s (book owner row
    slots[j]) ladder on market ms[j] from the quoting inputs Q[j] (see the names above), written to `rows`
    (their count in res[3]) and then replaced by k_replace_ladder (Ms, Ps, uppers, maxlevs: per market, the
    book buffer, P with P[3] set to the account's equity less locked spot value, orders_nb.equity_less_locked
    over bal, cw, qty, entry, spot_locked; the tier bounds and max leverages; oi_long: the long open interest
    per market). The orders a job's book refused (post-only, crossing) are recorded in `rej` as (account, market,
    side, lots) rows, in order from row st[1], for the caller's REJECT events (the kernel writes no event, so
    they may follow at the end). Returns the number of jobs when every one is done in the kernel; else the job at
    which Python must take over (a Python path, or the book's growth), k_replace_ladder's return value in
    st[0]."""
    nj = ms.shape[0]
    for j in range(j0, nj):
        m = ms[j]
        P = Ps[m]
        a = accts[j]
        P[3] = equity_less_locked(a, bal, cw, qty, entry, mark, spot_locked, has_spot)
        n = _ladder_rows(Q[j], rows, False, 0.0)
        n = n if n > 0 else 0
        res[3] = n
        r = k_replace_ladder(Ms[m], a, slots[j], rows[:3 * n], tk, out, res, -1, a, m, L, ob, osl, lev, lot, mark,
                             P, uppers[m], maxlevs[m], oi_long[m])
        if r != res[0]:
            st[0] = r
            return j
        if res[2] != 0:
            for q in range(r):
                if out[q] == 0:
                    w = 4 * st[1]
                    rej[w] = a
                    rej[w + 1] = m
                    rej[w + 2] = tk[3 * q]
                    rej[w + 3] = tk[3 * q + 2]
                    st[1] += 1
    return nj


@njit(_I(_VF, _VF, _F), cache=True)
def k_spot_rows(Q, rows, held):
    """A spot ladder's rows with lots > 0 (see _ladder_rows; SIZE 1), their number, or -1 when it is empty."""
    return _ladder_rows(Q, rows, True, held)


_spot_rows = _entry(k_spot_rows)
_rows = {"rows": np.zeros(6 * 16)}
_desk_entry = {}
for _sig in getattr(k_requote_desk, "signatures", ()):   # none under NUMBA_DISABLE_JIT: the desk is not used
    try:
        _desk_entry[len(_sig[0])] = k_requote_desk.overloads[_sig].entry_point
    except Exception:   # pragma: no cover - numba internals changed
        _desk_entry[len(_sig[0])] = k_requote_desk


class Desk:
    """A venue's perp requotes of one minute (`MarketMaker.requote`), gathered in the order the makers send them
    and replaced in one kernel call (`flush`): the same orders, books, events and results as each maker's
    `venue.replace_ladder(account, m, ladder_orders(...))` in that order. Nothing else may touch the venue
    between a job's `add` and the `flush` that runs it: the makers flush before anything else they do there.
    Each job reads only its own account and book (post-only ladders fill nothing: no account's equity, no
    open interest changes within a flush)."""

    def __init__(self, venue):
        self._venue = weakref.ref(venue)   # weak: the desks' table (_DESKS) is keyed by the venue
        self.jobs: list[tuple] = []

    @property
    def venue(self):
        return self._venue()

    def add(self, account: int, m: int, fair: float, inventory_usd: float, vol_bps: float, p, size: float) -> bool:
        """Queue the ladder `MarketMaker.requote` makes from `ladder(fair, inventory_usd, vol_bps, p)` at `size`
        on market m; False (nothing queued) where the kernel does not apply (not a numba book, an owner it has
        never seen, the venue halted, an isolated account, a venue of more markets than a compiled desk has):
        the caller flushes and takes the Python path."""
        venue = self.venue
        book = venue.books[m]
        if not isinstance(book, OrderBookNB) or venue.halted or venue.M not in _desk_entry:
            return False
        slot = book._oslot.get(account)
        if slot is None or venue.ch.isolated[account]:
            return False
        self.jobs.append((account, m, slot, p.levels, (fair, inventory_usd, vol_bps, p.depth_usd, p.levels,
                          p.half_spread_bps, p.level_step_bps, p.calm_vol_bps, p.inventory_limit_usd, p.skew_bps,
                          p.withdraw_threshold, size, book.tick_size, book.lot_size)))
        return True

    def flush(self) -> int | None:
        """Run the queued jobs in order; the orders resting of the last one (None when none was queued)."""
        jobs = self.jobs
        if not jobs:
            return None
        self.jobs = []
        venue = self.venue
        ch = venue.ch
        n = len(jobs)
        accts = np.array([j[0] for j in jobs], np.int64)
        ms = np.array([j[1] for j in jobs], np.int64)
        slots = np.array([j[2] for j in jobs], np.int64)
        Q = np.array([j[4] for j in jobs], np.float64)
        levels = max(j[3] for j in jobs)
        rows = _rows["rows"]
        if rows.shape[0] < 6 * levels:
            rows = _rows["rows"] = np.zeros(6 * levels)
        tk, out, res = scratch(2 * levels)
        consts = [_consts(venue, m) for m in range(venue.M)]
        Ps = tuple(c[0] for c in consts)
        uppers = tuple(c[1] for c in consts)
        maxlevs = tuple(c[2] for c in consts)
        oi = np.array(ch.oi_long_lots, np.int64)
        st = np.zeros(2, np.int64)
        rej = np.empty(4 * 2 * levels * n, np.int64)
        kernel = _desk_entry[venue.M]
        has_spot = bool(venue.spot_books)
        books = venue.books
        j = 0
        while True:
            j = kernel(tuple(b._M for b in books), slots, accts, ms, Q, rows, tk, out, res, j, ch.lots,
                       ch.open_buy, ch.open_sell, ch.leverage, ch.lot_size, ch.mark, Ps, uppers, maxlevs, oi, st,
                       rej, ch.bal, ch.weight_array, ch.qty, ch.entry, venue.spot_locked, has_spot)
            if st.item(1):   # the REJECT rows of the jobs done, in order (Orders.log_reject's events)
                reject = venue.log_reject
                x = rej[:4 * st.item(1)].tolist()
                for q in range(0, len(x), 4):
                    reject(x[q], x[q + 1], x[q + 2], x[q + 3], "post_only_would_cross")
                st[1] = 0
            if j == n:
                return res.item(1)
            # job j stopped in the kernel: its rest in Python (ladder_nb.finish, as for one requote)
            a, m = int(accts[j]), int(ms[j])
            last = finish(venue, a, m, books[m], int(slots[j]), st.item(0), rows[:3 * res.item(3)],
                          kernel_tail(ch, a, m, Ps[m], uppers[m], maxlevs[m]))
            j += 1
            if j == n:
                return last


_DESKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()   # venue -> its desk (gone with the venue)


def desk(venue) -> Desk:
    """The venue's desk (made on first use)."""
    d = _DESKS.get(venue)
    if d is None:
        d = _DESKS[venue] = Desk(venue)
    return d


def requote(venue, account: int, m: int, fair: float, inventory_usd: float, vol_bps: float, p, size: float):
    """`venue.replace_ladder(account, m, orders)` with the orders `MarketMaker.requote` makes from
    `ladder(fair, inventory_usd, vol_bps, p)` at `size`, in one kernel call (a desk of one job): the orders
    resting, or None (nothing done) where the kernel does not apply (see Desk.add): the caller takes the Python
    path."""
    d = desk(venue)
    d.flush()
    if not d.add(account, m, fair, inventory_usd, vol_bps, p, size):
        return None
    return d.flush()


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


__all__ = ["Desk", "desk", "requote", "requote_spot", "k_requote_desk", "k_spot_rows", "OLD_PATH"]
