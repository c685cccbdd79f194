"""The per-order work of the compiled perp order path (venues/batch_nb.py: a venue's batch of "market" and "ioc"
orders in one numba kernel call): `_one` is one order over the numba book's buffer (venues/orderbook_nb.py) and
the clearinghouse's arrays, with the effect of `Venue.submit_order` (venues/orders.py): the same book,
clearinghouse state bit for bit, events in the same order and the same rejections (tests/test_orders_nb.py checks
the batch against the Python path, bench/orders_nb_bench.py measures it).

What `_one` does, in the Python code's float operations and order: the validity checks,
reduce_only's clip, the estimated price (`simulate_take`), `_check_perp_order` (settled rule 7's tier max
leverage, the OI cap, initial margin for cross and isolated accounts, `unit_equity` and `_locked_value` with
Python's `sum` of floats, which is Neumaier-compensated since Python 3.12), the book walk with self-trade
prevention, the release of self-cancelled orders' open lots, `_settle_perp_fills` (`apply_fill` for the taker,
`settle_maker` per maker, fees, `fees_kept`, `volume_usd`, two FILL rows per fill) and REJECT rows.

What the batch leaves to `venue.submit_order` (batch_nb.py says which orders) is not here.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import events as ev
from .orderbook import BUY, SELL
from .book_kernels import _simulate
from .orderbook_nb import H_FOFF, H_OCAP, _match

__all__ = ["STATUS", "status_code", "KIND_NAMES"]

# status codes of the batch: 0 filled, 1 partial, 2 cancelled (an IOC's rest), 3 resting (a Python-path
# limit order), REJECTED + reason code (events.REJECT_REASONS) for a rejection
STATUS = {"filled": 0, "partial": 1, "cancelled": 2, "resting": 3}
REJECTED = 10
_R_IM = ev.REASON_CODE["initial_margin"]
_R_TIER = ev.REASON_CODE["tier_max_leverage"]
_R_OI = ev.REASON_CODE["oi_cap"]
_R_RO = ev.REASON_CODE["reduce_only"]
_R_INVALID = ev.REASON_CODE["invalid"]
_R_NOLIQ = ev.REASON_CODE["no_liquidity"]


def status_code(res) -> int:
    """An OrderResult's status as the batch's code."""
    if res.status == "rejected":
        return REJECTED + ev.REASON_CODE[res.reason]
    return STATUS[res.status]


# ---------------------------------------------------------------------------------------------- helpers
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
    if c != 0.0 and math.isfinite(c):
        s += c
    return s


@njit(cache=True)
def _py_sum(xs):
    """Python 3.12's sum() of a list of floats (a test hook for the kernel's summation)."""
    s = 0.0
    c = 0.0
    for x in xs:
        s, c = _nadd(s, c, x)
    return _nend(s, c)


@njit(cache=True, inline="always")
def _worst(L, ob, osl, lot, mark, i, k, s, n):
    up = L[i, k] + ob[i, k] + (n if s == 1 else 0)
    dn = L[i, k] - osl[i, k] - (n if s == -1 else 0)
    a = abs(up)
    b = abs(dn)
    return (a if a >= b else b) * lot[k] * mark[k]


@njit(cache=True)
def _apply_fill(i, m, dlots, price, L, qty, entry, bal, iso_margin, isolated, leverage, lot, oi):
    """Clearinghouse.apply_fill (release=True, no touched set)."""
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
    else:
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
        return
    m0 = iso_margin[i, m]
    margin = m0 + realised
    if closed:
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


@njit(cache=True)
def _one(M, j, i, side, lots, kind, ro, price, m, tick, fee_taker, fee_maker, cap, upper, maxlev,
         L, qty, entry, bal, iso_margin, isolated, leverage, ob, osl, spot_locked, has_spot,
         mark, lot, cw, oi, fees, vol, vm,
         c_step, c_venue, c_market, c_account, c_kind, c_side, c_lots, c_price, c_notional, c_fee, c_info, c_aux,
         r, step, venue_id, status, filled, avg):
    """Order j (account i, market m; a market order, kind 0, or an IOC, kind 1) with the Python path's
    operations: its results to status[j], filled[j], avg[j], its event rows from row r; returns the next free
    row. M: m's book; upper, maxlev: m's tier bounds and max leverages; oi: m's long and short lots; fees[0]:
    fees_kept[0]; vol[vm]: m's traded notional."""
    MM = L.shape[1]
    A = bal.shape[1]
    foff = M[H_FOFF]
    nup = upper.shape[0]
    reason = -1
    rej_lots = lots
    rej_price = 0.0
    if lots <= 0 or (side != 1 and side != -1) or (kind == 1 and not (price > 0)):
        reason = 8   # invalid
        rej_lots = lots if lots > 0 else 0
    if reason < 0 and ro:
        pos = L[i, m]
        if side == 1:
            room = -pos if pos < 0 else 0
        else:
            room = pos if pos > 0 else 0
        if room == 0:
            reason = 3
        elif room < lots:
            lots = room
            rej_lots = lots
    est = 0.0
    limit = 0
    if reason < 0:
        if kind == 1:
            x = price / tick
            if side == 1:
                limit = int(x + 1e-9) if x >= 0 else -int(-x)
            else:
                nn = int(x)
                limit = nn + 1 if x - nn > 1e-9 else nn
        got, cost = _simulate(M, side, lots, kind == 1, limit, i, True)   # own orders always looked for: the same result
        if got == 0:
            if kind == 0:
                reason = 9
            else:
                est = mark[m]
        else:
            est = (cost / got) * tick
    if reason < 0 and not ro:
        # _check_perp_order
        pos = L[i, m]
        worst_after = _worst(L, ob, osl, lot, mark, i, m, side, lots)
        if worst_after <= _worst(L, ob, osl, lot, mark, i, m, 0, 0) + 1e-9:
            pass
        else:
            lev = leverage[i, m]
            kb = 0
            while kb < nup and upper[kb] < worst_after:
                kb += 1
            if lev > maxlev[kb] * (1 + 1e-12):
                reason = 1
            else:
                new_pos = pos + (lots if side == 1 else -lots)
                d = abs(new_pos) - abs(pos)
                increase = (d if d > 0 else 0) * lot[m] * mark[m]
                oi_usd = oi[0] * lot[m] * mark[m]
                if increase > 0 and oi_usd + increase > cap:
                    reason = 2
                else:
                    q = lots * lot[m]
                    fee = q * est * fee_taker
                    adv = (est - mark[m]) * q if side == 1 else (mark[m] - est) * q
                    adverse = adv if adv > 0.0 else 0.0
                    if isolated[i]:
                        need = increase / lev + fee + adverse
                        free = bal[i, 0] - (spot_locked[i, 0] if has_spot else 0.0)
                        if need > free + 1e-9:
                            reason = 0
                    else:
                        s = 0.0
                        c = 0.0
                        for kk in range(MM):
                            if kk == m:
                                w = _worst(L, ob, osl, lot, mark, i, kk, side, lots)
                            else:
                                w = _worst(L, ob, osl, lot, mark, i, kk, 0, 0)
                            s, c = _nadd(s, c, w / leverage[i, kk])
                        im = _nend(s, c)
                        coll = bal[i, 0]
                        for a in range(1, A):
                            b = bal[i, a]
                            if b != 0.0:
                                coll += b * cw[a]
                        s = 0.0
                        c = 0.0
                        for kk in range(MM):
                            qq = qty[i, kk]
                            s, c = _nadd(s, c, qq * (mark[kk] - entry[i, kk]) if qq != 0.0 else 0.0)
                        eq = coll + _nend(s, c)
                        if has_spot:
                            s = 0.0
                            c = 0.0
                            for a in range(A):
                                lk = spot_locked[i, a]
                                if lk != 0.0:
                                    s, c = _nadd(s, c, lk * cw[a])
                            eq = eq - _nend(s, c)
                        if eq - fee - adverse < im - 1e-9:
                            reason = 0
            if reason >= 0:
                rej_price = est
    if reason >= 0:
        c_step[r] = step
        c_venue[r] = venue_id
        c_market[r] = m
        c_account[r] = i
        c_kind[r] = 4   # REJECT
        c_side[r] = side
        c_lots[r] = rej_lots
        c_price[r] = rej_price
        c_notional[r] = 0.0
        c_fee[r] = 0.0
        c_info[r] = reason
        c_aux[r] = 0.0
        r += 1
        status[j] = 10 + reason
        filled[j] = 0
        avg[j] = np.nan
        return r
    # the walk
    nf, ns, got = _match(M, side, lots, kind == 1, limit, i, 0, M[H_OCAP] - 1)
    s0 = M[H_OCAP] - 1
    for t in range(ns):   # self-trade cancels: their open lots released
        qrow = foff + (s0 - t) * 4
        if M[qrow + 1] == 1:
            ob[i, m] -= M[qrow + 3]
        else:
            osl[i, m] -= M[qrow + 3]
    cost = 0
    for t in range(nf):
        qrow = foff + t * 4
        maker = M[qrow + 1]
        pt = M[qrow + 2]
        n = M[qrow + 3]
        cost += pt * n
        px = pt * tick
        notional = n * lot[m] * px
        fee_t = notional * fee_taker
        fee_m = notional * fee_maker
        _apply_fill(i, m, side * n, px, L, qty, entry, bal, iso_margin, isolated, leverage, lot, oi)
        _apply_fill(maker, m, -side * n, px, L, qty, entry, bal, iso_margin, isolated, leverage, lot, oi)
        bal[maker, 0] -= fee_m
        if side == 1:
            osl[maker, m] -= n
        else:
            ob[maker, m] -= n
        bal[i, 0] -= fee_t
        fees[0] += fee_t + fee_m
        for h in range(2):
            c_step[r] = step
            c_venue[r] = venue_id
            c_market[r] = m
            c_kind[r] = 0
            c_lots[r] = n
            c_price[r] = px
            c_notional[r] = notional
            if h == 0:
                c_account[r] = i
                c_side[r] = side
                c_fee[r] = fee_t
                c_info[r] = 1.0
                c_aux[r] = maker
            else:
                c_account[r] = maker
                c_side[r] = -side
                c_fee[r] = fee_m
                c_info[r] = 0.0
                c_aux[r] = i
            r += 1
        vol[vm] += notional
    if got == lots:
        status[j] = 0
    elif got > 0:
        status[j] = 1
    else:
        status[j] = 2
    filled[j] = got
    avg[j] = (cost / got) * tick if got > 0 else np.nan
    return r


KIND_NAMES = ("market", "ioc", "limit")
