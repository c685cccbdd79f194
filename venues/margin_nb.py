"""Compiled per-account margin arithmetic for the clearinghouse's cross accounts: the same float operations, in the
same order, as the vectorized numpy passes of venues/clearinghouse.py (`_margin_pass`, `collateral_value` and the
sums across markets of `scan` and `account_margins`), one account at a time, so the results are the same bits.
tests/test_detection.py holds the two against each other.

- `k_margins_rows`: (equity, maintenance margin) of some cross accounts (the farmers' watch reads a few hundred
  of a venue's thousands).
- `k_any_unit`: whether a scan could find anything (the waterfall's pre-filter: most minutes nobody is below
  maintenance, and the full scan is then skipped).
- `k_open_interest`: long and short lots per market (the invariant check; integers).
- `withdrawable_one`: Accounts.withdrawable of one account without spot orders resting, its Python-float form's
  operations (the directional batch's kernel calls it); `withdrawable_any` with them too (Accounts.withdrawable
  calls it), their reservations' value as numpy's dot product computes it (`fma_dot`); tests/test_margin.py holds
  both to the Python form.
- `margin_one`: Accounts.margin of one account (`unit_state(i, -1)`'s equity and maintenance margin), its
  Python floats' operations (CPython 3.12's sums); tests/test_margin.py holds it to unit_state.
- `k_identity_sums`: the sums of the accounting identity's check (`Clearinghouse.identity_gap`), numpy's own
  summation order (`pairwise_sum`, below); tests/test_margin.py holds it to the numpy expressions.

Operation order mirrored (per account i, markets m = 0..M-1):
    notional = |qty[i, m]| x mark[m]
    mm[m]    = notional x rate0[m]                         (notional <= first bound, or the first bound is inf)
             = notional x rate[k] - cum[k]                  (else; k the first bracket with notional <= bound[k])
    upnl[m]  = (mark[m] - entry[i, m]) x qty[i, m]
    mm_acc   = ((0 + mm[0]) + mm[1]) + ...                  (numpy's add.reduce over the markets axis)
    up_acc   = ((0 + upnl[0]) + upnl[1]) + ...
    coll     = (bal[i, 0] + bal[i, 1] x w[1]) + ...         (only assets with w != 0 held by some account)
    equity   = up_acc + coll
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import numba
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

from .nb_cache import preload


@njit(cache=True, inline="always")
def _nadd(s, c, x):
    """One step of CPython 3.12's float sum (Neumaier): (sum, compensation)."""
    t = s + x
    if abs(s) >= abs(x):
        c += (s - t) + x
    else:
        c += (x - t) + s
    return t, c


@njit(cache=True, inline="always")
def _nend(s, c):
    """The end of CPython 3.12's float sum: the compensation added when it is finite and not zero."""
    if c != 0.0 and math.isfinite(c):
        s += c
    return s


@njit(cache=True)
def _asset_used(bal, n, w):
    """Per asset: does collateral_value add it (w != 0 and some account among the first n holds any)."""
    A = bal.shape[1]
    used = np.zeros(A, dtype=np.bool_)
    for a in range(1, A):
        if w[a] != 0.0:
            for i in range(n):
                if bal[i, a] != 0.0:
                    used[a] = True
                    break
    return used


@njit(cache=True)
def _margins(rows, k, n, qty, entry, bal, mark, w, r0, b0, upper, rates, cum, ntiers, eq, mm):
    """(equity, maintenance margin) of cross accounts rows[t] (t < k; account t itself when rows is empty) into
    eq[t], mm[t]: the numpy passes' operations in their order (module doc), market by market like them. Written as
    plain loops over accounts with no call and no branch inside (the first bracket for all, then the rare
    positions above it), so the compiler vectorizes them: a call passing arrays would cost their reference counts,
    more than the arithmetic."""
    used = _asset_used(bal, n, w)
    direct = rows.shape[0] == 0
    x = np.empty(k)
    eq[:k] = 0.0   # sums from 0 like numpy's add.reduce
    mm[:k] = 0.0
    for m in range(qty.shape[1]):
        mk = mark[m]
        r = r0[m]
        b = b0[m]   # inf: one bracket (notional > inf is never true, as _maintenance_t skips the search)
        above = False
        if direct:
            for t in range(k):
                q = qty[t, m]
                notional = abs(q) * mk
                x[t] = notional * r
                above |= notional > b
                eq[t] += (mk - entry[t, m]) * q
        else:
            for t in range(k):
                i = rows[t]
                q = qty[i, m]
                notional = abs(q) * mk
                x[t] = notional * r
                above |= notional > b
                eq[t] += (mk - entry[i, m]) * q
        if above:   # TierTable.maintenance_above_first for those past the first bound
            for t in range(k):
                notional = abs(qty[t if direct else rows[t], m]) * mk
                if notional > b:
                    y = notional * rates[m, 1] - cum[m, 1]
                    for j in range(2, ntiers[m]):
                        if notional > upper[m, j - 1]:
                            y = notional * rates[m, j] - cum[m, j]
                        else:
                            break
                    x[t] = y
        for t in range(k):
            mm[t] += x[t]
    # collateral: USD, then each used asset at its weight, added to the unrealised PnL
    if direct:
        for t in range(k):
            x[t] = bal[t, 0]
    else:
        for t in range(k):
            x[t] = bal[rows[t], 0]
    for a in range(1, bal.shape[1]):
        if used[a]:
            wa = w[a]
            for t in range(k):
                x[t] += bal[t if direct else rows[t], a] * wa
    for t in range(k):
        eq[t] += x[t]


@njit(cache=True)
def k_margins_rows(rows, n, qty, entry, bal, mark, w, r0, b0, upper, rates, cum, ntiers, eq, mm):
    """(equity, maintenance margin) of the cross accounts `rows` (all below n) into eq and mm (the caller's arrays:
    arrays made here would cost more to hand back than the pass), as Clearinghouse.account_margins computes them
    for a venue without isolated accounts."""
    _margins(rows, rows.shape[0], n, qty, entry, bal, mark, w, r0, b0, upper, rates, cum, ntiers, eq, mm)


@njit(cache=True)
def k_any_unit(n, isolated, qty, entry, bal, mark, w, r0, b0, upper, rates, cum, ntiers, negative_below):
    """False only when a scan(negative_below) of the first n accounts would find no unit at all: no cross account
    with maintenance > 0 and equity < maintenance, none with equity < negative_below. True when one account
    might (the caller then runs the full scan): an isolated account, a nan, or an account within a relative 1e-9
    (plus 1e-9 USD) of either line. The values are the scan's own bits (module doc); the margin makes the
    pre-filter conservative even if they were not."""
    for i in range(n):
        if isolated[i]:
            return True
    eq = np.empty(n)
    mm = np.empty(n)
    _margins(np.empty(0, dtype=np.int64), n, n, qty, entry, bal, mark, w, r0, b0, upper, rates, cum, ntiers, eq, mm)
    hit = False
    for i in range(n):
        e = eq[i]
        y = mm[i]
        tol = 1e-9 * (abs(e) + y) + 1e-9
        hit |= (e != e) | (y != y) | ((y > 0.0) & (e < y + tol)) | (e < negative_below + tol)
    return hit


@njit(cache=True)
def k_open_interest(lots, n, long, short):
    """Per market, the long lots and the short lots of the first n accounts' positions, into long and short."""
    for m in range(lots.shape[1]):
        up = 0
        dn = 0
        for i in range(n):
            x = lots[i, m]
            if x > 0:
                up += x
            else:
                dn -= x
        long[m] = up
        short[m] = dn



def _fma_py(a, b, c):
    """a x b + c rounded once, in Python (for NUMBA_DISABLE_JIT, where an intrinsic cannot run): the exact rational
    sum rounded to the nearest float, ties to even, as the hardware's fma. An exact sum past the overflow point
    is an infinity of its sign; an infinite or NaN c with finite a and b is c (the exact product is finite); an
    exact zero, or an infinite or NaN a or b, takes the plain expression's result, which is the fused one there
    (the sign of an exact zero: a x b is then exactly -c, rounding nothing)."""
    if math.isfinite(a) and math.isfinite(b):
        if not math.isfinite(c):
            return c
        r = Fraction(a) * Fraction(b) + Fraction(c)
        if r != 0:
            try:
                return float(r)
            except OverflowError:   # not math.copysign(inf, r): that converts r to a float first
                return math.inf if r > 0 else -math.inf
    return a * b + c


@intrinsic
def _fma(typingctx, a, b, c):
    """a x b + c rounded once (LLVM's llvm.fma: always fused, exact before the one rounding)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.fma", [ir.DoubleType()] * 3)
        return builder.call(fn, args)
    return sig, codegen


if numba.config.DISABLE_JIT:   # pragma: no cover - debugging runs only
    _fma = _fma_py  # noqa: F811


@njit(cache=True)
def fma_dot(x, y):
    """numpy's float dot product of two short contiguous vectors (`x @ y` of 1 to 9 terms on this project's
    machines: OpenBLAS's ddot, a fused multiply-add per term in turn from 0.0; tests/test_margin.py holds the
    two equal)."""
    d = 0.0
    for k in range(x.shape[0]):
        d = _fma(x[k], y[k], d)
    return d


@njit(cache=True, inline="always")
def _coll(i, bal, w):
    """Account i's weighted collateral, Clearinghouse._collateral_float's operations (assets held only, in order)."""
    coll = bal[i, 0]
    for a in range(1, bal.shape[1]):
        b = bal[i, a]
        if b != 0.0:
            coll += b * w[a]
    return coll


@njit(cache=True, inline="always")
def _free(i, coll, L, qty, entry, leverage, lot_size, isolated, mark, profit):
    """Accounts.withdrawable from the account's collateral (less its spot reservations) on: an isolated account's
    free collateral; else per market upnl += q (mark - entry) and im += |lots| x lot size x mark / leverage."""
    if isolated[i]:
        return coll if coll > 0.0 else 0.0              # Python's max(0.0, coll)
    upnl = 0.0
    im = 0.0
    for m in range(qty.shape[1]):
        mk = mark[m]
        upnl += qty[i, m] * (mk - entry[i, m])
        im += abs(L[i, m]) * lot_size[m] * mk / leverage[i, m]
    counted = upnl if (profit or upnl < 0.0) else 0.0   # Python's min(0.0, upnl)
    r = coll + counted - im
    return r if r > 0.0 else 0.0                         # Python's max(0.0, r)


@njit(cache=True)
def withdrawable_one(i, L, qty, entry, bal, w, leverage, lot_size, isolated, mark, profit):
    """Accounts.withdrawable of account i when it holds no spot order resting (fewer than 8 markets): its
    Python-float form's operations in its order (collateral in asset order; an isolated account's free collateral;
    else per market upnl += q (mark - entry) and im += |lots| x lot size x mark / leverage), so the same bits."""
    return _free(i, _coll(i, bal, w), L, qty, entry, leverage, lot_size, isolated, mark, profit)


@njit(cache=True)
def withdrawable_any(i, L, qty, entry, bal, w, leverage, lot_size, isolated, mark, profit, locked, value,
                     haircut):
    """Accounts.withdrawable of account i (fewer than 8 markets), spot orders resting or not: as withdrawable_one,
    less, when its row of spot reservations `locked` is not all zero, their collateral value, `locked[i] @
    (value x (1 - haircut))` as numpy computes it (fma_dot)."""
    coll = _coll(i, bal, w)
    A = locked.shape[1]
    for a in range(A):
        if locked[i, a] != 0.0:
            d = 0.0
            for b in range(A):
                d = _fma(locked[i, b], value[b] * (1.0 - haircut[b]), d)
            coll -= d
            break
    return _free(i, coll, L, qty, entry, leverage, lot_size, isolated, mark, profit)



@njit(cache=True)
def _block_sum(a, lo, n):
    """numpy's pairwise_sum of a run of at most 128 terms: below 8 in turn; else eight running sums combined as
    ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest in turn."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    i = 8
    m = n - n % 8
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True)
def pairwise_sum(a, lo, n):
    """numpy's pairwise_sum (numpy/_core/src/umath/loops_utils.h.src) of the n contiguous float64 a[lo: lo + n]:
    up to 128 terms a block (_block_sum); above, the two halves (the first a multiple of 8) summed alike and
    added, left + right. `np.add.reduce` of the run is `0.0 + pairwise_sum(...)`: the caller adds the reduction's
    initial +0.0 (below 8 terms this form starts from +0.0 where numpy's starts from -0.0; only the sum with the
    initial value is numpy's bits). numpy recurses; here the same tree is walked with a stack (numba's cache does not
    take a recursive function)."""
    if n <= 128:
        return _block_sum(a, lo, n)
    los = np.empty(64, np.int64)
    ns = np.empty(64, np.int64)
    stage = np.zeros(64, np.int64)
    vals = np.empty(64)
    sp = 0
    vp = 0
    los[0] = lo
    ns[0] = n
    while sp >= 0:
        m = ns[sp]
        if m <= 128:
            vals[vp] = _block_sum(a, los[sp], m)
            vp += 1
            sp -= 1
            continue
        n2 = m // 2
        n2 -= n2 % 8
        if stage[sp] == 0:     # the left half first
            stage[sp] = 1
            los[sp + 1] = los[sp]
            ns[sp + 1] = n2
            stage[sp + 1] = 0
            sp += 1
        elif stage[sp] == 1:   # then the right half
            stage[sp] = 2
            los[sp + 1] = los[sp] + n2
            ns[sp + 1] = m - n2
            stage[sp + 1] = 0
            sp += 1
        else:                  # both done: left + right
            vals[vp - 2] = vals[vp - 2] + vals[vp - 1]
            vp -= 1
            sp -= 1
    return vals[0]


@njit(cache=True)
def k_identity_sums(n, bal, qty, entry, mark, iso, held):
    """numpy's `bal[:n].sum(axis=0)` into held, and the return value `(qty[:n] * (mark - entry[:n])).sum()`, for
    the clearinghouse's column-major (Fortran-order) arrays: each balance column is a contiguous run (its
    pairwise sum from +0.0), and the product array numpy makes is column-major and contiguous, so its sum is one
    pairwise sum over its 2-D block in memory order (market by market). held[A] (one past the assets) is set to
    1.0 when some iso[:n] is not zero (else 0.0: every term is a zero, so numpy's sum of them is +0.0 in any
    order), for the caller to sum them in numpy."""
    A = bal.shape[1]
    for a in range(A):
        held[a] = 0.0 + pairwise_sum(bal[:, a], 0, n)
    M = qty.shape[1]
    up = np.empty(n * M)
    for k in range(M):
        mk = mark[k]
        for i in range(n):
            up[k * n + i] = qty[i, k] * (mk - entry[i, k])
    nonzero = 0.0
    for k in range(iso.shape[1]):
        for i in range(n):
            if iso[i, k] != 0.0:
                nonzero = 1.0
    held[A] = nonzero
    return 0.0 + pairwise_sum(up, 0, n * M)


@njit(cache=True)
def margin_one(i, qty, entry, bal, mark, w, isolated, upper, rates, cum, ntiers):
    """(equity, maintenance margin) of unit (i, -1), as `Clearinghouse.unit_state(i, -1)` computes them in Python
    floats: per market with a position, maintenance = notional x rate[k] - cum[k] (k the first tier bound at or
    above the notional, TierTable.maintenance_scalar's bisect) and unrealised PnL = q (mark - entry); the
    collateral in asset order (assets held only); an isolated account's (collateral, 0); else collateral plus
    CPython 3.12's sum of the PnLs, and that sum of the maintenances."""
    coll = _coll(i, bal, w)
    if isolated[i]:
        return coll, 0.0
    su = 0.0
    cu = 0.0
    sm = 0.0
    cm = 0.0
    for m in range(qty.shape[1]):
        q = qty[i, m]
        mm = 0.0
        up = 0.0
        if q != 0.0:
            mk = mark[m]
            notional = (q if q > 0 else -q) * mk
            k = 0
            last = ntiers[m] - 1
            while k < last and notional > upper[m, k]:
                k += 1
            mm = notional * rates[m, k] - cum[m, k]
            up = q * (mk - entry[i, m])
        su, cu = _nadd(su, cu, up)
        sm, cm = _nadd(sm, cm, mm)
    return coll + _nend(su, cu), _nend(sm, cm)


# the kernels called from Python: their cached overloads loaded with the module (venues/nb_cache.py)
preload(globals(), ("k_margins_rows", "k_any_unit", "k_open_interest", "withdrawable_any", "margin_one",
                    "k_identity_sums"))
