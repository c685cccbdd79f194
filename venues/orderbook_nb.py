"""The limit order book of `venues.orderbook`, its state in one numpy buffer and its work in numba kernels.

`OrderBookNB` has `OrderBook`'s public API and semantics (same order ids 1, 2, 3, ..., fills in matching order,
self-trade cancels, best prices, bars, refusals and errors), so either can serve a venue; tests/test_orderbook_nb.py
checks the two against each other on random operation streams. It needs numba (the `nb` extra).

Why one buffer: numba's dispatcher costs ~150 ns per array argument on top of ~300-400 ns per call
(bench/numba_dispatch.py), so the whole state lives in a single int64 array `M` and every kernel takes it alone
(plus scalars). Kernels are called through their compiled entry point, which skips the dispatcher's typing of
the arguments (arguments are then unboxed by the fixed signature: the wrappers pass ints and `M` only).

Layout of `M` (int64), offsets in its header:
- header (HDR words): capacities, section offsets, counters, last trade, bar, traded lots;
- orders, OCAP slots x OF fields: id (0 = free), side, price, lots, owner, next/prev in its level (FIFO),
  next/prev among its owner's orders (ascending id), owner slot; free slots form a list through `next`;
- levels, per side LCAP rows x LF (price, lots, head slot, tail slot), sorted so the best level is the LAST row
  (bids ascending, asks descending): the best price is O(1), a level at the touch is added or emptied at the
  end, a level elsewhere by a binary search and a shift of the rows nearer the touch (most activity is near it);
- owners, WCAP rows x WF (head slot, tail slot, count); the Python side maps owner ids to rows (a dict);
- id -> slot: open addressing, 2 * OCAP buckets (id, slot), linear probing from `id & mask` (ids are
  sequential, so they land in sequential buckets), deletion by backward shift (no tombstones);
- out: OCAP rows x 4, where a kernel leaves its fills (from the front: maker id, maker owner, price, lots) and
  its self-trade cancels (from the back: id, side, price, lots); an order is touched once per call, so the two
  never meet.
A kernel that would need more room returns NEED_GROW before it changes anything; the wrapper doubles the
section that is full and calls again.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from .book_kernels import (  # noqa: F401  (the layout constants and kernels, re-exported for ladder_nb, orders_nb, batch_nb)
    _lbase,
    _match,
    H_BH,
    H_BL,
    H_BO,
    H_FOFF,
    H_HASBAR,
    H_HASLAST,
    H_LAST,
    H_LCAP,
    H_LOFF,
    H_NLV0,
    H_NLV1,
    H_NORD,
    H_OCAP,
    H_OOFF,
    H_TRADED,
    H_WCAP,
    H_WOFF,
    LF,
    LHEAD,
    LL,
    LOTS,
    LP,
    NEED_GROW,
    NEXT,
    OF,
    OWNER,
    WCNT,
    WF,
    _M,
    _cancel,
    _cancel_all_of,
    _crosses,
    _depth,
    _entry,
    _layout,
    _order,
    _orders_of,
    _post,
    _post_passive,
    _regrow,
    _rest,
    _room,
    _simulate_take,
    _take,
    _take_many,
    k_cancel_all_of,
)
from .orderbook import BUY, NO_FILLS, SELL, Fills, OrderBook

__all__ = ["BUY", "SELL", "Fills", "OrderBookNB", "NO_FILLS"]


class OrderBookNB:
    """`OrderBook` (venues/orderbook.py) on numpy state and numba kernels: same API, same results.

    Prices and sizes must be Python or numpy ints (the kernels take int64)."""

    def __init__(self, tick_size: float, lot_size: float, name: str = "", capacity: int = 1024):
        if not tick_size > 0 or not lot_size > 0:
            raise ValueError(f"order book {name!r}: tick_size and lot_size must be > 0")
        self.name = name
        self.tick_size = float(tick_size)
        self.lot_size = float(lot_size)
        ocap = 1 << max(4, int(capacity - 1).bit_length())
        self._M = _layout(ocap, 256, 64)
        self._foff = int(self._M[H_FOFF])
        self._ocap = ocap
        self._top = (int(self._M[H_LOFF]) - LF, int(self._M[H_LOFF]) + (256 - 1) * LF)   # best row = top + n * LF
        self._oslot: dict[int, int] = {}   # owner id -> its row in the owners section

    # ------------------------------------------------------------------ room
    def _grow(self, owners: bool = False) -> None:
        M = self._M
        ocap, lcap, wcap = int(M[H_OCAP]), int(M[H_LCAP]), int(M[H_WCAP])
        if M[H_NORD] >= ocap:
            ocap *= 2
        if max(M[H_NLV0], M[H_NLV1]) >= lcap:
            lcap *= 2
        if owners:
            wcap *= 2
        B = _layout(ocap, lcap, wcap)
        _regrow(M, B)
        self._M = B
        self._foff = int(B[H_FOFF])
        self._ocap = ocap
        self._top = (int(B[H_LOFF]) - LF, int(B[H_LOFF]) + (lcap - 1) * LF)

    def _owner_slot(self, owner: int) -> int:
        slot = self._oslot.get(owner)
        if slot is None:
            slot = len(self._oslot)
            if slot >= self._M[H_WCAP]:
                self._grow(owners=True)
            self._oslot[owner] = slot
        return slot

    # ------------------------------------------------------------------ conversions (OrderBook's own)
    to_ticks = OrderBook.to_ticks
    to_price = OrderBook.to_price
    mid_ticks = OrderBook.mid_ticks
    mid = OrderBook.mid
    last_trade = OrderBook.last_trade

    def new_bar(self) -> None:
        """Start a new bar of trade prices (the close is the last trade)."""
        self._M[H_HASBAR] = 0

    # ------------------------------------------------------------------ book state as attributes
    @property
    def last_trade_ticks(self) -> int | None:
        M = self._M
        return M.item(H_LAST) if M.item(H_HASLAST) else None

    @property
    def traded_lots(self) -> int:
        return self._M.item(H_TRADED)

    @property
    def bar_open(self) -> int | None:
        M = self._M
        return M.item(H_BO) if M.item(H_HASBAR) else None

    @property
    def bar_high(self) -> int | None:
        M = self._M
        return M.item(H_BH) if M.item(H_HASBAR) else None

    @property
    def bar_low(self) -> int | None:
        M = self._M
        return M.item(H_BL) if M.item(H_HASBAR) else None

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> int | None:
        M = self._M
        n = M.item(H_NLV0)
        return M.item(self._top[0] + n * LF) if n else None

    def best_ask(self) -> int | None:
        M = self._M
        n = M.item(H_NLV1)
        return M.item(self._top[1] + n * LF) if n else None

    def _levels(self, b: int) -> np.ndarray:
        """Side b's levels (price, lots, head, tail rows), best LAST."""
        M = self._M
        base = int(M[H_LOFF]) + b * int(M[H_LCAP]) * LF
        return M[base:base + int(M[H_NLV0 + b]) * LF].reshape(-1, LF)

    def depth_usd(self, bps: float, side: int | None = None, ref_ticks: float | None = None) -> float:
        """Resting notional (USD) within `bps` of the mid (or of `ref_ticks`), one side or both."""
        ref = self.mid_ticks() if ref_ticks is None else ref_ticks
        if ref is None:
            return 0.0
        band = ref * bps * 1e-4
        total = 0
        if side in (None, BUY):
            total += _depth(self._M, 0, ref - band)
        if side in (None, SELL):
            total += _depth(self._M, 1, ref + band)
        return total * self.tick_size * self.lot_size

    def depth_usd_pair(self, narrow_bps: float, wide_bps: float) -> tuple[float, float]:
        """(depth_usd(narrow_bps), depth_usd(wide_bps)), both sides around the mid (narrow_bps <= wide_bps)."""
        ref = self.mid_ticks()
        if ref is None:
            return 0.0, 0.0
        n_band, w_band = ref * narrow_bps * 1e-4, ref * wide_bps * 1e-4
        M = self._M
        narrow = _depth(M, 0, ref - n_band) + _depth(M, 1, ref + n_band)
        wide = _depth(M, 0, ref - w_band) + _depth(M, 1, ref + w_band)
        return narrow * self.tick_size * self.lot_size, wide * self.tick_size * self.lot_size

    def total_lots(self, side: int) -> int:
        return int(self._levels(0 if side == BUY else 1)[:, LL].sum())

    def n_orders(self) -> int:
        return self._M.item(H_NORD)

    def snapshot(self, levels: int = 10) -> dict:
        """Top `levels` price levels per side as (price_ticks, lots), best first."""
        out = {}
        for key, b in (("bids", 0), ("asks", 1)):
            lv = self._levels(b)[::-1]
            if levels >= 0:
                lv = lv[:levels]
                out[key] = list(zip(lv[:, LP].tolist(), lv[:, LL].tolist()))
            else:
                out[key] = list(zip(lv[:, LP].tolist(), lv[:, LL].tolist()))[:levels]
        out["last_trade_ticks"] = self.last_trade_ticks
        return out

    def order(self, order_id: int) -> tuple[int, int, int, int] | None:
        """(side, price_ticks, lots_remaining, owner) of a resting order, or None."""
        try:
            found, side, price, lots, owner = _order(self._M, order_id)
        except (TypeError, OverflowError):
            return None
        return (side, price, lots, owner) if found else None

    def has_orders(self, owner: int) -> bool:
        slot = self._oslot.get(owner)
        return slot is not None and self._M.item(self._M.item(H_WOFF) + slot * WF + WCNT) > 0

    def orders_of(self, owner: int) -> list[int]:
        slot = self._oslot.get(owner)
        if slot is None:
            return []
        k = _orders_of(self._M, slot)
        return self._M[self._foff:self._foff + k].tolist()

    def simulate_take(self, side: int, lots: int, limit_ticks: int | None = None,
                      owner: int = -1) -> tuple[int, float]:
        """What a taking order would fill, without changing the book: (filled lots, vwap in ticks)."""
        slot = self._oslot.get(owner, -1)
        if limit_ticks is None:
            filled, cost = _simulate_take(self._M, side, lots, False, 0, owner, slot)
        else:
            filled, cost = _simulate_take(self._M, side, lots, True, limit_ticks, owner, slot)
        return filled, (cost / filled if filled else float("nan"))

    # ------------------------------------------------------------------ mutation
    def _fills(self, lots: int, nf: int, ns: int) -> Fills:
        M, foff = self._M, self._foff
        if nf:
            flat = M[foff:foff + 4 * nf].tolist()
            fills = Fills(flat[0::4], flat[1::4], flat[2::4], flat[3::4], lots)
        else:
            fills = Fills(requested_lots=lots)
        if ns:
            end = foff + 4 * self._ocap
            flat = M[end - 4 * ns:end].tolist()[::-1]   # rows run backwards from the end: reversed, fields too
            fills.self_cancelled = list(zip(flat[3::4], flat[2::4], flat[1::4], flat[0::4]))
        return fills

    def post(self, side: int, price_ticks: int, lots: int, owner: int,
             post_only: bool = False) -> tuple[int | None, Fills]:
        """A limit order: the part that crosses trades at once (as taker), the rest rests.

        Returns (order id of the resting rest or None, fills). With post_only an order that would
        cross is refused whole (None, no fills).
        """
        if lots <= 0:
            raise ValueError("lots must be positive")
        slot = self._oslot.get(owner)
        if slot is None:
            slot = self._owner_slot(owner)
        oid, nf, ns, mo, mw, mp, mq = _post(self._M, side, price_ticks, lots, owner, slot, post_only)
        while oid == NEED_GROW:
            self._grow()
            oid, nf, ns, mo, mw, mp, mq = _post(self._M, side, price_ticks, lots, owner, slot, post_only)
        if nf < 0:
            return (oid or None), NO_FILLS
        if nf == 1 and not ns:
            return (oid or None), Fills([mo], [mw], [mp], [mq], lots)
        return (oid or None), self._fills(lots, nf, ns)

    def post_passive(self, owner: int, orders: list[tuple[int, int, int]]) -> list[int | None]:
        """Post-only limit orders [(side, price_ticks, lots), ...] of one owner, in turn: the same book, ids and
        results as that many `post(..., post_only=True)` calls (an order that would cross is refused: None),
        in one kernel call."""
        if not isinstance(orders, (list, tuple)):
            orders = list(orders)
        n = len(orders)
        if n == 0:
            return []
        flat = np.fromiter(chain.from_iterable(orders), np.int64)
        if flat.shape[0] != 3 * n:
            raise ValueError("orders must be (side, price_ticks, lots) triples")
        out = np.zeros(n, np.int64)
        slot = self._owner_slot(owner)
        i = _post_passive(self._M, owner, slot, flat, 0, out)
        while i < n:
            if flat[3 * i + 2] <= 0:
                raise ValueError("lots must be positive")
            self._grow()
            i = _post_passive(self._M, owner, slot, flat, i, out)
        return [x or None for x in out.tolist()]

    def take(self, side: int, lots: int, limit_ticks: int | None = None, owner: int = -1) -> Fills:
        """A market order (no limit) or an IOC order with a limit: walks the levels, never rests."""
        if lots <= 0:
            raise ValueError("lots must be positive")
        if limit_ticks is None:
            nf, ns, mo, mw, mp, mq = _take(self._M, side, lots, False, 0, owner)
        else:
            nf, ns, mo, mw, mp, mq = _take(self._M, side, lots, True, limit_ticks, owner)
        if nf == 1 and not ns:
            return Fills([mo], [mw], [mp], [mq], lots)
        return self._fills(lots, nf, ns)

    def take_many(self, sides, lots, limits=None, owners=None) -> list[Fills]:
        """Takes in turn, in one kernel call (or a few): the same fills and book as `take(sides[i], lots[i],
        limits[i], owners[i])` for each i. limits: None or a list with None for no limit; owners: None (-1),
        an int for all, or a list."""
        out: list[Fills] = []
        for ops, counts, done in self._take_chunks(sides, lots, limits, owners):
            out.extend(self._fills_many(ops[:done, 1].tolist(), counts[:2 * done]))
        return out

    def take_many_arrays(self, sides, lots, limits=None, owners=None):
        """take_many without Fills objects: (counts, fills, self_cancelled) as int64 arrays: counts (k, 2) the
        number of fills and of self-trade cancels of each take, fills (sum, 4) rows (maker id, maker owner,
        price, lots) and self_cancelled (sum, 4) rows (id, side, price, lots), both in matching order."""
        cs, fs, ss = [], [], []
        for _, counts, done in self._take_chunks(sides, lots, limits, owners):
            c = counts[:2 * done].reshape(done, 2).copy()
            nf, ns = int(c[:, 0].sum()), int(c[:, 1].sum())
            foff = self._foff
            cs.append(c)
            fs.append(self._M[foff:foff + 4 * nf].reshape(nf, 4).copy())
            end = foff + 4 * self._ocap
            ss.append(self._M[end - 4 * ns:end].reshape(ns, 4)[::-1].copy())
        if not cs:
            z = np.zeros((0, 2), np.int64)
            return z, np.zeros((0, 4), np.int64), np.zeros((0, 4), np.int64)
        return np.concatenate(cs), np.concatenate(fs), np.concatenate(ss)

    def _take_chunks(self, sides, lots, limits, owners):
        """Run the takes in as few kernel calls as the out rows allow; yields (ops, counts, n run) per call
        (the out rows hold that call's fills until the next)."""
        n = len(sides)
        if n == 0:
            return
        if len(lots) != n:
            raise ValueError("sides and lots differ in length")
        ops = np.zeros((n, 5), np.int64)
        ops[:, 0] = sides
        ops[:, 1] = lots
        if limits is not None:
            for i, lim in enumerate(limits):
                if lim is not None:
                    ops[i, 2] = 1
                    ops[i, 3] = lim
        ops[:, 4] = -1 if owners is None else owners
        bad = np.flatnonzero(ops[:, 1] <= 0)
        m = int(bad[0]) if bad.size else n   # as takes in turn: those before the first bad one run, then the error
        flat = ops.reshape(-1)
        counts = np.zeros(2 * n, np.int64)
        start = 0
        while start < m:
            done = _take_many(self._M, flat[5 * start:5 * m], counts[2 * start:])
            if done == 0:   # a fresh out area always holds one take
                raise RuntimeError("take_many made no progress")
            yield ops[start:], counts[2 * start:], done
            start += done
        if m < n:
            raise ValueError("lots must be positive")

    def _fills_many(self, lots: list[int], counts: np.ndarray) -> list[Fills]:
        M, foff = self._M, self._foff
        c = counts.tolist()
        nf_total = sum(c[0::2])
        ns_total = sum(c[1::2])
        flat = M[foff:foff + 4 * nf_total].tolist()
        if ns_total:
            end = foff + 4 * self._ocap
            sflat = M[end - 4 * ns_total:end].tolist()
        out = []
        a = 0
        s_end = 4 * ns_total   # self-cancel rows run backwards from the area's end
        for i, q in enumerate(lots):
            nf, ns = c[2 * i], c[2 * i + 1]
            b = a + 4 * nf
            fills = Fills(flat[a:b:4], flat[a + 1:b:4], flat[a + 2:b:4], flat[a + 3:b:4], q)
            a = b
            if ns:
                fills.self_cancelled = [tuple(sflat[j:j + 4]) for j in range(s_end - 4, s_end - 4 * ns - 1, -4)]
                s_end -= 4 * ns
            out.append(fills)
        return out

    def cancel(self, order_id: int) -> int:
        """Cancel a resting order; returns the lots removed (0 if it was not resting)."""
        try:
            return _cancel(self._M, order_id)
        except (TypeError, OverflowError):   # not an int id: never one of ours
            return 0

    def cancel_all_of(self, owner: int) -> list[tuple[int, int, int]]:
        """Cancel every resting order of `owner`, in ascending id order (as `cancel` called on each of
        `orders_of(owner)`); returns their (side, price_ticks, lots), in that order."""
        slot = self._oslot.get(owner)
        if slot is None:
            return []
        k = _cancel_all_of(self._M, slot)
        if k == 0:
            return []
        flat = self._M[self._foff:self._foff + 3 * k].tolist()
        return list(zip(flat[0::3], flat[1::3], flat[2::3]))

    def cancel_owner(self, owner: int, side: int | None = None) -> int:
        """Cancel every resting order of `owner` (one side or both); returns the lots removed."""
        total = 0
        for oid in self.orders_of(owner):
            if side is None or self.order(oid)[0] == side:
                total += self.cancel(oid)
        return total
