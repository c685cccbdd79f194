"""A price-time priority limit order book in integer ticks and integer lots.

One class serves perpetual and spot markets: the book knows nothing of margin, it only matches.
Owners are integer ids (the venue maps them to accounts). Prices cross the boundary in ticks and
sizes in lots; `tick_size` (USD per tick) and `lot_size` (base units per lot) convert.

Design for speed in pure Python (the hot path of every simulated minute):
- each price level is a deque of order ids in arrival order, with the level's live lots kept apart;
- the best bid and ask come from heaps of level prices with lazy deletion (a price is in a heap at
  most once, so the heaps never grow past the number of distinct prices in use);
- a cancel is O(1): the order leaves the order table and its level's total; its id stays in the
  level's deque until matching or compaction skips it.
An order larger than the book fills what it can and reports the rest: the book never invents liquidity.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush

BUY = 1
SELL = -1

# the fills of an order that did not trade (shared, read-only)
NO_FILLS: "Fills"

# order table fields: [side, price_ticks, lots_remaining, owner]
_SIDE, _PRICE, _LOTS, _OWNER = 0, 1, 2, 3


@dataclass(slots=True)
class Fills:
    """The fills of one taking order, one entry per resting order hit (in matching order)."""

    maker_order: list[int] = field(default_factory=list)
    maker_owner: list[int] = field(default_factory=list)
    price_ticks: list[int] = field(default_factory=list)
    lots: list[int] = field(default_factory=list)
    requested_lots: int = 0
    self_cancelled: list[tuple[int, int, int, int]] = field(default_factory=list)
    """Own resting orders cancelled by self-trade prevention: (order id, side, price_ticks, lots)."""

    @property
    def filled_lots(self) -> int:
        return sum(self.lots)

    @property
    def unfilled_lots(self) -> int:
        return self.requested_lots - self.filled_lots

    def vwap_ticks(self) -> float:
        """Volume-weighted average price in ticks (nan when nothing filled)."""
        filled = self.filled_lots
        if filled == 0:
            return float("nan")
        return sum(p * q for p, q in zip(self.price_ticks, self.lots)) / filled


NO_FILLS = Fills((), (), (), (), 0, ())


class OrderBook:
    """Limit order book for one market.

    Parameters
    ----------
    tick_size: USD per tick (price increment).
    lot_size: base-asset units per lot (size increment).
    """

    def __init__(self, tick_size: float, lot_size: float, name: str = ""):
        if not tick_size > 0 or not lot_size > 0:
            raise ValueError(f"order book {name!r}: tick_size and lot_size must be > 0")
        self.name = name
        self.tick_size = float(tick_size)
        self.lot_size = float(lot_size)
        self._orders: dict[int, list] = {}
        # index 0: bids, index 1: asks (side BUY -> 0, SELL -> 1)
        self._queues: tuple[dict[int, deque], dict[int, deque]] = ({}, {})
        self._level_lots: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._heaps: tuple[list[int], list[int]] = ([], [])  # bids hold -price, asks hold price
        self._in_heap: tuple[set[int], set[int]] = (set(), set())
        self._by_owner: dict[int, set[int]] = {}
        self._next_id = 1
        self._stale = 0  # cancelled ids still sitting in level deques
        self.last_trade_ticks: int | None = None
        self.traded_lots = 0  # cumulative, for volume statistics
        # the current bar of book trades (open, high, low, close in ticks; None before its first trade): the
        # owner reads it and calls new_bar() once a minute (settled rule 13d)
        self.bar_open: int | None = None
        self.bar_high: int | None = None
        self.bar_low: int | None = None

    # ------------------------------------------------------------------ conversions
    def to_ticks(self, price: float, side: int = 0) -> int:
        """USD price -> ticks. A buy's limit rounds down, a sell's up (never a worse limit); side 0 rounds."""
        x = price / self.tick_size
        if side == BUY:
            return int(x + 1e-9) if x >= 0 else -int(-x)
        if side == SELL:
            n = int(x)
            return n + 1 if x - n > 1e-9 else n
        return int(round(x))

    def to_price(self, ticks: float) -> float:
        return ticks * self.tick_size

    def new_bar(self) -> None:
        """Start a new bar of trade prices (the close is the last trade)."""
        self.bar_open = self.bar_high = self.bar_low = None

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> int | None:
        heap, lots = self._heaps[0], self._level_lots[0]
        while heap:
            p = -heap[0]
            if lots.get(p, 0) > 0:
                return p
            heappop(heap)
            self._in_heap[0].discard(p)
        return None

    def best_ask(self) -> int | None:
        heap, lots = self._heaps[1], self._level_lots[1]
        while heap:
            p = heap[0]
            if lots.get(p, 0) > 0:
                return p
            heappop(heap)
            self._in_heap[1].discard(p)
        return None

    def mid_ticks(self) -> float | None:
        b, a = self.best_bid(), self.best_ask()
        if b is None or a is None:
            return None
        return 0.5 * (a + b)

    def mid(self) -> float | None:
        m = self.mid_ticks()
        return None if m is None else m * self.tick_size

    def last_trade(self) -> float | None:
        return None if self.last_trade_ticks is None else self.last_trade_ticks * self.tick_size

    def depth_usd(self, bps: float, side: int | None = None, ref_ticks: float | None = None) -> float:
        """Resting notional (USD) within `bps` of the mid (or of `ref_ticks`), one side or both."""
        ref = self.mid_ticks() if ref_ticks is None else ref_ticks
        if ref is None:
            return 0.0
        band = ref * bps * 1e-4
        total = 0
        if side in (None, BUY):
            lo = ref - band
            total += sum(p * q for p, q in self._level_lots[0].items() if p >= lo)
        if side in (None, SELL):
            hi = ref + band
            total += sum(p * q for p, q in self._level_lots[1].items() if p <= hi)
        return total * self.tick_size * self.lot_size

    def depth_usd_pair(self, narrow_bps: float, wide_bps: float) -> tuple[float, float]:
        """(depth_usd(narrow_bps), depth_usd(wide_bps)), both sides around the mid, in one pass over the levels
        (narrow_bps <= wide_bps; the model records both every minute)."""
        ref = self.mid_ticks()
        if ref is None:
            return 0.0, 0.0
        n_band, w_band = ref * narrow_bps * 1e-4, ref * wide_bps * 1e-4
        narrow = wide = 0
        n_lo, w_lo = ref - n_band, ref - w_band
        for p, q in self._level_lots[0].items():
            if p >= w_lo:
                x = p * q
                wide += x
                if p >= n_lo:
                    narrow += x
        n_hi, w_hi = ref + n_band, ref + w_band
        for p, q in self._level_lots[1].items():
            if p <= w_hi:
                x = p * q
                wide += x
                if p <= n_hi:
                    narrow += x
        return narrow * self.tick_size * self.lot_size, wide * self.tick_size * self.lot_size

    def total_lots(self, side: int) -> int:
        return sum(self._level_lots[0 if side == BUY else 1].values())

    def n_orders(self) -> int:
        return len(self._orders)

    def snapshot(self, levels: int = 10) -> dict:
        """Top `levels` price levels per side as (price_ticks, lots), best first."""
        bids = sorted(((p, q) for p, q in self._level_lots[0].items() if q > 0), reverse=True)[:levels]
        asks = sorted((p, q) for p, q in self._level_lots[1].items() if q > 0)[:levels]
        return {"bids": bids, "asks": asks, "last_trade_ticks": self.last_trade_ticks}

    def order(self, order_id: int) -> tuple[int, int, int, int] | None:
        """(side, price_ticks, lots_remaining, owner) of a resting order, or None."""
        o = self._orders.get(order_id)
        return None if o is None else (o[0], o[1], o[2], o[3])

    def has_orders(self, owner: int) -> bool:
        return owner in self._by_owner

    def orders_of(self, owner: int) -> list[int]:
        return sorted(self._by_owner.get(owner, ()))

    def simulate_take(self, side: int, lots: int, limit_ticks: int | None = None,
                      owner: int = -1) -> tuple[int, float]:
        """What a taking order would fill, without changing the book: (filled lots, vwap in ticks)."""
        book = 1 if side == BUY else 0
        levels = self._level_lots[book]
        own = self._by_owner.get(owner)
        if not own:   # most orders fill at the best level: no sort of the side's prices
            p = self.best_ask() if side == BUY else self.best_bid()
            if p is None or (limit_ticks is not None and (p > limit_ticks if side == BUY else p < limit_ticks)):
                return 0, float("nan")
            if levels[p] >= lots:
                return lots, float(p)
        if side == BUY:
            prices = sorted(p for p, q in levels.items() if q > 0 and (limit_ticks is None or p <= limit_ticks))
        else:
            prices = sorted((p for p, q in levels.items() if q > 0 and (limit_ticks is None or p >= limit_ticks)),
                            reverse=True)
        left, cost = lots, 0
        for p in prices:
            avail = levels[p]
            if own:
                avail -= sum(self._orders[o][_LOTS] for o in own
                             if self._orders[o][_PRICE] == p and self._orders[o][_SIDE] != side)
            take = avail if avail < left else left
            if take > 0:
                cost += take * p
                left -= take
            if left == 0:
                break
        filled = lots - left
        return filled, (cost / filled if filled else float("nan"))

    # ------------------------------------------------------------------ mutation
    def post(self, side: int, price_ticks: int, lots: int, owner: int,
             post_only: bool = False) -> tuple[int | None, Fills]:
        """A limit order: the part that crosses trades at once (as taker), the rest rests.

        Returns (order id of the resting rest or None, fills). With post_only an order that would
        cross is refused whole (None, no fills).
        """
        if lots <= 0:
            raise ValueError("lots must be positive")
        fills = NO_FILLS
        if side == BUY:
            b = 0
            opp = self._heaps[1]
            # opp[0] is a lower bound of the best ask (stale prices only sit above it), so most
            # non-crossing posts are decided without a call
            if opp and opp[0] <= price_ticks:
                ba = self.best_ask()
                if ba is not None and price_ticks >= ba:
                    if post_only:
                        return None, fills
                    fills = Fills(requested_lots=lots)
                    self._match(BUY, lots, price_ticks, owner, fills)
                    lots -= fills.filled_lots
        else:
            b = 1
            opp = self._heaps[0]
            if opp and -opp[0] >= price_ticks:
                bb = self.best_bid()
                if bb is not None and price_ticks <= bb:
                    if post_only:
                        return None, fills
                    fills = Fills(requested_lots=lots)
                    self._match(SELL, lots, price_ticks, owner, fills)
                    lots -= fills.filled_lots
        if lots <= 0:
            return None, fills
        return self._rest(b, side, price_ticks, lots, owner), fills

    def post_passive(self, owner: int, orders: list[tuple[int, int, int]]) -> list[int | None]:
        """Post-only limit orders [(side, price_ticks, lots), ...] of one owner, in turn: the same book, ids and
        results as that many `post(..., post_only=True)` calls (an order that would cross is refused: None),
        without the per-call overhead (a maker's ladder, every minute)."""
        out = []
        for side, price_ticks, lots in orders:
            if lots <= 0:
                raise ValueError("lots must be positive")
            heaps = self._heaps   # (a rebuild in _rest replaces the pair)
            if side == BUY:
                opp = heaps[1]
                if opp and opp[0] <= price_ticks:
                    ba = self.best_ask()
                    if ba is not None and price_ticks >= ba:
                        out.append(None)
                        continue
                out.append(self._rest(0, side, price_ticks, lots, owner))
            else:
                opp = heaps[0]
                if opp and -opp[0] >= price_ticks:
                    bb = self.best_bid()
                    if bb is not None and price_ticks <= bb:
                        out.append(None)
                        continue
                out.append(self._rest(1, side, price_ticks, lots, owner))
        return out

    def _rest(self, b: int, side: int, price_ticks: int, lots: int, owner: int) -> int:
        """Put an order that does not cross at the back of its level's queue; returns its id."""
        oid = self._next_id
        self._next_id = oid + 1
        self._orders[oid] = [side, price_ticks, lots, owner]
        queues = self._queues[b]
        if price_ticks in queues:
            queues[price_ticks].append(oid)
            self._level_lots[b][price_ticks] += lots
        else:
            queues[price_ticks] = deque((oid,))
            self._level_lots[b][price_ticks] = lots
            in_heap = self._in_heap[b]
            if price_ticks not in in_heap:
                in_heap.add(price_ticks)
                heap = self._heaps[b]
                heappush(heap, -price_ticks if b == 0 else price_ticks)
                if len(heap) > 2 * len(queues) + 4096:   # emptied levels far from the touch: rebuild
                    self._rebuild_heap(b)
        by_owner = self._by_owner
        if owner in by_owner:
            by_owner[owner].add(oid)
        else:
            by_owner[owner] = {oid}
        return oid

    def take(self, side: int, lots: int, limit_ticks: int | None = None, owner: int = -1) -> Fills:
        """A market order (no limit) or an IOC order with a limit: walks the levels, never rests."""
        if lots <= 0:
            raise ValueError("lots must be positive")
        fills = Fills(requested_lots=lots)
        self._match(side, lots, limit_ticks, owner, fills)
        return fills

    def cancel(self, order_id: int) -> int:
        """Cancel a resting order; returns the lots removed (0 if it was not resting)."""
        o = self._orders.pop(order_id, None)
        if o is None:
            return 0
        side, price, lots, owner = o
        b = 0 if side == BUY else 1
        levels = self._level_lots[b]
        left = levels[price] - lots
        if left > 0:
            levels[price] = left
            self._stale += 1  # its id stays in the level's deque until skipped or compacted
            if self._stale > 4096 and self._stale > len(self._orders):
                self._compact()
        else:
            del levels[price]
            self._stale -= len(self._queues[b].pop(price)) - 1
        s = self._by_owner[owner]
        s.discard(order_id)
        if not s:
            del self._by_owner[owner]
        return lots

    def cancel_all_of(self, owner: int) -> list[tuple[int, int, int]]:
        """Cancel every resting order of `owner`, in ascending id order (as `cancel` called on each of
        `orders_of(owner)`); returns their (side, price_ticks, lots), in that order."""
        ids = self._by_owner.pop(owner, None)
        if not ids:
            return []
        orders, queues, level_lots = self._orders, self._queues, self._level_lots
        out = []
        for oid in sorted(ids):
            side, price, lots, _ = orders.pop(oid)
            b = 0 if side == BUY else 1
            levels = level_lots[b]
            left = levels[price] - lots
            if left > 0:
                levels[price] = left
                self._stale += 1   # its id stays in the level's deque until skipped or compacted
            else:
                del levels[price]
                self._stale -= len(queues[b].pop(price)) - 1
            out.append((side, price, lots))
        if self._stale > 4096 and self._stale > len(orders):
            self._compact()
        return out

    def cancel_owner(self, owner: int, side: int | None = None) -> int:
        """Cancel every resting order of `owner` (one side or both); returns the lots removed."""
        ids = self._by_owner.get(owner)
        if not ids:
            return 0
        total = 0
        for oid in list(ids):
            if side is None or self._orders[oid][_SIDE] == side:
                total += self.cancel(oid)
        return total

    # ------------------------------------------------------------------ internals
    def _rebuild_heap(self, b: int) -> None:
        """Keep only live price levels in a side's heap (amortised: runs when stale prices dominate it)."""
        live = list(self._level_lots[b])
        heap = [-p for p in live] if b == 0 else live[:]
        heapify(heap)
        self._heaps = (heap, self._heaps[1]) if b == 0 else (self._heaps[0], heap)
        self._in_heap = (set(live), self._in_heap[1]) if b == 0 else (self._in_heap[0], set(live))

    def _compact(self) -> None:
        """Drop cancelled ids from every level's deque (amortised: runs once stale ids outnumber live orders)."""
        orders = self._orders
        for queues in self._queues:
            for p, q in queues.items():
                queues[p] = deque(o for o in q if o in orders)
        self._stale = 0

    def _match(self, side: int, lots: int, limit: int | None, owner: int, fills: Fills) -> None:
        b = 1 if side == BUY else 0  # the book side we take from
        queues, levels = self._queues[b], self._level_lots[b]
        best = self.best_ask if side == BUY else self.best_bid
        orders = self._orders
        by_owner = self._by_owner
        f_oid, f_own, f_px, f_lots = fills.maker_order, fills.maker_owner, fills.price_ticks, fills.lots
        n0 = len(f_px)
        left = lots
        last = None
        while left > 0:
            p = best()
            if p is None:
                break
            if limit is not None and (p > limit if side == BUY else p < limit):
                break
            q = queues[p]
            level_left = levels[p]
            while left > 0 and q:
                oid = q[0]
                o = orders.get(oid)
                if o is None:  # cancelled earlier: skip the stale id
                    q.popleft()
                    self._stale -= 1
                    continue
                maker = o[3]
                if maker == owner:  # self-trade prevention: the resting order is cancelled
                    q.popleft()
                    fills.self_cancelled.append((oid, o[0], p, o[2]))
                    level_left -= o[2]
                    del orders[oid]
                    s = by_owner[owner]
                    s.discard(oid)
                    if not s:
                        del by_owner[owner]
                    continue
                avail = o[2]
                if avail <= left:
                    q.popleft()
                    del orders[oid]
                    s = by_owner[maker]
                    s.discard(oid)
                    if not s:
                        del by_owner[maker]
                    take = avail
                else:
                    o[2] = avail - left
                    take = left
                left -= take
                level_left -= take
                f_oid.append(oid)
                f_own.append(maker)
                f_px.append(p)
                f_lots.append(take)
                last = p
            if level_left > 0:
                levels[p] = level_left
            else:
                del levels[p]
                self._stale -= len(queues.pop(p))  # whatever is left in the deque is stale
        if last is not None:
            self.last_trade_ticks = last
            first = f_px[n0]   # a walk is monotone: its first and last prices bound it
            lo, hi = (first, last) if side == BUY else (last, first)
            if self.bar_open is None:
                self.bar_open, self.bar_high, self.bar_low = first, hi, lo
            else:
                if hi > self.bar_high:
                    self.bar_high = hi
                if lo < self.bar_low:
                    self.bar_low = lo
        self.traded_lots += lots - left
