"""The directional traders' decisions of one venue's batch in one compiled pass (DirectionalPopulation._decide_batch),
and the book-keeping of their orders' results: for each due trader, in due order, what the Python rules
`DirectionalPopulation._entry` / `_exit_spec` and `Accounts.withdrawable` decide, with the same float operations in
the same order, so the same orders (tests/test_directional_nb.py holds it to the Python rules).

Per trader (held: its position in lots; free: its withdrawable amount, read before any order is sent):
    holding, with stops          -> nothing (it waits for them)
    holding, without stops       -> its exit: side against the position, |held| lots; a market order, or an IOC at
                                    mark x (1 -/+ exit band / 100) (not sent when that limit is <= 0)
    flat                         -> side: the (venue, market) momentum signal, reversed for a contrarian, the
                                    trader's coin where that is 0; lots: floor(min(capital, free) x 0.9 x leverage
                                    / (mark x lot size)) (nothing when < 1); a market order, or an IOC at
                                    mark x (1 +/- entry band / 100)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from venues.margin_nb import withdrawable_one
from venues.nb_cache import preload

NONE, ENTRY, EXIT, EXIT_NOT_SENT = 0, 1, 2, 3
NEED_COIN, NEED_FREE = 1, 2   # why k_decide_venue stopped: a trader's coin to draw, a withdrawable amount to compute


@njit(cache=True)
def k_decide_venue(ix, account, market, capital, leverage, momentum, uses_stops, coin, free_given,
                   L, qty, entry, bal, w, acc_lev, ch_lot, isolated, spot_locked, mark, profit, lot, sig,
                   has_band, band, has_xband, xband, stop_lo, stop_hi, exit_armed, need,
                   o_acc, o_mk, o_side, o_lots, o_limit, o_kind, o_exit, o_who):
    """The decisions of traders ix (in order; module doc) as the batch's orders in o_* (returns their count), the
    exits' stops cleared (and exit_armed set where its limit is <= 0). Returns -1 - t, changing nothing, when
    trader ix[t] needs Python first: need[0] = NEED_COIN (its coin: set coin[t] to BUY or SELL) or NEED_FREE (its
    account holds spot orders: set free_given[t] to its withdrawable amount); then call again. A flat trader's
    free_given[t], when not nan, is used instead of the kernel's own withdrawable_one (the caller gives them all
    on a venue of 8 markets or more, where Accounts.withdrawable sums in numpy)."""
    k = 0
    for t in range(ix.shape[0]):
        j = ix[t]
        i = account[j]
        m = market[j]
        h = L[i, m]
        if h != 0:
            if uses_stops[j]:
                continue
            s = -1 if h > 0 else 1                     # SELL a long, BUY back a short
            mk = mark[m]
            x = np.nan
            if has_xband:
                x = mk * (1.0 - xband / 100.0) if s == -1 else mk * (1.0 + xband / 100.0)
                if x <= 0:
                    continue                             # not sent (armed below)
            o_acc[k], o_mk[k], o_side[k], o_lots[k] = i, m, s, h if h > 0 else -h
            o_limit[k], o_kind[k], o_exit[k], o_who[k] = x, 1 if has_xband else 0, True, j
            k += 1
            continue
        s = sig[m] if momentum[j] else -sig[m]
        if s == 0:
            s = coin[t]
            if s == 0:
                need[0] = NEED_COIN
                return -1 - t
        f = free_given[t]
        if f != f:
            for a in range(spot_locked.shape[1]):
                if spot_locked[i, a] != 0.0:
                    need[0] = NEED_FREE
                    return -1 - t
            f = withdrawable_one(i, L, qty, entry, bal, w, acc_lev, ch_lot, isolated, mark, profit)
        price = mark[m]
        cap = capital[j]
        c = (f if f < cap else cap) * 0.9              # Python's min(capital, free) x 0.9
        lev = leverage[j]
        if not (price > 0 and c > 0 and lev > 0):     # order_lots
            continue
        x = math.floor(c * lev / (price * lot[m]))
        if x >= 9.223372036854775807e18:   # beyond int64 (a mark near 1e-15): fail loudly, as the Python path does
            raise OverflowError("directional entry: lot count beyond int64")
        n = int(x)
        if n <= 0:
            continue
        x = np.nan
        if has_band:
            x = price * (1.0 + band / 100.0) if s == 1 else price * (1.0 - band / 100.0)
        o_acc[k], o_mk[k], o_side[k], o_lots[k] = i, m, s, n
        o_limit[k], o_kind[k], o_exit[k], o_who[k] = x, 1 if has_band else 0, False, j
        k += 1
    # done: the holders without stops leave (their stops cleared; an exit not sent is armed, rule 13c)
    for t in range(ix.shape[0]):
        j = ix[t]
        i = account[j]
        m = market[j]
        h = L[i, m]
        if h != 0 and not uses_stops[j]:
            stop_lo[j] = -np.inf
            stop_hi[j] = np.inf
            if has_xband:
                mk = mark[m]
                x = mk * (1.0 - xband / 100.0) if h > 0 else mk * (1.0 + xband / 100.0)
                if x <= 0:
                    exit_armed[j] = True
    return k


@njit(cache=True)
def k_after(k, o_who, o_exit, o_side, filled, avg, status, pos, not_sent, uses_stops, sl, tp,
            stop_lo, stop_hi, exit_armed):
    """The batch's results: an exit not sent or not complete stays armed; an entry that filled gets its stops
    (exit_prices and CascadeModel.set_stops: a long's band [avg (1 - sl), avg (1 + tp)], a short's
    [avg (1 - tp), avg (1 + sl)])."""
    for q in range(k):
        j = o_who[q]
        if o_exit[q]:
            if status[q] == not_sent or pos[q] != 0:
                exit_armed[j] = True
        elif filled[q] > 0 and uses_stops[j]:
            a = avg[q]
            if o_side[q] == 1:
                stop_lo[j] = a * (1.0 - sl)
                stop_hi[j] = a * (1.0 + tp)
            else:
                stop_lo[j] = a * (1.0 - tp)
                stop_hi[j] = a * (1.0 + sl)


@njit(cache=True)
def k_stops_due(trig, cell, stop_lo, stop_hi, exit_armed, out):
    """CascadeModel._check_stops' selection: the traders j whose trigger price trig[cell[j]] is at or below
    stop_lo[j] or at or above stop_hi[j], or whose exit is armed, in ascending order into out; their number."""
    k = 0
    for j in range(cell.shape[0]):
        p = trig[cell[j]]
        if p <= stop_lo[j] or p >= stop_hi[j] or exit_armed[j]:
            out[k] = j
            k += 1
    return k


preload(globals(), ("k_decide_venue", "k_after", "k_stops_due"))   # loaded with the module (venues/nb_cache.py)
