"""A perp fill settled on the clearinghouse's arrays: the one implementation of a position's move at a fill price
(`k_fill`) and of a fill's maker side (`k_settle_maker`; settled rule 1's cash and position legs of a trade,
exact behaviour in venues/SPEC.md section 4).

Both paths use it: the compiled order path (venues/orders_nb.py) calls the kernels inside its own, and
`Clearinghouse.apply_fill` / `settle_maker` (the Python order path, the waterfall's book fills and ADL) call them
from Python (through numba's dispatcher, under 1 us a call: less than the Python arithmetic it replaced). The
reference engine (tests/reference) keeps its own, independent code; tests/test_differential.py holds the two to
each other.

Float operations in the order of the Python code they replaced (plain IEEE doubles, no fused or reordered
arithmetic: numba does not contract without fastmath), so results did not change by a bit.
"""

from __future__ import annotations

from numba import njit

from .nb_cache import preload


# typed by their callers (no explicit signature): a clearinghouse with one asset has a (n, 1) balance array, both C-
# and F-contiguous, which numba types as C inside the compiled order kernels
@njit(cache=True)
def k_fill(i, m, dlots, price, release, L, qty, entry, bal, iso_margin, isolated, leverage, lot, oi):
    """Move account i's position in market m by dlots at price (Clearinghouse.apply_fill's contract): the
    average entry, the lots and size, market m's open interest oi = (long lots, short lots); realised PnL to the
    USD balance (cross) or the position's isolated margin; an isolated position's opening margin (notional /
    leverage) moves from the balance into its margin, a reduction releases its share of that margin (all of it when
    the position closes; a negative margin never) unless `release` is false. Returns the realised PnL."""
    old = L[i, m]
    new = old + dlots
    lt = lot[m]
    e = entry[i, m]
    q_old = old * lt
    dq = dlots * lt
    if old == 0 or (old > 0) == (dlots > 0):
        realised = 0.0
        closed = 0
        opened = dlots if dlots > 0 else -dlots
        entry[i, m] = (q_old * e + dq * price) / (new * lt)
    elif (dlots if dlots > 0 else -dlots) <= (old if old > 0 else -old):
        realised = -dq * (price - e)
        closed = dlots if dlots > 0 else -dlots
        opened = 0
        if new == 0:
            entry[i, m] = 0.0
    else:   # flip: the old position closes at price, the rest opens at price
        realised = q_old * (price - e)
        closed = old if old > 0 else -old
        opened = new if new > 0 else -new
        entry[i, m] = price
    L[i, m] = new
    qty[i, m] = new * lt
    if old > 0:
        oi[0] -= old
    elif old < 0:
        oi[1] += old
    if new > 0:
        oi[0] += new
    elif new < 0:
        oi[1] -= new
    if not isolated[i]:
        bal[i, 0] += realised
        return realised
    m0 = iso_margin[i, m]
    margin = m0 + realised
    if closed and release:
        aold = old if old > 0 else -old
        if closed == aold:
            freed = margin if margin > 0.0 else 0.0
        else:
            x = m0 * closed / aold + realised
            freed = x if x > 0.0 else 0.0
        margin -= freed
        bal[i, 0] += freed
    if opened:
        add = opened * lt * price / leverage[i, m]
        margin += add
        bal[i, 0] -= add
    iso_margin[i, m] = margin
    return realised


@njit(cache=True)
def k_settle_maker(maker, m, side, n, price, fee, L, qty, entry, bal, iso_margin, isolated, leverage, lot, ob,
                   osl, oi):
    """The maker's side of a book fill of n lots at price in market m, `side` being the taker's (+1 buy, -1
    sell): the maker's position moves by -side x n, it pays its fee (USD), and the filled lots of its resting
    order no longer count as open (osl: open sell lots, when the taker bought; else ob)."""
    k_fill(maker, m, -side * n, price, True, L, qty, entry, bal, iso_margin, isolated, leverage, lot, oi)
    bal[maker, 0] -= fee
    if side == 1:
        osl[maker, m] -= n
    else:
        ob[maker, m] -= n


preload(globals(), ("k_fill", "k_settle_maker"))   # their cached overloads loaded with the module (nb_cache.py)
