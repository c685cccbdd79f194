"""A market maker's requote of one perp market, `cancel_all(account, m)` then `post_ladder(account, m, orders)`
(venues/orders.py), in one numba kernel call over the numba book's buffer (venues/orderbook_nb.py) and the
clearinghouse's arrays: the same book buffer, order ids, open_buy / open_sell, events (in the same order) and
rejections as the two Python calls. tests/test_ladder_nb.py checks the two forms against each other.

What the kernel does, in the Python code's operations and order: the cancel of the owner's resting orders
(`k_cancel_all_of`, its out rows included) and the release of their open lots; the ladder's filter (lots > 0)
and validity; the ticks (`OrderBook.to_ticks`); `Orders._ladder_fits` (settled rule 7's tier max leverage
through the tier bounds, the OI cap per order, the worst order's fee and adverse fill, initial margin summed
as CPython 3.12's `sum` of floats); the post-only posts (`k_post_passive`) and the open lots of what rests.
What stays in Python: the equity less locked spot value (`unit_equity(i, -1) - _locked_value(i)`, passed in:
a perp cancel does not change it), a REJECT row per refused (crossing) order after the kernel, the book's growth
when it needs room (the kernel stops at that order and is called again from it), and every case the kernel
leaves to the Python path:
- the two Python calls as they are (nothing done first): the venue halted, an isolated account (its ladder never
  passes the one-ladder check), an owner the book has never seen, an input that is not a list of (int side,
  float price, int lots) triples, lots of 2**53 or more, a price whose ticks are not finite or too large;
- after the kernel's cancel, `submit_order` order by order (`Orders._post_each`, post_ladder's own fallback):
  an invalid ladder (a side other than BUY / SELL, a price not > 0) or one that fails the one-ladder check.
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from numba import njit, types

from .orderbook import BUY
from .margin_nb import _nadd
from .orderbook_nb import H_FOFF, OrderBookNB, _crosses, _entry, _rest, _room, k_cancel_all_of

__all__ = ["replace_ladder", "k_replace_ladder"]

_I = types.int64
_V = types.Array(types.int64, 1, "C")
_VF = types.Array(types.float64, 1, "C")
_A2I = types.Array(types.int64, 2, "F")
_A2F = types.Array(types.float64, 2, "F")

OLD_PATH = -2    # nothing done: the caller runs cancel_all + post_ladder
EACH = -1        # cancelled; the ladder goes to submit_order order by order
_BIG = 2.0 ** 53
_TICKS_MAX = 2.0 ** 62


@njit(_I(_V, _I, _I, _VF, _V, _V, _V, _I, _I, _I, _A2I, _A2I, _A2I, _A2F, _VF, _VF, _VF, _VF, _VF, _I),
      cache=True)
def k_replace_ladder(M, owner, oslot, orders, tk, out, res, start, i, m, L, ob, osl, lev, lot, mark, P, upper,
                     maxlev, oi_long):
    """Account i (= owner, book owner row oslot) replaces its orders in market m by the ladder `orders` (side,
    price, lots float rows). start < 0: a fresh call (cancel, check, post from the first order); else the posting
    resumes at ticked row `start` (after the book grew). tk (>= 3 x rows), out (>= rows): scratch for the ticked
    ladder and its ids (0: refused). P: tick, taker fee, OI cap, equity less locked value. res: rows kept, orders
    resting, orders refused. Returns OLD_PATH, EACH, or the ticked row it stopped at (res[0] when done; earlier
    when the book needs room)."""
    tick = P[0]
    if start < 0:
        n = orders.shape[0] // 3
        # what the kernel cannot reproduce goes to the Python path before anything changes
        for r in range(n):
            q = orders[3 * r + 2]
            if q > 0 and (q >= _BIG or not (orders[3 * r + 1] / tick < _TICKS_MAX)):
                return OLD_PATH
        # cancel_all(account, m)
        k = k_cancel_all_of(M, oslot)
        foff = M[H_FOFF]
        buys = 0
        sells = 0
        for t in range(k):
            if M[foff + 3 * t] == BUY:
                buys += M[foff + 3 * t + 2]
            else:
                sells += M[foff + 3 * t + 2]
        ob[i, m] -= buys
        osl[i, m] -= sells
        # post_ladder: the orders with lots > 0, their validity, their ticks
        cnt = 0
        valid = True
        for r in range(n):
            q = orders[3 * r + 2]
            if not q > 0:
                continue
            side = orders[3 * r]
            x = orders[3 * r + 1] / tick
            cnt += 1
            if not ((side == 1.0 or side == -1.0) and orders[3 * r + 1] > 0):
                valid = False
                continue
            j = 3 * (cnt - 1)
            if side == 1.0:
                tk[j + 1] = int(x + 1e-9) if x >= 0 else -int(-x)
            else:
                nn = int(x)
                tk[j + 1] = nn + 1 if x - nn > 1e-9 else nn
            tk[j] = int(side)
            tk[j + 2] = int(q)
        res[0] = cnt
        res[1] = 0
        res[2] = 0
        if cnt == 0:
            return 0
        if not valid:
            return EACH
        # _ladder_fits (the account is not isolated: the caller sent isolated accounts to the Python path)
        bsum = 0
        ssum = 0
        for j in range(cnt):
            if tk[3 * j] == BUY:
                bsum += tk[3 * j + 2]
            else:
                ssum += tk[3 * j + 2]
        lm = L[i, m]
        a1 = abs(lm + ob[i, m] + bsum)
        a2 = abs(lm - osl[i, m] - ssum)
        wm = (a1 if a1 >= a2 else a2) * lot[m] * mark[m]
        kb = 0
        nup = upper.shape[0]
        while kb < nup and upper[kb] < wm:   # bisect_left over the ascending bounds
            kb += 1
        if lev[i, m] > maxlev[kb] * (1 + 1e-12):
            return EACH
        fee = P[1]
        cap = P[2]
        lot_m = lot[m]
        mark_m = mark[m]
        oi_usd = oi_long * lot_m * mark_m
        worst_cost = 0.0
        for j in range(cnt):
            nq = tk[3 * j + 2]
            est = tk[3 * j + 1] * tick
            q = nq * lot_m
            if tk[3 * j] == BUY:
                d = abs(lm + nq) - abs(lm)
                adv = (est - mark_m) * q
            else:
                d = abs(lm - nq) - abs(lm)
                adv = (mark_m - est) * q
            increase = (d if d > 0 else 0) * lot_m * mark_m
            adverse = adv if adv > 0.0 else 0.0
            if increase > 0 and oi_usd + increase > cap:
                return EACH
            cost = q * est * fee + adverse
            if cost > worst_cost:
                worst_cost = cost
        s = 0.0
        c = 0.0
        for kk in range(L.shape[1]):
            if kk == m:
                w = wm
            else:
                a1 = abs(L[i, kk] + ob[i, kk])
                a2 = abs(L[i, kk] - osl[i, kk])
                w = (a1 if a1 >= a2 else a2) * lot[kk] * mark[kk]
            s, c = _nadd(s, c, w / lev[i, kk])
        if c != 0.0 and np.isfinite(c):
            s += c
        if not P[3] - worst_cost >= s - 1e-9:
            return EACH
        start = 0
    cnt = res[0]
    # book.post_passive(account, ticked) (k_post_passive's loop)
    for j in range(start, cnt):
        side = tk[3 * j]
        price = tk[3 * j + 1]
        b = 0 if side == BUY else 1
        if _crosses(M, side, price):
            out[j] = 0
            continue
        if not _room(M, b):
            return j
        out[j] = _rest(M, b, side, price, tk[3 * j + 2], owner, oslot)
    buys = 0
    sells = 0
    resting = 0
    for j in range(cnt):
        if out[j] == 0:
            continue
        resting += 1
        if tk[3 * j] == BUY:
            buys += tk[3 * j + 2]
        else:
            sells += tk[3 * j + 2]
    ob[i, m] += buys
    osl[i, m] += sells
    res[1] = resting
    res[2] = cnt - resting
    return cnt


_replace = _entry(k_replace_ladder)
_scratch = {"tk": np.zeros(3 * 64, np.int64), "out": np.zeros(64, np.int64), "res": np.zeros(4, np.int64)}


def _consts(venue, m):
    """P (tick, taker fee, OI cap, slot for the equity) and the tier bounds and max leverages of market m, cached
    per venue (as venues/orders_nb.py caches its own)."""
    cache = venue.__dict__.get("_nb_ladder")
    if cache is None:
        cache = venue._nb_ladder = {}
    c = cache.get(m)
    if c is None:
        tiers = venue.ch.tiers[m]
        P = np.array([venue.books[m].tick_size, venue.fee_taker,
                      venue.params.perps[venue.perp_names[m]].oi_cap_usd, 0.0])
        c = cache[m] = (P, np.asarray(tiers._upper, dtype=np.float64).copy(),
                        np.asarray(tiers.max_leverage, dtype=np.float64).copy())
    return c


def replace_ladder(venue, account: int, m: int, orders) -> int:
    """`venue.cancel_all(account, m)` then `venue.post_ladder(account, m, orders)` (post-only): the same state,
    events and return value (the orders resting), in one kernel call when the book is an OrderBookNB."""
    book = venue.books[m]
    slot = book._oslot.get(account) if isinstance(book, OrderBookNB) else None
    if slot is None or venue.halted or venue.ch.isolated[account] or type(orders) is not list:
        return _python_path(venue, account, m, orders)
    try:   # (int side, float price, int lots) triples, else the Python path
        for side, price, lots in orders:
            if type(side) is not int or type(price) is not float or type(lots) is not int:
                raise TypeError
    except (TypeError, ValueError):
        return _python_path(venue, account, m, orders)
    n = len(orders)
    try:
        flat = np.fromiter(chain.from_iterable(orders), np.float64, 3 * n)
    except OverflowError:   # an int beyond float range
        return _python_path(venue, account, m, orders)
    return run_kernel(venue, account, m, book, slot, flat, n, orders)


def _python_path(venue, account: int, m: int, orders) -> int:
    venue.cancel_all(account, m)
    return venue.post_ladder(account, m, orders)


def orders_of(flat: np.ndarray) -> list[tuple[int, float, int]]:
    """The (side, price, lots) triples of a ladder's float rows (lots below 2**53: exact)."""
    x = flat.tolist()
    return [(int(x[j]), x[j + 1], int(x[j + 2])) for j in range(0, len(x), 3)]


def scratch(n: int) -> tuple:
    """k_replace_ladder's scratch arrays (tk, out, res), grown to hold a ladder of n rows."""
    sc = _scratch
    if sc["out"].shape[0] < n:
        sc["tk"] = np.zeros(3 * n, np.int64)
        sc["out"] = np.zeros(n, np.int64)
    return sc["tk"], sc["out"], sc["res"]


def kernel_tail(ch, account: int, m: int, P, upper, maxlev) -> tuple:
    """k_replace_ladder's arguments after `start` for account `account` on market m."""
    return (account, m, ch.lots, ch.open_buy, ch.open_sell, ch.leverage, ch.lot_size, ch._mark, P, upper, maxlev,
            ch.oi_long_lots[m])


def run_kernel(venue, account: int, m: int, book, slot: int, flat: np.ndarray, n: int, orders=None) -> int:
    """k_replace_ladder's call on account `account` (book owner row `slot`) of market m for the ladder's float rows
    `flat` (n of them) and what follows it in Python (`finish`); orders: the ladder as triples, if the caller has
    them (else read back from its rows). The makers' desk (agents/maker_nb.py) calls its own kernel and `finish`."""
    tk, out, res = scratch(n)
    P, upper, maxlev = _consts(venue, m)
    P[3] = venue.ch.unit_equity(account, -1) - venue._locked_value(account)
    tail = kernel_tail(venue.ch, account, m, P, upper, maxlev)
    r = _replace(book._M, account, slot, flat, tk, out, res, -1, *tail)
    return finish(venue, account, m, book, slot, r, flat, tail, orders)


def finish(venue, account: int, m: int, book, slot: int, r: int, flat: np.ndarray, tail: tuple, orders=None) -> int:
    """What follows a ladder kernel that returned r for account `account`'s ladder `flat` (float rows) on market m
    (`tail`: the kernel's arguments after `start`, with P[3] as the kernel had it): the Python paths it left to,
    the book's growth (the posts resume where they stopped) and the REJECT rows; the orders resting."""
    tk, out, res = scratch(0)
    if r == OLD_PATH:
        return _python_path(venue, account, m, orders if orders is not None else orders_of(flat))
    if r == EACH:
        orders = orders if orders is not None else orders_of(flat)
        return venue._post_each(account, m, [(sd, px, n) for sd, px, n in orders if n > 0], True)
    cnt = res.item(0)
    while r < cnt:
        book._grow()
        r = _replace(book._M, account, slot, flat, tk, out, res, r, *tail)
    if res.item(2):
        orders = orders if orders is not None else orders_of(flat)
        reject = venue._reject
        for (side, _price, lots), oid in zip([o for o in orders if o[2] > 0], out[:cnt].tolist()):
            if oid == 0:
                reject(account, m, side, lots, "post_only_would_cross")
    return res.item(1)


# ---------------------------------------------------------------------------------------------- spot ladders
_A2FC = types.Array(types.float64, 2, "C")


@njit(_I(_V, _I, _I, _VF, _V, _V, _I, _I, _I, _A2FC, _VF), cache=True)
def k_spot_ladder(M, owner, oslot, orders, tk, res, start, i, base, sl, P):
    """`post_spot_ladder` of account i (= owner, book owner row oslot) on one spot book whose base asset is
    column `base` of the spot reservations `sl`: orders (side, price, lots float rows, all lots > 0). P: tick,
    lot, 1 + max(taker fee, maker fee, 0), 1 + maker fee, free USD, free base (the ladder's balance check).
    start < 0: a fresh call (validity, ticks, the check, then the posts); else the posts resume at row `start`.
    Returns OLD_PATH (nothing done: invalid, too large, or the ladder fails the check), or the row it stopped at:
    all rows when done, earlier at an order that would trade (res[1] = 1: the Python loop takes over there) or
    when the book needs room (res[1] = 2). res[0]: the orders it left resting."""
    tick = P[0]
    lot = P[1]
    n = orders.shape[0] // 3
    if start < 0:
        usd_need = 0.0
        base_need = 0.0
        for r in range(n):
            side = orders[3 * r]
            price = orders[3 * r + 1]
            q = orders[3 * r + 2]
            if not ((side == 1.0 or side == -1.0) and price > 0) or q >= _BIG:
                return OLD_PATH
            x = price / tick
            if not x < _TICKS_MAX:
                return OLD_PATH
            if side == 1.0:
                t = int(x + 1e-9) if x >= 0 else -int(-x)
            else:
                nn = int(x)
                t = nn + 1 if x - nn > 1e-9 else nn
            lots = int(q)
            tk[3 * r] = int(side)
            tk[3 * r + 1] = t
            tk[3 * r + 2] = lots
            qq = lots * lot
            if side == 1.0:
                usd_need += qq * (t * tick) * P[2]
            else:
                base_need += qq
        if not (usd_need <= P[4] + 1e-9 and base_need <= P[5] + 1e-12):
            return OLD_PATH
        start = 0
        res[0] = 0
    for j in range(start, n):
        side = tk[3 * j]
        price = tk[3 * j + 1]
        lots = tk[3 * j + 2]
        if _crosses(M, side, price):
            res[1] = 1
            return j
        b = 0 if side == BUY else 1
        if not _room(M, b):
            res[1] = 2
            return j
        _rest(M, b, side, price, lots, owner, oslot)
        res[0] += 1
        if side == BUY:
            sl[i, 0] += 1.0 * lots * lot * price * tick * P[3]
        else:
            sl[i, base] += 1.0 * lots * lot
    res[1] = 0
    return n


@njit(_I(_V, _I, _I, _I, _A2FC, _VF), cache=True)
def k_cancel_all_spot(M, oslot, i, base, sl, P):
    """`cancel_all_spot(account, s)`: the owner's orders cancelled (k_cancel_all_of, out rows included) and their
    reservations released in ascending id (`_unlock_spot`); the lots removed. P as k_spot_ladder's."""
    k = k_cancel_all_of(M, oslot)
    foff = M[H_FOFF]
    lot = P[1]
    tick = P[0]
    total = 0
    for t in range(k):
        q = foff + 3 * t
        lots = M[q + 2]
        if M[q] == BUY:
            sl[i, 0] += -1.0 * lots * lot * M[q + 1] * tick * P[3]
        else:
            sl[i, base] += -1.0 * lots * lot
        total += lots
    return total


_spot = _entry(k_spot_ladder)
_cancel_spot = _entry(k_cancel_all_spot)
_spot_scratch = {"tk": np.zeros(3 * 64, np.int64), "res": np.zeros(2, np.int64)}


def _spot_consts(venue, s):
    cache = venue.__dict__.get("_nb_spot")
    if cache is None:
        cache = venue._nb_spot = {}
    P = cache.get(s)
    if P is None:
        book = venue.spot_books[s]
        P = cache[s] = np.array([book.tick_size, book.lot_size, 1.0 + max(venue.fee_taker, venue.fee_maker, 0.0),
                                 1 + venue.fee_maker, 0.0, 0.0])
    return P


def post_spot_ladder(venue, account: int, s: int, orders) -> int:
    """`venue.post_spot_ladder(account, s, orders)` (spot book index s): the same state, events and result, the
    posts in one kernel call up to the first order that would trade (from there on the Python loop), when the
    book is an OrderBookNB; else, or when the kernel cannot reproduce it (halted, invalid or odd input, a ladder
    that fails the balance check: order by order), the Python form."""
    book = venue.spot_books[s]
    slot = book._oslot.get(account) if isinstance(book, OrderBookNB) else None
    if slot is None or venue.halted or type(orders) is not list:
        return venue._post_spot_ladder_py(account, s, orders)
    try:
        for side, price, lots in orders:
            if type(side) is not int or type(price) is not float or type(lots) is not int:
                raise TypeError
    except (TypeError, ValueError):
        return venue._post_spot_ladder_py(account, s, orders)
    kept = [(sd, px, n) for sd, px, n in orders if n > 0]
    if not kept:
        return 0
    n = len(kept)
    try:
        flat = np.fromiter(chain.from_iterable(kept), np.float64, 3 * n)
    except OverflowError:
        return venue._post_spot_ladder_py(account, s, orders)
    return run_spot_kernel(venue, account, s, book, slot, flat, kept)


def run_spot_kernel(venue, account: int, s: int, book, slot: int, flat: np.ndarray, kept=None) -> int:
    """post_spot_ladder's kernel call on account `account` (book owner row `slot`) of spot book s, for the
    ladder's rows with lots > 0 (flat: side, price, lots float rows; kept: the same as triples, if the caller has
    them, else read back from the rows), and what follows it in Python (the Python form where the kernel leaves
    to it, the book's growth, the Python loop from an order that would trade)."""
    n = flat.shape[0] // 3
    sc = _spot_scratch
    if sc["tk"].shape[0] < 3 * n:
        sc["tk"] = np.zeros(3 * n, np.int64)
    tk, res = sc["tk"], sc["res"]
    ch = venue.ch
    a = venue.spot_base[s]
    sl = venue._spot_locked
    P = _spot_consts(venue, s)
    P[4] = min(venue.withdrawable(account), ch.bal[account, 0] - sl[account, 0])
    P[5] = ch.bal[account, a] - sl[account, a]
    r = _spot(book._M, account, slot, flat, tk, res, -1, account, a, sl, P)
    if r == OLD_PATH:
        return venue._post_spot_ladder_py(account, s, kept if kept is not None else orders_of(flat))
    while r < n and res.item(1) == 2:
        book._grow()
        r = _spot(book._M, account, slot, flat, tk, res, r, account, a, sl, P)
    if r < n:   # an order that would trade: post_spot_ladder's own loop from there (the ladder fitted)
        kept = kept if kept is not None else orders_of(flat)
        return res.item(0) + venue._spot_ladder_from(account, s, kept[r:], True)
    return res.item(0)


def cancel_all_spot(venue, account: int, s: int) -> int:
    """`venue.cancel_all_spot(account, s)` on an OrderBookNB spot book, in one kernel call."""
    book = venue.spot_books[s]
    slot = book._oslot.get(account)
    if slot is None:
        return 0
    return _cancel_spot(book._M, slot, account, venue.spot_base[s], venue._spot_locked, _spot_consts(venue, s))
