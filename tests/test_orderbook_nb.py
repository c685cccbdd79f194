"""The numba order book (venues/orderbook_nb.py) against the pure-Python one (venues/orderbook.py): seeded random
streams of every public operation, each applied to both books; every return value, raised error and the
books' visible state (all levels, best prices, last trade, bar, traded lots, order count) compared after each
operation, and every resting order and owner's id list at intervals."""

from __future__ import annotations

import math
import random

import pytest

pytest.importorskip("numba")

from venues.orderbook import BUY, NO_FILLS, SELL, OrderBook  # noqa: E402
from venues.orderbook_nb import OrderBookNB  # noqa: E402


def state(b) -> tuple:
    return (b.snapshot(100_000), b.best_bid(), b.best_ask(), b.mid_ticks(), b.n_orders(), b.last_trade_ticks,
            b.traded_lots, b.bar_open, b.bar_high, b.bar_low, b.total_lots(BUY), b.total_lots(SELL))


def full_state(b, max_id: int, owners) -> tuple:
    return ([b.order(i) for i in range(-1, max_id + 3)], [b.orders_of(o) for o in owners],
            [b.has_orders(o) for o in owners])


def same(x, y) -> bool:
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    if isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y):
        return all(same(a, b) for a, b in zip(x, y))
    return x == y and type(x) is type(y)


def take_many_in_turn(book, sides, lots, limits=None, owners=None):
    """What OrderBookNB.take_many must equal: one take after another."""
    return [book.take(s, q, None if limits is None else limits[i],
                      -1 if owners is None else owners if isinstance(owners, int) else owners[i])
            for i, (s, q) in enumerate(zip(sides, lots))]


def call(book, name, args, kwargs):
    try:
        if name == "take_many" and isinstance(book, OrderBook):
            return "ok", take_many_in_turn(book, *args, **kwargs)
        return "ok", getattr(book, name)(*args, **kwargs)
    except ValueError as e:
        return "ValueError", str(e)


class Stream:
    """One regime of random operations around a drifting mid."""

    def __init__(self, seed: int, n_owners: int, spread: int, drift: int, big_take: float):
        self.rnd = random.Random(seed)
        self.n_owners, self.spread, self.drift, self.big_take = n_owners, spread, drift, big_take
        self.mid = 100_000
        self.ids: list[int] = []

    def owner(self) -> int:
        return self.rnd.randrange(self.n_owners)

    def price(self, side: int) -> int:
        r = self.rnd
        off = int(r.expovariate(1.0 / self.spread)) - (r.randrange(max(6, self.spread // 3)) if r.random() < 0.2 else 0)
        return self.mid - off - 1 if side == BUY else self.mid + off + 1

    def op(self):
        r = self.rnd
        self.mid += r.randint(-self.drift, self.drift)
        side = r.choice((BUY, SELL))
        u = r.random()
        if u < 0.45:
            kw = {"post_only": True} if r.random() < 0.25 else {}
            lots = r.randint(1, 20) if r.random() > 0.002 else 0
            return "post", (side, self.price(side), lots, self.owner()), kw
        if u < 0.55:
            lots = r.randint(1, 60) if r.random() < 1 - self.big_take else r.randint(100, 3000)
            kw = {}
            if r.random() < 0.5:
                kw["limit_ticks"] = self.mid + (1 if side == BUY else -1) * r.randint(-5, 3 * self.spread)
            if r.random() < 0.5:
                kw["owner"] = self.owner()
            return "take", (side, lots), kw
        if u < 0.58:
            k = r.randint(0, 12)
            sides = [r.choice((BUY, SELL)) for _ in range(k)]
            lots = [r.randint(1, 80) if r.random() > 0.01 else 0 for _ in range(k)]
            kw = {}
            if r.random() < 0.5:
                kw["limits"] = [None if r.random() < 0.3 else
                                self.mid + (1 if sd == BUY else -1) * r.randint(-5, 3 * self.spread) for sd in sides]
            v = r.random()
            if v < 0.3:
                kw["owners"] = self.owner()
            elif v < 0.7:
                kw["owners"] = [self.owner() for _ in range(k)]
            return "take_many", (sides, lots), kw
        if u < 0.72:
            if self.ids and r.random() < 0.9:
                oid = r.choice(self.ids)
            else:
                oid = r.choice((0, -3, 10**6, None))
            return "cancel", (oid,), {}
        if u < 0.76:
            n = r.randint(0, 40)
            ladder = [(sd, self.price(sd), r.randint(1, 9)) for sd in (r.choice((BUY, SELL)) for _ in range(n))]
            if ladder and r.random() < 0.03:
                ladder[r.randrange(len(ladder))] = (BUY, self.mid, 0)   # raises midway in both books
            return "post_passive", (self.owner(), ladder), {}
        if u < 0.79:
            return "cancel_all_of", (self.owner(),), {}
        if u < 0.80:
            return "cancel_owner", (self.owner(), r.choice((None, BUY, SELL))), {}
        if u < 0.88:
            kw = {}
            if r.random() < 0.5:
                kw["limit_ticks"] = self.mid + (1 if side == BUY else -1) * r.randint(-5, 3 * self.spread)
            if r.random() < 0.7:
                kw["owner"] = self.owner()
            return "simulate_take", (side, r.randint(1, 400)), kw
        if u < 0.93:
            kw = {}
            if r.random() < 0.3:
                kw["ref_ticks"] = self.mid + r.uniform(-50, 50)
            if r.random() < 0.3:
                return "depth_usd_pair", (r.choice((5, 100)), r.choice((100, 500, 3000))), {}
            return "depth_usd", (r.choice((5, 50, 300, 2000)),), {**kw, "side": r.choice((None, BUY, SELL))}
        if u < 0.95:
            return "new_bar", (), {}
        if u < 0.97:
            return "order", (r.choice(self.ids) if self.ids else 1,), {}
        if u < 0.99:
            return "orders_of", (self.owner(),), {}
        return "has_orders", (self.owner(),), {}

    def record(self, name, out):
        """Remember ids the stream may cancel later (live or not)."""
        if out[0] != "ok":
            return
        if name == "post" and out[1][0] is not None:
            self.ids.append(out[1][0])
        elif name == "post_passive":
            self.ids.extend(i for i in out[1] if i is not None)
        if len(self.ids) > 5000:
            del self.ids[:2500]


REGIMES = [   # seed, owners, spread (ticks), mid drift per op, share of big sweeps, ops, capacity
    (1, 4, 20, 1, 0.01, 4000, 16),        # few owners: self-trades everywhere; tiny capacity: many regrows
    (2, 300, 200, 3, 0.005, 4000, 16),    # many owners (owner rows regrow), wide book (level rows regrow)
    (3, 30, 5, 0, 0.05, 4000, 1024),      # a tight book at the touch, levels emptied and refilled
    (4, 12, 800, 40, 0.02, 3000, 64),     # a mid walking thousands of ticks, deep sweeps
]


@pytest.mark.parametrize("seed,n_owners,spread,drift,big,n_ops,cap", REGIMES)
def test_numba_book_equals_python_book(seed, n_owners, spread, drift, big, n_ops, cap):
    py, nb = OrderBook(0.1, 0.001, "py"), OrderBookNB(0.1, 0.001, "nb", capacity=cap)
    s = Stream(seed, n_owners, spread, drift, big)
    owners = list(range(n_owners)) + [-1, 10**6]
    counts: dict[str, int] = {}
    for k in range(n_ops):
        name, args, kw = s.op()
        a, b = call(py, name, args, kw), call(nb, name, args, kw)
        assert same(a, b), (k, name, args, kw, a, b)
        if name == "take_many" and a[0] == "ok":
            assert [f is NO_FILLS for f in a[1]] == [f is NO_FILLS for f in b[1]]
        if name in ("post", "take") and a[0] == "ok":
            fa = a[1][1] if name == "post" else a[1]
            fb = b[1][1] if name == "post" else b[1]
            assert (fa is NO_FILLS) == (fb is NO_FILLS), (k, name, args, kw)
        s.record(name, a)
        counts[name] = counts.get(name, 0) + 1
        assert state(py) == state(nb), (k, name, args, kw)
        if k % 200 == 0 or k == n_ops - 1:
            assert full_state(py, py._next_id, owners) == full_state(nb, py._next_id, owners), k
    # the stream exercised what it is meant to
    assert counts["post"] > n_ops // 3 and counts["take"] > n_ops // 20 and counts["post_passive"] > 50
    assert counts["take_many"] > 50
    assert nb._M[0] >= 64 or cap >= 1024


def test_self_trade_fills_bars_and_ids_match_by_hand():
    """The cases of tests/test_orderbook.py on the numba book."""
    b = OrderBookNB(0.5, 0.01)
    b.post(SELL, 200, 3, owner=1)
    b.post(SELL, 202, 5, owner=2)
    b.post(SELL, 206, 4, owner=3)
    b.post(BUY, 190, 7, owner=4)
    f = b.take(BUY, 4, owner=1)
    assert f.maker_owner == [2] and f.lots == [4]
    assert f.self_cancelled == [(1, SELL, 200, 3)]
    assert b.orders_of(1) == [] and not b.has_orders(1)
    assert (b.bar_open, b.bar_high, b.bar_low, b.last_trade_ticks) == (202, 202, 202, 202)
    f = b.take(BUY, 50)
    assert f.filled_lots == 5 and f.unfilled_lots == 45 and b.best_ask() is None
    oid, f = b.post(BUY, 300, 2, owner=9, post_only=True)
    assert oid == 5 and f is NO_FILLS
    b.new_bar()
    assert b.bar_open is None and b.last_trade_ticks == 206


def test_long_lived_orders_survive_id_churn():
    """Orders resting while tens of thousands of ids pass (ids collide modulo the id table's size, and the
    table's backward-shift deletions move entries past them) stay found, cancellable and in place."""
    py, nb = OrderBook(1.0, 1.0), OrderBookNB(1.0, 1.0, capacity=16)
    rnd = random.Random(5)
    for book in (py, nb):
        for k in range(12):
            book.post(BUY, 500 - k, 1 + k, owner=k % 3)
    live = []
    for k in range(30_000):
        side = rnd.choice((BUY, SELL))
        px = 1000 + rnd.randint(-3, 3) + (5 if side == SELL else -5)
        args = (side, px, rnd.randint(1, 4), rnd.randrange(8))
        a, b = py.post(*args), nb.post(*args)
        assert a == b
        live.append(a[0])
        if len(live) > 40 or rnd.random() < 0.3:
            oid = live.pop(rnd.randrange(len(live)))
            assert py.cancel(oid) == nb.cancel(oid)
    assert [py.order(i) for i in range(1, 40)] == [nb.order(i) for i in range(1, 40)]
    assert [nb.order(i) for i in range(1, 13)] == [(BUY, 500 - k, 1 + k, k % 3) for k in range(12)]
    assert state(py) == state(nb)
    assert [py.cancel(i) for i in range(1, 13, 2)] == [nb.cancel(i) for i in range(1, 13, 2)]
    assert full_state(py, py._next_id, range(8)) == full_state(nb, py._next_id, range(8))


def test_take_many_across_out_area_refills():
    """More fills than the out area holds at once: take_many runs in several kernel calls, equal to takes."""
    py, nb = OrderBook(1.0, 1.0), OrderBookNB(1.0, 1.0, capacity=16)
    rnd = random.Random(9)
    for _ in range(1000):
        side = rnd.choice((BUY, SELL))
        args = (side, 1000 + (-1 if side == BUY else 1) * rnd.randint(1, 50), rnd.randint(1, 30), rnd.randrange(5))
        assert py.post(*args) == nb.post(*args)
    sides = [rnd.choice((BUY, SELL)) for _ in range(400)]
    lots = [rnd.randint(1, 3) for _ in range(400)]
    owners = [rnd.randrange(5) for _ in range(400)]
    assert take_many_in_turn(py, sides, lots, owners=owners) == nb.take_many(sides, lots, owners=owners)
    assert state(py) == state(nb)
    nb2 = OrderBookNB(1.0, 1.0, capacity=16)   # the same takes again, as arrays
    rnd = random.Random(9)
    for _ in range(1000):
        side = rnd.choice((BUY, SELL))
        nb2.post(side, 1000 + (-1 if side == BUY else 1) * rnd.randint(1, 50), rnd.randint(1, 30), rnd.randrange(5))
    counts, fills, selfc = nb2.take_many_arrays(sides, lots, owners=owners)
    py2 = OrderBook(1.0, 1.0)
    rnd = random.Random(9)
    for _ in range(1000):
        side = rnd.choice((BUY, SELL))
        py2.post(side, 1000 + (-1 if side == BUY else 1) * rnd.randint(1, 50), rnd.randint(1, 30), rnd.randrange(5))
    ref = take_many_in_turn(py2, sides, lots, owners=owners)
    assert counts.tolist() == [[len(f.lots), len(f.self_cancelled)] for f in ref]
    assert fills.tolist() == [list(r) for f in ref for r in zip(f.maker_order, f.maker_owner, f.price_ticks, f.lots)]
    assert selfc.tolist() == [list(r) for f in ref for r in f.self_cancelled]
    assert state(py2) == state(nb2) and len(counts) == 400 and len(selfc) > 0


@pytest.mark.slow
@pytest.mark.parametrize("batched", [False, True])
def test_golden_run_with_numba_books_is_bit_identical(monkeypatch, batched):
    """Every venue book an OrderBookNB: the recorded fixed-seed run (tests/golden) comes out bit for bit, with the
    directional traders' orders one `submit_order` each and (batched) in compiled batches per venue
    (agents/directional.py, venues/batch_nb.py: submit_venue_batch)."""
    import json
    import sys
    from pathlib import Path

    import venues.venue
    from agents.directional import DirectionalPopulation
    from venues import batch_nb

    sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
    from fingerprint import FILE, fingerprint

    made = []

    class Counted(OrderBookNB):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    sent = {"calls": 0, "orders": 0, "exits": 0}
    real = batch_nb.submit_venue_batch

    def counted(v, accs, *rest):
        sent["calls"] += 1
        sent["orders"] += len(accs)
        sent["exits"] += int(rest[-1].sum())
        return real(v, accs, *rest)

    monkeypatch.setattr(venues.venue, "OrderBook", Counted)
    monkeypatch.setattr(batch_nb, "submit_venue_batch", counted)
    monkeypatch.setattr(DirectionalPopulation, "batched", batched)
    want = json.loads(FILE.read_text())
    got = fingerprint()
    assert made and sum(b.traded_lots for b in made) > 0   # the run's books were these, and they traded
    if batched:   # the directional orders went through the batches, entries and exits
        assert sent["calls"] > 100 and sent["orders"] > 300 and sent["exits"] > 10, sent
    else:
        assert sent["calls"] == 0
    assert got["metrics"] == want["metrics"]
    assert got["series"] == want["series"]
    assert got["events"] == want["events"]


@pytest.mark.slow
def test_golden_run_with_python_books_is_bit_identical(monkeypatch):
    """Every venue book the Python `OrderBook` (the numba book's reference; venues build OrderBookNB): the recorded
    fixed-seed run comes out bit for bit, the makers' and directional traders' Python paths included."""
    import json
    import sys
    from pathlib import Path

    import venues.venue

    sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
    from fingerprint import FILE, fingerprint

    made = []

    class Counted(OrderBook):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            made.append(self)

    monkeypatch.setattr(venues.venue, "OrderBook", Counted)
    want = json.loads(FILE.read_text())
    got = fingerprint()
    assert made and sum(b.traded_lots for b in made) > 0
    assert got["metrics"] == want["metrics"]
    assert got["series"] == want["series"]
    assert got["events"] == want["events"]
