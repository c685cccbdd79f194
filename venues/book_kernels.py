"""The numba kernels of `venues.orderbook_nb.OrderBookNB` and the layout of its one int64 buffer `M` (see that
module's docstring): the constants of the layout, the helpers, the kernels and their compiled entry points."""

from __future__ import annotations

import numpy as np
from numba import njit, types

from .orderbook import BUY, SELL

# header words
H_OCAP, H_LCAP, H_WCAP, H_HCAP, H_OOFF, H_LOFF, H_WOFF, H_HOFF, H_FOFF = range(9)
H_NLV0, H_NLV1, H_NEXTID, H_NORD, H_FREE, H_USED = 10, 11, 12, 13, 14, 15
H_LAST, H_HASLAST, H_TRADED, H_BO, H_BH, H_BL, H_HASBAR = 16, 17, 18, 19, 20, 21, 22
HDR = 32
# order fields
ID, SIDE, PRICE, LOTS, OWNER, NEXT, PREV, ONEXT, OPREV, OSLOT = range(10)
OF = 10
# level fields
LP, LL, LHEAD, LTAIL = range(4)
LF = 4
# owner fields
WHEAD, WTAIL, WCNT = range(3)
WF = 3
NEED_GROW = -2

_I = types.int64
_M = types.int64[::1]
_jit = dict(cache=True)   # no nogil: releasing the GIL costs ~250 ns a call


# ---------------------------------------------------------------------------------------------- helpers
@njit(cache=True, inline="always")
def _hfind(M, oid):
    """Bucket of order `oid` in the id -> slot table, or -1."""
    hoff = M[H_HOFF]
    mask = M[H_HCAP] - 1
    i = oid & mask
    while True:
        k = M[hoff + 2 * i]
        if k == oid:
            return i
        if k == 0:
            return -1
        i = (i + 1) & mask


@njit(cache=True, inline="always")
def _hinsert(M, oid, slot):
    hoff = M[H_HOFF]
    mask = M[H_HCAP] - 1
    i = oid & mask
    while M[hoff + 2 * i] != 0:
        i = (i + 1) & mask
    M[hoff + 2 * i] = oid
    M[hoff + 2 * i + 1] = slot


@njit(cache=True)
def _hdelete(M, i):
    """Empty bucket i, moving later entries of its probe run back (linear probing without tombstones)."""
    hoff = M[H_HOFF]
    mask = M[H_HCAP] - 1
    j = i
    while True:
        j = (j + 1) & mask
        k = M[hoff + 2 * j]
        if k == 0:
            break
        h = k & mask   # k's home bucket: it may move to i unless h lies cyclically in (i, j]
        if i <= j:
            if i < h <= j:
                continue
        elif h > i or h <= j:
            continue
        M[hoff + 2 * i] = k
        M[hoff + 2 * i + 1] = M[hoff + 2 * j + 1]
        i = j
    M[hoff + 2 * i] = 0


@njit(cache=True, inline="always")
def _lbase(M, b):
    return M[H_LOFF] + b * M[H_LCAP] * LF


@njit(cache=True)
def _lsearch(M, b, price):
    """First level row of side b whose key is >= price's key (key: price for bids, -price for asks)."""
    base = _lbase(M, b)
    n = M[H_NLV0 + b]
    sgn = 1 if b == 0 else -1
    key = sgn * price
    if n > 0 and sgn * M[base + (n - 1) * LF] < key:   # beyond the touch: a new best level
        return n
    lo, hi = 0, n
    while lo < hi:
        mid = (lo + hi) >> 1
        if sgn * M[base + mid * LF] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True)
def _lremove(M, b, li):
    base = _lbase(M, b)
    n = M[H_NLV0 + b]
    for r in range(base + li * LF, base + (n - 1) * LF):
        M[r] = M[r + LF]
    M[H_NLV0 + b] = n - 1


@njit(cache=True, inline="always")
def _alloc(M):
    slot = M[H_FREE]
    if slot != -1:
        M[H_FREE] = M[M[H_OOFF] + slot * OF + NEXT]
    else:
        slot = M[H_USED]
        M[H_USED] = slot + 1
    return slot


@njit(cache=True, inline="always")
def _beyond(side, p, limit):
    """Whether a level at p ticks is past a taker's limit (above it for a buy, below it for a sell)."""
    return p > limit if side == BUY else p < limit


@njit(cache=True, inline="always")
def _unlink(M, ooff, o, head, tail, fnext, fprev):
    """Take the order at address o out of a doubly linked list of orders chained through its fields fnext / fprev
    (slots; -1 at the ends), whose first and last slots are kept at M[head] and M[tail]: a price level's queue
    (NEXT, PREV) or an owner's orders (ONEXT, OPREV)."""
    nx = M[o + fnext]
    pv = M[o + fprev]
    if pv == -1:
        M[head] = nx
    else:
        M[ooff + pv * OF + fnext] = nx
    if nx == -1:
        M[tail] = pv
    else:
        M[ooff + nx * OF + fprev] = pv


@njit(cache=True, inline="always")
def _owner_unlink(M, o):
    w = M[H_WOFF] + M[o + OSLOT] * WF
    _unlink(M, M[H_OOFF], o, w + WHEAD, w + WTAIL, ONEXT, OPREV)
    M[w + WCNT] -= 1


@njit(cache=True, inline="always")
def _free(M, slot, bucket):
    """Release an order's slot (already unlinked from its level and owner) and its id's bucket."""
    o = M[H_OOFF] + slot * OF
    _hdelete(M, bucket)
    M[o + ID] = 0
    M[o + NEXT] = M[H_FREE]
    M[H_FREE] = slot
    M[H_NORD] -= 1


@njit(cache=True, inline="always")
def _room(M, b):
    return M[H_NORD] < M[H_OCAP] and M[H_NLV0 + b] < M[H_LCAP]


@njit(cache=True)
def _rest(M, b, side, price, lots, owner, oslot):
    """Queue an order that does not cross at the back of its level (room checked by the caller); its id."""
    ooff = M[H_OOFF]
    slot = _alloc(M)
    oid = M[H_NEXTID]
    M[H_NEXTID] = oid + 1
    M[H_NORD] += 1
    o = ooff + slot * OF
    M[o + ID] = oid
    M[o + SIDE] = side
    M[o + PRICE] = price
    M[o + LOTS] = lots
    M[o + OWNER] = owner
    M[o + OSLOT] = oslot
    M[o + NEXT] = -1
    M[o + ONEXT] = -1
    _hinsert(M, oid, slot)
    # its level
    base = _lbase(M, b)
    n = M[H_NLV0 + b]
    li = _lsearch(M, b, price)
    if li < n and M[base + li * LF + LP] == price:
        r = base + li * LF
        tail = M[r + LTAIL]
        M[ooff + tail * OF + NEXT] = slot
        M[o + PREV] = tail
        M[r + LTAIL] = slot
        M[r + LL] += lots
    else:
        for k in range(base + n * LF + LF - 1, base + li * LF + LF - 1, -1):   # shift rows li.. up one
            M[k] = M[k - LF]
        r = base + li * LF
        M[r + LP] = price
        M[r + LL] = lots
        M[r + LHEAD] = slot
        M[r + LTAIL] = slot
        M[o + PREV] = -1
        M[H_NLV0 + b] = n + 1
    # its owner's list (ids ascend along it: an order joins at the back)
    w = M[H_WOFF] + oslot * WF
    tail = M[w + WTAIL]
    if tail == -1:
        M[w + WHEAD] = slot
    else:
        M[ooff + tail * OF + ONEXT] = slot
    M[o + OPREV] = tail
    M[w + WTAIL] = slot
    M[w + WCNT] += 1
    return oid


@njit(cache=True)
def _match(M, side, lots, has_limit, limit, owner, f0, s0):
    """Walk the opposite side from its best level: fills to out rows f0, f0 + 1, ..., self-trade cancels to
    rows s0, s0 - 1, ...; (n fills, n self-cancels, filled lots)."""
    ooff = M[H_OOFF]
    foff = M[H_FOFF]
    b = 1 if side == BUY else 0
    base = _lbase(M, b)
    n = M[H_NLV0 + b]
    nf = 0
    ns = 0
    left = lots
    first = 0
    last = 0
    while left > 0 and n > 0:
        r = base + (n - 1) * LF
        p = M[r + LP]
        if has_limit and _beyond(side, p, limit):
            break
        level_left = M[r + LL]
        slot = M[r + LHEAD]
        while left > 0 and slot != -1:
            o = ooff + slot * OF
            nxt = M[o + NEXT]
            avail = M[o + LOTS]
            maker = M[o + OWNER]
            oid = M[o + ID]
            if maker == owner:   # self-trade prevention: the resting order is cancelled
                q = foff + (s0 - ns) * 4
                M[q] = oid
                M[q + 1] = M[o + SIDE]
                M[q + 2] = p
                M[q + 3] = avail
                ns += 1
                level_left -= avail
                _owner_unlink(M, o)
                _free(M, slot, _hfind(M, oid))
                slot = nxt
                continue
            if avail <= left:
                take = avail
                _owner_unlink(M, o)
                _free(M, slot, _hfind(M, oid))
                slot = nxt
            else:
                M[o + LOTS] = avail - left
                take = left
            left -= take
            level_left -= take
            q = foff + (f0 + nf) * 4
            M[q] = oid
            M[q + 1] = maker
            M[q + 2] = p
            M[q + 3] = take
            if nf == 0:
                first = p
            nf += 1
            last = p
        M[r + LHEAD] = slot
        if slot == -1:
            M[r + LTAIL] = -1
        else:
            M[ooff + slot * OF + PREV] = -1
        if level_left > 0:
            M[r + LL] = level_left
        else:
            n -= 1
    M[H_NLV0 + b] = n
    if nf > 0:
        M[H_LAST] = last
        M[H_HASLAST] = 1
        if side == BUY:
            lo, hi = first, last
        else:
            lo, hi = last, first
        if M[H_HASBAR] == 0:
            M[H_HASBAR] = 1
            M[H_BO] = first
            M[H_BH] = hi
            M[H_BL] = lo
        else:
            if hi > M[H_BH]:
                M[H_BH] = hi
            if lo < M[H_BL]:
                M[H_BL] = lo
    M[H_TRADED] += lots - left
    return nf, ns, lots - left


@njit(cache=True, inline="always")
def _crosses(M, side, price):
    """Would a limit order at `price` trade against the opposite side's best level?"""
    if side == BUY:
        n = M[H_NLV1]
        return n > 0 and price >= M[_lbase(M, 1) + (n - 1) * LF]
    n = M[H_NLV0]
    return n > 0 and price <= M[_lbase(M, 0) + (n - 1) * LF]


# ---------------------------------------------------------------------------------------------- kernels
@njit(types.UniTuple(_I, 7)(_M, _I, _I, _I, _I, _I, types.boolean), **_jit)
def k_post(M, side, price, lots, owner, oslot, post_only):
    """(order id or 0, n fills or -1 when the order did not cross, n self-cancels, then the first fill's maker
    id, maker owner, price, lots: a single fill needs no read of the out rows); (NEED_GROW, ...) when the book
    needs more room first."""
    b = 0 if side == BUY else 1
    if not _room(M, b):
        return NEED_GROW, 0, 0, 0, 0, 0, 0
    if not _crosses(M, side, price):
        return _rest(M, b, side, price, lots, owner, oslot), -1, 0, 0, 0, 0, 0
    if post_only:
        return 0, -1, 0, 0, 0, 0, 0
    nf, ns, filled = _match(M, side, lots, True, price, owner, 0, M[H_OCAP] - 1)
    oid = 0
    if lots > filled:
        oid = _rest(M, b, side, price, lots - filled, owner, oslot)
    f = M[H_FOFF]
    return oid, nf, ns, M[f], M[f + 1], M[f + 2], M[f + 3]


@njit(types.UniTuple(_I, 6)(_M, _I, _I, types.boolean, _I, _I), **_jit)
def k_take(M, side, lots, has_limit, limit, owner):
    """(n fills, n self-cancels, the first fill's maker id, maker owner, price, lots)."""
    nf, ns, _ = _match(M, side, lots, has_limit, limit, owner, 0, M[H_OCAP] - 1)
    f = M[H_FOFF]
    return nf, ns, M[f], M[f + 1], M[f + 2], M[f + 3]


@njit(_I(_M, _M, _M), **_jit)
def k_take_many(M, ops, counts):
    """Takes (side, lots, has_limit, limit, owner rows of `ops`) in turn, their fills one after another from
    the out rows' front and their self-cancels from the back; (n fills, n self-cancels) of each into `counts`.
    Returns how many it ran: all of them, or fewer when the out rows might not hold the next one's."""
    n = ops.shape[0] // 5
    f0 = 0
    s0 = M[H_OCAP] - 1
    for i in range(n):
        if s0 - f0 + 1 < M[H_NORD]:   # a take touches each resting order at most once
            return i
        o = 5 * i
        nf, ns, _ = _match(M, ops[o], ops[o + 1], ops[o + 2] != 0, ops[o + 3], ops[o + 4], f0, s0)
        counts[2 * i] = nf
        counts[2 * i + 1] = ns
        f0 += nf
        s0 -= ns
    return n


@njit(_I(_M, _I, _I, _M, _I, _M), **_jit)
def k_post_passive(M, owner, oslot, orders, start, out):
    """Post-only orders (side, price, lots rows of `orders`) from row `start`: ids (0: refused) into `out`.
    Returns the row it stopped at: len when done, earlier at an order with lots <= 0 (the caller raises) or
    when the book needs room."""
    n = orders.shape[0] // 3
    for i in range(start, n):
        side = orders[3 * i]
        price = orders[3 * i + 1]
        lots = orders[3 * i + 2]
        if lots <= 0:
            return i
        b = 0 if side == BUY else 1
        if _crosses(M, side, price):
            out[i] = 0
            continue
        if not _room(M, b):
            return i
        out[i] = _rest(M, b, side, price, lots, owner, oslot)
    return n


@njit(_I(_M, _I), **_jit)
def k_cancel(M, oid):
    """Cancel a resting order; the lots removed (0 if it was not resting)."""
    if oid <= 0:
        return 0
    bucket = _hfind(M, oid)
    if bucket < 0:
        return 0
    ooff = M[H_OOFF]
    slot = M[M[H_HOFF] + 2 * bucket + 1]
    o = ooff + slot * OF
    price = M[o + PRICE]
    lots = M[o + LOTS]
    b = 0 if M[o + SIDE] == BUY else 1
    base = _lbase(M, b)
    n = M[H_NLV0 + b]
    if M[base + (n - 1) * LF + LP] == price:
        li = n - 1
    else:
        li = _lsearch(M, b, price)
    r = base + li * LF
    _unlink(M, ooff, o, r + LHEAD, r + LTAIL, NEXT, PREV)
    left = M[r + LL] - lots
    if left > 0:
        M[r + LL] = left
    else:
        _lremove(M, b, li)
    _owner_unlink(M, o)
    _free(M, slot, bucket)
    return lots


@njit(_I(_M, _I), **_jit)
def k_cancel_all_of(M, oslot):
    """Cancel every order of owner row `oslot` in ascending id order; (side, price, lots) rows to the out
    rows; their number."""
    ooff = M[H_OOFF]
    foff = M[H_FOFF]
    w = M[H_WOFF] + oslot * WF
    k = 0
    slot = M[w + WHEAD]
    while slot != -1:
        o = ooff + slot * OF
        nxt = M[o + ONEXT]
        q = foff + 3 * k
        M[q] = M[o + SIDE]
        M[q + 1] = M[o + PRICE]
        M[q + 2] = M[o + LOTS]
        k += 1
        k_cancel(M, M[o + ID])
        slot = nxt
    return k


@njit(cache=True)
def _simulate(M, side, lots, has_limit, limit, owner, own):
    """(filled lots, cost in lots x ticks) of a taking order, the book unchanged; with `own`, the owner's resting
    orders do not count (self-trade prevention would cancel them). Shared by k_simulate_take and orders_nb."""
    ooff = M[H_OOFF]
    b = 1 if side == BUY else 0
    base = _lbase(M, b)
    left = lots
    cost = 0
    for li in range(M[H_NLV0 + b] - 1, -1, -1):
        r = base + li * LF
        p = M[r + LP]
        if has_limit and _beyond(side, p, limit):
            break
        avail = M[r + LL]
        if own:
            slot = M[r + LHEAD]
            while slot != -1:
                o = ooff + slot * OF
                if M[o + OWNER] == owner:
                    avail -= M[o + LOTS]
                slot = M[o + NEXT]
        take = avail if avail < left else left
        if take > 0:
            cost += take * p
            left -= take
        if left == 0:
            break
    return lots - left, cost


@njit(types.UniTuple(_I, 2)(_M, _I, _I, types.boolean, _I, _I, _I), **_jit)
def k_simulate_take(M, side, lots, has_limit, limit, owner, oslot):
    """(filled lots, cost in lots x ticks) of a taking order, the book unchanged; the owner's own resting
    orders do not count (self-trade prevention would cancel them)."""
    own = oslot >= 0 and M[M[H_WOFF] + oslot * WF + WCNT] > 0
    return _simulate(M, side, lots, has_limit, limit, owner, own)


@njit(types.UniTuple(_I, 5)(_M, _I), **_jit)
def k_order(M, oid):
    """(1, side, price, lots, owner) of a resting order, or (0, 0, 0, 0, 0)."""
    if oid <= 0:
        return 0, 0, 0, 0, 0
    bucket = _hfind(M, oid)
    if bucket < 0:
        return 0, 0, 0, 0, 0
    o = M[H_OOFF] + M[M[H_HOFF] + 2 * bucket + 1] * OF
    return 1, M[o + SIDE], M[o + PRICE], M[o + LOTS], M[o + OWNER]


@njit(_I(_M, _I), **_jit)
def k_orders_of(M, oslot):
    """Ids of owner row `oslot`'s orders, ascending, to the out rows; their number."""
    ooff = M[H_OOFF]
    foff = M[H_FOFF]
    k = 0
    slot = M[M[H_WOFF] + oslot * WF + WHEAD]
    while slot != -1:
        M[foff + k] = M[ooff + slot * OF + ID]
        k += 1
        slot = M[ooff + slot * OF + ONEXT]
    return k


@njit(_I(_M, _I, types.float64), **_jit)
def k_depth(M, b, bound):
    """Sum of price x lots over side b's levels at or better than `bound` (bids >= it, asks <= it)."""
    base = _lbase(M, b)
    total = 0
    for li in range(M[H_NLV0 + b]):
        r = base + li * LF
        p = M[r + LP]
        if (p >= bound) if b == 0 else (p <= bound):
            total += p * M[r + LL]
    return total


@njit(types.void(_M, _M), **_jit)
def k_regrow(A, B):
    """Copy book A into the larger, freshly laid out buffer B (its header's capacities and offsets set)."""
    for k in range(H_NLV0, HDR):
        B[k] = A[k]
    used = A[H_USED]
    ao, bo = A[H_OOFF], B[H_OOFF]
    for k in range(used * OF):
        B[bo + k] = A[ao + k]
    for b in range(2):
        a0, b0 = _lbase(A, b), _lbase(B, b)
        for k in range(A[H_NLV0 + b] * LF):
            B[b0 + k] = A[a0 + k]
    aw, bw = A[H_WOFF], B[H_WOFF]
    for k in range(A[H_WCAP] * WF):
        B[bw + k] = A[aw + k]
    for slot in range(used):
        oid = B[bo + slot * OF + ID]
        if oid != 0:
            _hinsert(B, oid, slot)


def _entry(kernel):
    """The compiled overload's entry point (no argument typing per call), or the dispatcher if numba hides it."""
    try:
        return kernel.overloads[kernel.signatures[0]].entry_point
    except Exception:   # pragma: no cover - numba internals changed
        return kernel


_post = _entry(k_post)
_take = _entry(k_take)
_take_many = _entry(k_take_many)
_post_passive = _entry(k_post_passive)
_cancel = _entry(k_cancel)
_cancel_all_of = _entry(k_cancel_all_of)
_simulate_take = _entry(k_simulate_take)
_order = _entry(k_order)
_orders_of = _entry(k_orders_of)
_depth = _entry(k_depth)
_regrow = _entry(k_regrow)


def _layout(ocap: int, lcap: int, wcap: int) -> np.ndarray:
    hcap = 2 * ocap
    M = np.zeros(HDR + ocap * OF + 2 * lcap * LF + wcap * WF + 2 * hcap + 4 * ocap, np.int64)
    off = HDR
    M[H_OCAP], M[H_LCAP], M[H_WCAP], M[H_HCAP] = ocap, lcap, wcap, hcap
    M[H_OOFF] = off
    off += ocap * OF
    M[H_LOFF] = off
    off += 2 * lcap * LF
    M[H_WOFF] = off
    M[off:off + wcap * WF].reshape(wcap, WF)[:, :2] = -1   # empty owner lists
    off += wcap * WF
    M[H_HOFF] = off
    off += 2 * hcap
    M[H_FOFF] = off
    M[H_NEXTID] = 1
    M[H_FREE] = -1
    return M
