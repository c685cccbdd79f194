"""A batch of perp taking orders ("market" and "ioc") of one market, executed by one numba kernel over the
numba book's buffer (venues/orderbook_nb.py) and the clearinghouse's arrays, with the effect of calling
`Venue.submit_order` for each order in turn (venues/orders.py): the same book, clearinghouse state bit for bit,
events in the same order and the same rejections. A prototype (tests/test_orders_nb.py checks it against the
Python path, bench/orders_nb_bench.py measures it).

What the kernel does, per order, in the Python code's float operations and order: the validity checks,
reduce_only's clip, the estimated price (`simulate_take`), `_check_perp_order` (settled rule 7's tier max
leverage, the OI cap, initial margin for cross and isolated accounts, `unit_equity` and `_locked_value` with
Python's `sum` of floats, which is Neumaier-compensated since Python 3.12), the book walk with self-trade
prevention, the release of self-cancelled orders' open lots, `_settle_perp_fills` (`apply_fill` for the taker,
`settle_maker` per maker, fees, `fees_kept`, `volume_usd`, two FILL rows per fill) and REJECT rows.

What goes to `venue.submit_order` instead, order by order and in order: kind "limit" (or any other kind), an
order whose account is outside [0, accounts opened), an IOC with an infinite price; the whole batch when the
venue is halted, when the clearinghouse records touched accounts (a waterfall round) or when the market's book
is not an OrderBookNB.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types

from . import events as ev
from .orderbook import BUY, SELL
from .orderbook_nb import H_FOFF, H_OCAP, OrderBookNB, _entry, _match, k_simulate_take

__all__ = ["submit_batch", "STATUS", "status_code"]

# status codes of submit_batch: 0 filled, 1 partial, 2 cancelled (an IOC's rest), 3 resting (a Python-path
# limit order), REJECTED + reason code (events.REJECT_REASONS) for a rejection
STATUS = {"filled": 0, "partial": 1, "cancelled": 2, "resting": 3}
REJECTED = 10
KIND_CODE = {"market": 0, "ioc": 1}
PY = 2   # kind code: this order goes to venue.submit_order
_R_IM = ev.REASON_CODE["initial_margin"]
_R_TIER = ev.REASON_CODE["tier_max_leverage"]
_R_OI = ev.REASON_CODE["oi_cap"]
_R_RO = ev.REASON_CODE["reduce_only"]
_R_INVALID = ev.REASON_CODE["invalid"]
_R_NOLIQ = ev.REASON_CODE["no_liquidity"]


def status_code(res) -> int:
    """An OrderResult's status as submit_batch's code."""
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


_A2I = types.Array(types.int64, 2, "F")
_A2F = types.Array(types.float64, 2, "F")
_A2FC = types.Array(types.float64, 2, "C")
_V = types.Array(types.int64, 1, "C")
_VF = types.Array(types.float64, 1, "C")
_VB = types.Array(types.boolean, 1, "C")
_I = types.int64
_SIG = types.UniTuple(_I, 2)(
    _V, _V, _VF, _V, _VF, _I, _I,                         # M, ops, prices, res, avg, m, start
    _A2I, _A2F, _A2F, _A2F, _A2F, _VB, _A2F, _A2I, _A2I,  # lots, qty, entry, bal, iso_margin, isolated, leverage, ob, os
    _A2FC, types.boolean,                                 # spot_locked, has_spot
    _VF, _VF, _VF, _VF, _VF, _VF, _V, _VF,                # mark, lot, cw, P, upper, maxlev, oi, fst
    types.Array(types.int32, 1, "C"), types.Array(types.int16, 1, "C"), types.Array(types.int16, 1, "C"),
    _V, types.Array(types.int8, 1, "C"), types.Array(types.int8, 1, "C"), _V, _VF, _VF, _VF, _VF, _VF,
    _I, _I, _I)                                           # ev_n, step, venue_id


@njit(_SIG, cache=True)
def k_submit(M, ops, prices, res, avg, m, start,
             L, qty, entry, bal, iso_margin, isolated, leverage, ob, osl, spot_locked, has_spot,
             mark, lot, cw, P, upper, maxlev, oi, fst,
             c_step, c_venue, c_market, c_account, c_kind, c_side, c_lots, c_price, c_notional, c_fee, c_info,
             c_aux, ev_n, step, venue_id):
    """Orders start.. of `ops` (rows account, side, lots, kind, reduce_only, owner row in the book) in turn,
    until the end or an order of kind PY; results to `res` (rows status, filled lots) and `avg`; event rows from
    ev_n. P: tick, taker fee, maker fee, OI cap. fst: fees_kept[0], volume_usd[m]. oi: long, short lots of m.
    Returns (the row it stopped at, the next event row)."""
    k = ops.shape[0] // 6
    MM = L.shape[1]
    A = bal.shape[1]
    tick = P[0]
    fee_taker = P[1]
    fee_maker = P[2]
    cap = P[3]
    foff = M[H_FOFF]
    nup = upper.shape[0]
    r = ev_n
    for j in range(start, k):
        o = 6 * j
        i = ops[o]
        side = ops[o + 1]
        lots = ops[o + 2]
        kind = ops[o + 3]
        ro = ops[o + 4]
        oslot = ops[o + 5]
        if kind == 2:
            return j, r
        price = prices[j]
        reason = -1
        rej_lots = lots
        rej_price = 0.0
        if lots <= 0 or (side != 1 and side != -1) or (kind == 1 and not (price > 0)):
            reason = 8   # invalid
            rej_lots = lots if lots > 0 else 0
        if reason < 0 and ro != 0:
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
            filled, cost = k_simulate_take(M, side, lots, kind == 1, limit, i, oslot)
            if filled == 0:
                if kind == 0:
                    reason = 9
                else:
                    est = mark[m]
            else:
                est = (cost / filled) * tick
        if reason < 0 and ro == 0:
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
            res[2 * j] = 10 + reason
            res[2 * j + 1] = 0
            avg[j] = np.nan
            continue
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
            fst[0] += fee_t + fee_m
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
            fst[1] += notional
        if got == lots:
            res[2 * j] = 0
        elif got > 0:
            res[2 * j] = 1
        else:
            res[2 * j] = 2
        res[2 * j + 1] = got
        avg[j] = (cost / got) * tick if got > 0 else np.nan
    return k, r


_submit = _entry(k_submit)


def _py_status(venue, account, m, side, lots, price, kind, ro):
    r = venue.submit_order(account, m, side, lots, price, kind=kind, reduce_only=ro)
    return status_code(r), r.filled_lots, r.avg_price


def submit_batch(venue, accounts, market, sides, lots, limits=None, kinds="market", reduce_only=False):
    """Perp orders of one market, in turn, with the effect of `venue.submit_order(accounts[j], market, sides[j],
    lots[j], limits[j], kind=kinds[j], reduce_only=reduce_only[j])` for each j. `limits`: None or a sequence
    (None / nan where there is none); `kinds` and `reduce_only`: one value for all or a sequence. Returns
    (filled lots int64, average fill price float64 (nan without fills), status int64: STATUS codes, or
    REJECTED + the rejection's reason code)."""
    m = venue.market_index(market)
    book = venue.books[m]
    ch = venue.ch
    k = len(accounts)
    acc = np.asarray(accounts, dtype=np.int64).reshape(-1)
    sd = np.asarray(sides, dtype=np.int64).reshape(-1)
    lt = np.asarray(lots, dtype=np.int64).reshape(-1)
    if limits is None:
        px = np.full(k, np.nan)
    else:
        px = np.array([np.nan if x is None else x for x in limits], dtype=np.float64)
    if isinstance(kinds, str):
        kd = np.full(k, KIND_CODE.get(kinds, PY), np.int64)
        kind_names = None
    else:
        kind_names = list(kinds)
        kd = np.array([KIND_CODE.get(x, PY) for x in kind_names], np.int64)
    ro = np.broadcast_to(np.asarray(reduce_only, dtype=bool), (k,))
    filled = np.zeros(k, np.int64)
    avg = np.full(k, np.nan)
    status = np.zeros(k, np.int64)
    if k == 0:
        return filled, avg, status
    py = (kd == PY) | (acc < 0) | (acc >= ch.n) | ((kd == 1) & np.isinf(px))
    everything_py = venue.halted or ch.touched is not None or not isinstance(book, OrderBookNB)

    def run_py(j):
        kname = kind_names[j] if kind_names is not None else kinds
        p = None if math.isnan(px[j]) else float(px[j])
        status[j], filled[j], avg[j] = _py_status(venue, int(acc[j]), m, int(sd[j]), int(lt[j]), p, kname,
                                                  bool(ro[j]))

    if everything_py:
        for j in range(k):
            run_py(j)
        return filled, avg, status
    ops = np.empty((k, 6), np.int64)
    ops[:, 0] = acc
    ops[:, 1] = sd
    ops[:, 2] = lt
    ops[:, 3] = np.where(py, PY, kd)
    ops[:, 4] = ro
    flat = ops.reshape(-1)
    res = np.zeros(2 * k, np.int64)
    P = np.array([book.tick_size, venue.fee_taker, venue.fee_maker,
                  venue.params.perps[venue.perp_names[m]].oi_cap_usd])
    tiers = ch.tiers[m]
    upper = np.asarray(tiers._upper, dtype=np.float64)
    maxlev = np.asarray(tiers.max_leverage, dtype=np.float64)
    log = venue.events
    oget = book._oslot.get
    start = 0
    while start < k:
        if py[start]:
            run_py(start)
            start += 1
            continue
        ops[start:, 5] = [oget(a, -1) for a in acc[start:].tolist()]
        log._flush()
        need = 2 * book.n_orders() + 3 * (k - start)
        while log.n + need > log._cap:
            log._grow()
        c = log._cols
        oi = np.array([ch.oi_long_lots[m], ch.oi_short_lots[m]], np.int64)
        fst = np.array([ch.fees_kept[0], venue.volume_usd[m]])
        stop, r = _submit(book._M, flat, px, res, avg, m, start,
                          ch.lots, ch.qty, ch.entry, ch.bal, ch.iso_margin, ch.isolated, ch.leverage,
                          ch.open_buy, ch.open_sell, venue._spot_locked, bool(venue.spot_books),
                          ch._mark, ch.lot_size, np.asarray(ch.collateral_weight, dtype=np.float64), P, upper,
                          maxlev, oi, fst,
                          c["step"], c["venue"], c["market"], c["account"], c["kind"], c["side"], c["lots"],
                          c["price"], c["notional"], c["fee"], c["info"], c["aux"], log.n, log.step, log.venue_id)
        ch.oi_long_lots[m], ch.oi_short_lots[m] = oi.tolist()
        ch.fees_kept[0] = fst.item(0)
        venue.volume_usd[m] = fst[1]
        log.n = r
        if log.sink is not None and log.n >= log.spill_rows:
            log._spill()
        status[start:stop] = res[2 * start:2 * stop:2]
        filled[start:stop] = res[2 * start + 1:2 * stop:2]
        start = stop
    return filled, avg, status
