"""A venue's perp market and IOC orders over its several markets in one numba kernel call: `submit_venue_batch`,
with the effect of `Venue.submit_order` for each order in turn (venues/orders.py), the orders of the venue's
markets interleaved as they come (fees, maker balances and the event log are the venue's, shared by its markets,
so its stream is not cut by market). The per-order work is venues/orders_nb.py's (`_one`); an order may
be flagged to be sent only into a non-empty side (a directional trader's exit, agents/directional.py).
tests/test_orders_nb.py checks it against `submit_order` in turn, tests/test_directional_batch.py the directional
population's batched path against its per-trader one.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .nb_cache import preload
from .orderbook import BUY
from .orderbook_nb import H_NLV0, H_NORD, OrderBookNB
from .orders_nb import KIND_NAMES, _one, after_call, event_room, status_code

__all__ = ["NOT_SENT", "submit_venue_batch", "venue_batchable"]
NOT_SENT = 4   # submit_venue_batch's status of an order sent only into a non-empty side, whose side was empty


@njit(cache=True)
def k_submit_venue(books, ms, accs, sides, lotsv, kinds, ros, prices, need, status, filled, avg, pos, start, n_acc,
                   L, qty, entry, bal, iso_margin, isolated, leverage, ob, osl, spot_locked, has_spot,
                   mark, lot, cw, P, upper, nup, maxlev, oi, fst, vol,
                   c_step, c_venue, c_market, c_account, c_kind, c_side, c_lots, c_price, c_notional, c_fee, c_info,
                   c_aux, ev_n, step, venue_id):
    """k_submit over the markets of one venue: order j in market ms[j], on book books[ms[j]], every argument
    per order. An order with need[j] whose book has no level on the side it would take from is not sent
    (status NOT_SENT, no event). pos[j]: the account's position in the market just after order j. P (per
    market): tick, taker fee, maker fee, OI cap; upper, maxlev (per market, padded): tier bounds (nup[m] of them)
    and max leverages; oi (per market): long, short lots; fst: fees_kept[0], then the event count on return;
    vol: volume_usd. Returns the row it stopped at (an order for the Python path, as k_submit's)."""
    k = accs.shape[0]
    MM = L.shape[1]
    r = ev_n
    for j in range(start, k):
        i = accs[j]
        m = ms[j]
        side = sides[j]
        kind = kinds[j]
        price = prices[j]
        if (kind != 0 and kind != 1) or i < 0 or i >= n_acc or m < 0 or m >= MM or (kind == 1 and np.isinf(price)):
            fst[1] = r
            return j
        M = books[m]
        if need[j] and M[H_NLV0 + (1 if side == 1 else 0)] == 0:
            status[j] = NOT_SENT
            filled[j] = 0
            avg[j] = np.nan
            pos[j] = L[i, m]
            continue
        n = nup[m]
        r = _one(M, j, i, side, lotsv[j], kind, ros[j], price, m, P[m, 0], P[m, 1], P[m, 2], P[m, 3], upper[m, :n],
                 maxlev[m], L, qty, entry, bal, iso_margin, isolated, leverage, ob, osl, spot_locked, has_spot,
                 mark, lot, cw, oi[m], fst, vol, m,
                 c_step, c_venue, c_market, c_account, c_kind, c_side, c_lots, c_price, c_notional, c_fee, c_info,
                 c_aux, r, step, venue_id, status, filled, avg)
        pos[j] = L[i, m]
    fst[1] = r
    return k


def _venue_consts(venue, ch):
    """Per venue: P, the padded tier tables, the oi and fst arrays handed to k_submit_venue (cached), and the
    collateral weights as an array."""
    cache = venue.__dict__.get("_nb_orders")
    if cache is None:
        cache = venue._nb_orders = {}
    c = cache.get("venue")
    if c is None:
        MM = venue.M
        P = np.array([[venue.books[m].tick_size, venue.fee_taker, venue.fee_maker,
                       venue.params.perps[venue.perp_names[m]].oi_cap_usd] for m in range(MM)], dtype=np.float64)
        ups = [np.asarray(ch.tiers[m]._upper, dtype=np.float64) for m in range(MM)]
        mls = [np.asarray(ch.tiers[m].max_leverage, dtype=np.float64) for m in range(MM)]
        T = max(1, max(len(x) for x in mls))
        upper = np.full((MM, T), np.inf)
        maxlev = np.full((MM, T), np.nan)
        for m in range(MM):
            upper[m, :len(ups[m])] = ups[m]
            maxlev[m, :len(mls[m])] = mls[m]
        nup = np.array([len(x) for x in ups], dtype=np.int64)
        c = cache["venue"] = (P, upper, nup, maxlev, np.zeros((MM, 2), np.int64), np.zeros(2))
    cw = cache.get("cw")
    if cw is None or cw[0] is not ch.collateral_weight:
        cw = cache["cw"] = (ch.collateral_weight, np.array(ch.collateral_weight, dtype=np.float64))
    return c, cw[1]


def venue_batchable(venue) -> bool:
    """Whether submit_venue_batch runs this venue's orders in the kernel now (else order by order in Python)."""
    books = getattr(venue, "books", None)
    return (bool(books) and all(isinstance(b, OrderBookNB) for b in books) and not venue.halted
            and venue.ch.touched is None)


def submit_venue_batch(venue, accounts, markets, sides, lots, limits, kinds, reduce_only, need_side):
    """Perp market and IOC orders of one venue's markets, in turn, with the effect of, for each j:
    `venue.submit_order(accounts[j], markets[j], sides[j], lots[j], limits[j] (nan: None), kind=("market",
    "ioc")[kinds[j]], reduce_only=reduce_only[j])`, except that an order with need_side[j] whose book has no
    level on the side it would take from (best ask for a buy, best bid for a sell) is not sent. Every argument
    an array of the batch's length (int64; limits float64; reduce_only, need_side bool). Returns (filled lots,
    average price (nan without fills), status (STATUS codes, REJECTED + reason, or NOT_SENT), the account's
    position in the market just after its order)."""
    ch = venue.ch
    k = accounts.shape[0]
    filled = np.zeros(k, np.int64)
    avg = np.full(k, np.nan)
    status = np.empty(k, np.int64)
    pos = np.zeros(k, np.int64)

    def run_py(j):
        i, m, side = int(accounts[j]), int(markets[j]), int(sides[j])
        if need_side[j]:
            book = venue.books[m]
            if (book.best_ask() if side == BUY else book.best_bid()) is None:
                status[j] = NOT_SENT
                pos[j] = ch.lots[i, m]
                return
        p = float(limits[j])
        code = int(kinds[j])
        r = venue.submit_order(i, m, side, int(lots[j]), None if math.isnan(p) else p,
                               kind=KIND_NAMES[code] if 0 <= code < 3 else str(code), reduce_only=bool(reduce_only[j]))
        status[j], filled[j], avg[j] = status_code(r), r.filled_lots, r.avg_price
        pos[j] = ch.lots[i, m]

    if k == 0:
        return filled, avg, status, pos
    if not venue_batchable(venue):
        for j in range(k):
            run_py(j)
        return filled, avg, status, pos
    (P, upper, nup, maxlev, oi, fst), cw = _venue_consts(venue, ch)
    log = venue.events
    start = 0
    while start < k:
        books = tuple(b._M for b in venue.books)
        c = event_room(log, 2 * sum(Mb.item(H_NORD) for Mb in books) + 3 * (k - start))
        oi[:, 0] = ch.oi_long_lots
        oi[:, 1] = ch.oi_short_lots
        fst[0] = ch.fees_kept[0]
        stop = k_submit_venue(books, markets, accounts, sides, lots, kinds, reduce_only, limits, need_side, status,
                              filled, avg, pos, start, ch.n, ch.lots, ch.qty, ch.entry, ch.bal, ch.iso_margin,
                              ch.isolated, ch.leverage, ch.open_buy, ch.open_sell, venue._spot_locked,
                              bool(venue.spot_books), ch._mark, ch.lot_size, cw, P, upper, nup, maxlev, oi, fst,
                              venue.volume_usd, c["step"], c["venue"], c["market"], c["account"], c["kind"],
                              c["side"], c["lots"], c["price"], c["notional"], c["fee"], c["info"], c["aux"], log.n,
                              log.step, log.venue_id)
        ch.oi_long_lots[:] = oi[:, 0].tolist()
        ch.oi_short_lots[:] = oi[:, 1].tolist()
        start = after_call(ch, log, fst.item(0), int(fst[1]), stop, k, run_py)
    return filled, avg, status, pos


preload(globals(), ("k_submit_venue",))   # its cached overloads loaded with the module (venues/nb_cache.py)
