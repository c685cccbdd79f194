"""Perp taking orders ("market" and "ioc") in numba over the numba book's buffer (venues/orderbook_nb.py) and the
clearinghouse's arrays, with the effect of `Venue.submit_order` for each order in turn (venues/orders.py): the
same book, clearinghouse state bit for bit, events in the same order and the same rejections. `_one` is one
order; `k_submit` runs orders of one market (`submit_one`: an arbitrageur's or value trader's single order,
agents/base.py `take`); venues/batch_nb.py runs a venue's orders over its markets (the directional traders).
tests/test_orders_nb.py checks both against the Python path, bench/orders_nb_bench.py measures the batch.

What `_one` does, in the Python code's float operations and order: the validity checks,
reduce_only's clip, the estimated price (`simulate_take`), `_check_perp_order` (settled rule 7's tier max
leverage, the OI cap, initial margin for cross and isolated accounts, `unit_equity` and `_locked_value` with
Python's `sum` of floats, which is Neumaier-compensated since Python 3.12), the book walk with self-trade
prevention, the release of self-cancelled orders' open lots, `_settle_perp_fills` (`apply_fill` for the taker,
`settle_maker` per maker: the same kernels, venues/fills_nb.py; fees, `fees_kept`, `volume_usd`, two FILL rows
per fill) and REJECT rows.

What the kernels leave to `venue.submit_order`, order by order and in order: kind "limit" (or any other kind),
an order whose account is outside [0, accounts opened), an IOC with an infinite price; all of them when the venue
is halted, when the clearinghouse records touched accounts (a waterfall round) or when the market's book is not an
OrderBookNB.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types

from . import events as ev
from .orderbook import BUY, SELL
from .book_kernels import _simulate
from .fills_nb import k_fill, k_settle_maker
from .margin_nb import _coll, _nadd, _nend
from .orderbook_nb import H_FOFF, H_NORD, H_OCAP, OrderBookNB, _entry, _match

__all__ = ["submit_one", "STATUS", "status_code", "KIND_NAMES"]

# status codes of the batches: 0 filled, 1 partial, 2 cancelled (an IOC's rest), 3 resting (a Python-path
# limit order), REJECTED + reason code (events.REJECT_REASONS) for a rejection
STATUS = {"filled": 0, "partial": 1, "cancelled": 2, "resting": 3}
REJECTED = 10
KIND_CODE = {"market": 0, "ioc": 1}
PY = 2   # kind code: this order goes to venue.submit_order


def status_code(res) -> int:
    """An OrderResult's status as the batches' code."""
    if res.status == "rejected":
        return REJECTED + ev.REASON_CODE[res.reason]
    return STATUS[res.status]


# ---------------------------------------------------------------------------------------------- helpers
@njit(cache=True, inline="always")
def equity_less_locked(i, bal, cw, qty, entry, mark, spot_locked, has_spot):
    """`ch.unit_equity(i, -1) - venue._locked_value(i)` of a cross account (not isolated), its Python floats'
    operations: the collateral in asset order (assets held only), plus CPython 3.12's sum of the positions'
    unrealised PnL, less (with spot books) the sum of its spot reservations' collateral value."""
    coll = _coll(i, bal, cw)
    s = 0.0
    c = 0.0
    for kk in range(qty.shape[1]):
        qq = qty[i, kk]
        s, c = _nadd(s, c, qq * (mark[kk] - entry[i, kk]) if qq != 0.0 else 0.0)
    eq = coll + _nend(s, c)
    if has_spot:
        s = 0.0
        c = 0.0
        for a in range(bal.shape[1]):
            lk = spot_locked[i, a]
            if lk != 0.0:
                s, c = _nadd(s, c, lk * cw[a])
        eq = eq - _nend(s, c)
    return eq


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


_A2I = types.Array(types.int64, 2, "F")
_A2F = types.Array(types.float64, 2, "F")
_A2FC = types.Array(types.float64, 2, "C")
_V = types.Array(types.int64, 1, "C")
_VF = types.Array(types.float64, 1, "C")
_VB = types.Array(types.boolean, 1, "C")
_I = types.int64
_SIG = types.int64(
    _V, _V, _V, _V, _V, _VB, _VF, _V, _V, _VF, _I, _I, _I,  # M, accounts, sides, lots, kinds, reduce_only, prices,
                                                            # status, filled, avg, m, start, accounts opened
    _A2I, _A2F, _A2F, _A2F, _A2F, _VB, _A2F, _A2I, _A2I,  # lots, qty, entry, bal, iso_margin, isolated, leverage, ob, os
    _A2FC, types.boolean,                                 # spot_locked, has_spot
    _VF, _VF, _VF, _VF, _VF, _VF, _V, _VF,                # mark, lot, cw, P, upper, maxlev, oi, fst
    types.Array(types.int32, 1, "C"), types.Array(types.int16, 1, "C"), types.Array(types.int16, 1, "C"),
    _V, types.Array(types.int8, 1, "C"), types.Array(types.int8, 1, "C"), _V, _VF, _VF, _VF, _VF, _VF,
    _I, _I, _I)                                           # ev_n, step, venue_id


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
                        eq = equity_less_locked(i, bal, cw, qty, entry, mark, spot_locked, has_spot)
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
        k_fill(i, m, side * n, px, True, L, qty, entry, bal, iso_margin, isolated, leverage, lot, oi)
        k_settle_maker(maker, m, side, n, px, fee_m, L, qty, entry, bal, iso_margin, isolated, leverage, lot, ob, osl,
                       oi)
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


@njit(_SIG, cache=True)
def k_submit(M, accs, sides, lotsv, kinds, ros, prices, status, filled, avg, m, start, n_acc,
             L, qty, entry, bal, iso_margin, isolated, leverage, ob, osl, spot_locked, has_spot,
             mark, lot, cw, P, upper, maxlev, oi, fst,
             c_step, c_venue, c_market, c_account, c_kind, c_side, c_lots, c_price, c_notional, c_fee, c_info,
             c_aux, ev_n, step, venue_id):
    """Orders start.. (accounts, sides, lots; kinds, reduce_only and prices of length 1 serve every order) in
    turn, until the end or an order for the Python path (a kind other than market 0 / IOC 1, an account outside
    [0, n_acc), an infinite IOC price); results to status, filled, avg; event rows from ev_n (their count
    fst[2] on return). P: tick, taker fee, maker fee, OI cap. fst: fees_kept[0], volume_usd[m]. oi: long,
    short lots of m. Returns the row it stopped at."""
    k = accs.shape[0]
    tick = P[0]
    fee_taker = P[1]
    fee_maker = P[2]
    cap = P[3]
    r = ev_n
    one_kind = kinds.shape[0] == 1
    one_ro = ros.shape[0] == 1
    one_price = prices.shape[0] == 1
    for j in range(start, k):
        i = accs[j]
        side = sides[j]
        lots = lotsv[j]
        kind = kinds[0 if one_kind else j]
        ro = ros[0 if one_ro else j]
        price = prices[0 if one_price else j]
        if (kind != 0 and kind != 1) or i < 0 or i >= n_acc or (kind == 1 and np.isinf(price)):
            fst[2] = r
            return j
        r = _one(M, j, i, side, lots, kind, ro, price, m, tick, fee_taker, fee_maker, cap, upper, maxlev,
                 L, qty, entry, bal, iso_margin, isolated, leverage, ob, osl, spot_locked, has_spot,
                 mark, lot, cw, oi, fst, fst, 1,
                 c_step, c_venue, c_market, c_account, c_kind, c_side, c_lots, c_price, c_notional, c_fee, c_info,
                 c_aux, r, step, venue_id, status, filled, avg)
    fst[2] = r
    return k


_submit = _entry(k_submit)


_ONE_KIND = {0: np.zeros(1, np.int64), 1: np.ones(1, np.int64)}
_BOOL1 = {False: np.zeros(1, bool), True: np.ones(1, bool)}
KIND_NAMES = ("market", "ioc", "limit")


def _consts(venue, m, ch):
    """Per venue and market: P (tick, fees, OI cap) and the tier bounds and max leverages, cached; the state
    arrays handed to the kernel (oi, fst) reused."""
    cache = venue.__dict__.get("_nb_orders")
    if cache is None:
        cache = venue._nb_orders = {}
    c = cache.get(m)
    if c is None:
        tiers = ch.tiers[m]
        P = np.array([venue.books[m].tick_size, venue.fee_taker, venue.fee_maker,
                      venue.params.perps[venue.perp_names[m]].oi_cap_usd])
        c = cache[m] = (P, np.asarray(tiers._upper, dtype=np.float64).copy(),
                        np.asarray(tiers.max_leverage, dtype=np.float64).copy(), np.zeros(2, np.int64), np.zeros(3))
    cw = cache.get("cw")
    if cw is None or cw[0] is not ch.collateral_weight:
        cw = cache["cw"] = (ch.collateral_weight, np.array(ch.collateral_weight, dtype=np.float64))
    return c, cw[1]


def _run(venue, m, book, ch, acc, sd, lt, kd, ro, px, status, filled, avg, run_py) -> None:
    """k_submit's loop over orders of market m in arrays, in turn (each order the kernel leaves goes to
    run_py(j)), and the clearinghouse's and event log's state written back after each call."""
    k = acc.shape[0]
    (P, upper, maxlev, oi, fst), cw = _consts(venue, m, ch)
    log = venue.events
    start = 0
    while start < k:
        c = event_room(log, 2 * book._M.item(H_NORD) + 3 * (k - start))
        oi[0] = ch.oi_long_lots[m]
        oi[1] = ch.oi_short_lots[m]
        fst[0] = ch.fees_kept[0]
        fst[1] = venue.volume_usd[m]
        stop = _submit(book._M, acc, sd, lt, kd, ro, px, status, filled, avg, m, start, ch.n,
                       ch.lots, ch.qty, ch.entry, ch.bal, ch.iso_margin, ch.isolated, ch.leverage,
                       ch.open_buy, ch.open_sell, venue._spot_locked, bool(venue.spot_books),
                       ch._mark, ch.lot_size, cw, P, upper, maxlev, oi, fst,
                       c["step"], c["venue"], c["market"], c["account"], c["kind"], c["side"], c["lots"],
                       c["price"], c["notional"], c["fee"], c["info"], c["aux"], log.n, log.step, log.venue_id)
        ch.oi_long_lots[m] = oi.item(0)
        ch.oi_short_lots[m] = oi.item(1)
        venue.volume_usd[m] = fst[1]
        start = after_call(ch, log, fst.item(0), int(fst[2]), stop, k, run_py)


def event_room(log, need: int) -> dict:
    """Before a batch kernel call: the event log's buffered rows flushed into its columns and room made for
    `need` more rows; the columns the kernel writes to."""
    log._flush()
    while log.n + need > log._cap:
        log._grow()
    return log._cols


def after_call(ch, log, fees: float, rows: int, stop: int, k: int, run_py) -> int:
    """After a batch kernel call that stopped at order `stop` of k: the fees kept and the event log's row count
    written back, the log spilled to its sink when due, the order the kernel left (if any) sent through
    run_py; the order to resume from."""
    ch.fees_kept[0] = fees
    log.n = rows
    if log.sink is not None and log.n >= log.spill_rows:
        log._spill()
    if stop < k:
        run_py(stop)
        stop += 1
    return stop


# one order's arrays for submit_one, reused (nothing in the kernel call or its Python fallback re-enters submit_one)
_ACC1, _SD1, _LT1 = np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)
_PX1, _ST1, _F1, _AVG1 = np.full(1, np.nan), np.zeros(1, np.int64), np.zeros(1, np.int64), np.full(1, np.nan)


def submit_one(venue, account: int, market: int, side: int, lots: int, price: float | None = None,
               kind: str = "market", reduce_only: bool = False) -> int:
    """The lots filled by `venue.submit_order(account, market, side, lots, price, kind=kind,
    reduce_only=reduce_only)`, with its effect (state, events, rejections): k_submit on that one order, on
    reused one-element arrays. Python ints and floats in; market and IOC orders go through the kernel, anything
    else (and what the kernel leaves to the Python path) through venue.submit_order."""
    m = market
    book = venue.books[m]
    ch = venue.ch
    kd = _ONE_KIND.get(KIND_CODE.get(kind))

    def run_py(j):
        _F1[0] = venue.submit_order(account, m, side, lots, price, kind=kind, reduce_only=reduce_only).filled_lots

    if (kd is None or venue.halted or ch.touched is not None or not isinstance(book, OrderBookNB)
            or type(m) is not int or type(side) is not int or type(lots) is not int or not -2**63 <= lots < 2**63):
        run_py(0)
        return _F1.item(0)
    _ACC1[0] = account
    _SD1[0] = side
    _LT1[0] = lots
    _PX1[0] = np.nan if price is None else price
    _run(venue, m, book, ch, _ACC1, _SD1, _LT1, kd, _BOOL1[bool(reduce_only)], _PX1, _ST1, _F1, _AVG1, run_py)
    return _F1.item(0)
