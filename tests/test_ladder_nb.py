"""A maker's requote in one kernel call (venues/ladder_nb.py, `Venue.replace_ladder`) against the two Python calls
it replaces (`cancel_all(account, m)` then `post_ladder(account, m, orders)`): two venues built alike from one seed
(every book an OrderBookNB, small ones so that they grow mid-ladder), random ladders (crossing rungs, zero and
negative sizes, invalid sides and prices, ladders too big for the margin check or the OI cap, inputs of other
types), isolated and new accounts, fills, mark moves, deposits and halts in between; after each step the
clearinghouse arrays, the books' buffers and owner maps, the event columns and the results must be identical."""

from __future__ import annotations

import math
import random
from collections import Counter
from unittest import mock

import numpy as np
import pytest

pytest.importorskip("numba")

import venues.venue  # noqa: E402
from venues import ladder_nb  # noqa: E402
from venues.orderbook import BUY, SELL, OrderBook  # noqa: E402
from venues.orderbook_nb import OrderBookNB  # noqa: E402
from venues.presets import load_preset  # noqa: E402
from venues.venue import Venue  # noqa: E402

PRICES = {"BTC": 60_000.0, "ALT": 1.0, "SYNTH": 1.0}


class SmallBook(OrderBookNB):
    """A book that starts with room for 16 orders: it grows often, some times in the middle of a ladder."""

    def __init__(self, tick_size, lot_size, name="", capacity=16):
        super().__init__(tick_size, lot_size, name, capacity=16)


def build(preset: str, seed: int, overrides=None, book=SmallBook):
    rnd = random.Random(seed)
    with mock.patch.object(venues.venue, "OrderBook", book):
        v = Venue(preset, load_preset(preset, overrides), PRICES)
    makers = []
    for j in range(6):
        a = v.open_account(isolated=(j == 5))
        v.deposit(a, 10 ** rnd.uniform(4, 7.5))
        if v.spot_books and j % 2 == 0:
            v.deposit(a, rnd.uniform(0.1, 5.0), "BTC")
        for m in range(v.M):
            v.set_leverage(a, m, rnd.choice([2.0, 5.0, 10.0, 20.0]))
        makers.append(a)
    takers = [v.open_account() for _ in range(4)]
    for a in takers:
        v.deposit(a, 1e8)
        if v.spot_books:
            v.deposit(a, 100.0, "BTC")
    return v, makers, takers


def state(v: Venue) -> dict:
    ch = v.ch
    n = ch.n
    out = {k: getattr(ch, k)[:n].tobytes() for k in ("bal", "lots", "qty", "entry", "iso_margin", "leverage",
                                                        "open_buy", "open_sell")}
    out.update(oi=(list(ch.oi_long_lots), list(ch.oi_short_lots)), fees=np.array(ch.fees_kept).tobytes(),
               volume=v.volume_usd.tobytes(), spot_locked=v._spot_locked.tobytes(), halted=v.halted)
    for k, b in enumerate(v.books + v.spot_books):
        out[f"book{k}"] = (b._M.tobytes(), dict(b._oslot), b.snapshot(10_000))
    out["events"] = {c: a.tobytes() for c, a in v.events.columns().items()}
    return out


def taker_fill(venues, takers, rnd: random.Random) -> None:
    """A taker's market order into the makers' ladders, the same on every venue of `venues` (built alike)."""
    a = venues[0]
    m = rnd.randrange(a.M)
    t = rnd.choice(takers)
    side = rnd.choice((BUY, SELL))
    n = rnd.randint(1, 50) if m == 0 else rnd.randint(100, 200_000)
    for v in venues:
        v.submit_order(t, m, side, n)


def move_mark(venues, rnd: random.Random) -> None:
    """Every venue's marks moved by one random factor (the margin checks see other numbers)."""
    f = math.exp(rnd.gauss(0.0, 0.02))
    for v in venues:
        v.ch.mark = v.ch.mark * f


def random_ladder(v: Venue, m: int, rnd: random.Random, most: int = 20):
    """A maker's ladder around the book's mid, now and then with something the kernel must hand back."""
    book = v.books[m]
    mid = book.mid_ticks() or v.ch.mark_list[m] / book.tick_size
    step = max(1, int(mid * 2e-4))
    lot = book.lot_size
    usd = 10 ** rnd.uniform(3, 7.3)   # per rung: some ladders fail the margin check
    out = []
    for r in range(rnd.choice((1, 3, 5, 10, 20, most))):
        for side in (BUY, SELL):
            off = (r + 1) * step + rnd.randint(0, step)
            if rnd.random() < 0.06:
                off = -rnd.randint(0, 3 * step)   # crosses the book: refused post-only
            px = (mid - off if side == BUY else mid + off) * book.tick_size + rnd.random() * book.tick_size
            n = int(usd / (px * lot)) if px > 0 else 1
            if rnd.random() < 0.04:
                n = rnd.choice((0, -5))
            out.append((side, float(px), n))
    if rnd.random() < 0.2:
        rnd.shuffle(out)
    x = rnd.random()
    if x < 0.03:
        out.append((0, out[0][1], 3))                       # invalid side: order by order
    elif x < 0.06:
        out.append((BUY, rnd.choice((0.0, -1.0, math.nan)), 3))   # invalid price
    elif x < 0.08:
        out.append((BUY, out[0][1], 3.0))                   # float lots: the Python path
    elif x < 0.09:
        out.append((SELL, out[0][1], 2 ** 60))               # too large for the kernel
    elif x < 0.10:
        out = tuple(out)                                    # not a list
    elif x < 0.12:
        out = []
    return out


@pytest.mark.parametrize("preset,overrides,seed", [
    ("binance_like", None, 1),
    ("hyperliquid_like", None, 2),
    ("binance_like", {"perps": {"BTC": {"oi_cap_usd": 3e6}, "ALT": {"oi_cap_usd": 2e5}}}, 3),
])
def test_replace_ladder_equals_cancel_all_then_post_ladder(preset, overrides, seed):
    a, makers, takers = build(preset, seed, overrides)
    b, _, _ = build(preset, seed, overrides)
    assert state(a) == state(b)
    codes = Counter()
    real = ladder_nb._replace

    def counted(M, owner, oslot, flat, tk, out, res, start, *rest):
        r = real(M, owner, oslot, flat, tk, out, res, start, *rest)
        codes["resume" if start >= 0 else r if r < 0 else "posted"] += 1
        if r >= 0 and r < res[0]:
            codes["grow"] += 1
        if r == res[0] and res[2]:
            codes["refused"] += 1
        return r

    rnd = random.Random(seed * 7919)
    new_accounts = 0
    with mock.patch.object(ladder_nb, "_replace", counted):
        for it in range(700):
            x = rnd.random()
            if x < 0.72:
                m = rnd.randrange(a.M)
                acc = rnd.choice(makers)
                if rnd.random() < 0.02:   # an account the book has not seen
                    acc = a.open_account()
                    assert b.open_account() == acc
                    a.deposit(acc, 1e6)
                    b.deposit(acc, 1e6)
                    new_accounts += 1
                ladder = random_ladder(a, m, rnd, 20 + it // 6)   # longer ladders later: the books grow
                lad2 = list(ladder) if isinstance(ladder, list) else ladder
                a.cancel_all(acc, m)
                ra = a.post_ladder(acc, m, ladder)
                rb = b.replace_ladder(acc, m, lad2)
                assert ra == rb
            elif x < 0.86:   # fills against the makers' ladders
                taker_fill((a, b), takers, rnd)
            elif x < 0.92:   # the mark moves: the margin checks see other numbers
                move_mark((a, b), rnd)
            elif x < 0.95:
                acc = rnd.choice(makers)
                amt = 10 ** rnd.uniform(3, 6)
                for v in (a, b):
                    v.deposit(acc, amt)
            elif x < 0.965 or a.halted:   # a halt, a few operations long
                a.halted = b.halted = not a.halted
            assert state(a) == state(b), it
    # every way through the kernel was taken
    assert codes["posted"] > 100 and codes["refused"] > 0 and codes["grow"] > 0 and codes["resume"] > 0
    assert codes[ladder_nb.EACH] > 0 and codes[ladder_nb.OLD_PATH] > 0 and new_accounts > 0
    assert sum(int(x) for x in a.events.columns()["kind"] == 4) > 0


def test_python_book_uses_the_two_calls():
    """On the Python book replace_ladder is cancel_all + post_ladder (main's books)."""
    a, makers, _ = build("binance_like", 5, book=OrderBook)
    b, _, _ = build("binance_like", 5, book=OrderBook)
    rnd = random.Random(5)
    for _ in range(30):
        acc = rnd.choice(makers)
        m = rnd.randrange(a.M)
        ladder = random_ladder(a, m, rnd)
        a.cancel_all(acc, m)
        assert a.post_ladder(acc, m, ladder) == b.replace_ladder(acc, m, ladder)
    for v in (a, b):
        assert isinstance(v.books[0], OrderBook)
    sa, sb = a.snapshot(), b.snapshot()
    assert sa == sb
    assert [x.snapshot(10_000) for x in a.books] == [x.snapshot(10_000) for x in b.books]


def py_cancel_all_spot(v: Venue, account: int, s: int) -> int:
    """Orders.cancel_all_spot's Python loop for one book (the form the kernel replaces)."""
    total = 0
    for side, price_ticks, lots in v.spot_books[s].cancel_all_of(account):
        v._unlock_spot(account, s, side, price_ticks, lots)
        total += lots
    return total


def random_spot_ladder(v: Venue, s: int, rnd: random.Random, most: int):
    book = v.spot_books[s]
    mid = book.mid_ticks() or (1.0 if s else 60_000.0) / book.tick_size
    step = max(1, int(mid * 3e-4))
    usd = 10 ** rnd.uniform(2, 5.5)   # per rung: some ladders are beyond the free USD or asset
    out = []
    for r in range(rnd.choice((1, 3, 10, most))):
        for side in (BUY, SELL):
            off = (r + 1) * step + rnd.randint(0, step)
            if rnd.random() < 0.05:
                off = -rnd.randint(0, 3 * step)   # crosses: trades, and the rest goes order by order
            px = (mid - off if side == BUY else mid + off) * book.tick_size + rnd.random() * book.tick_size
            n = int(usd / (px * book.lot_size)) if px > 0 else 1
            out.append((side, float(px), n if rnd.random() > 0.04 else rnd.choice((0, -2))))
    x = rnd.random()
    if x < 0.03:
        out.append((2, out[0][1], 3))
    elif x < 0.05:
        out.append((SELL, rnd.choice((0.0, math.nan)), 3))
    elif x < 0.07:
        out.append((BUY, out[0][1], 3.0))
    elif x < 0.09:
        out = []
    return out


@pytest.mark.slow   # 2.8 s; the quick tier keeps the perp requote's differential test
@pytest.mark.parametrize("seed", [11, 12])
def test_spot_ladder_kernel_equals_python(seed):
    """cancel_all_spot(account, s) and post_spot_ladder on OrderBookNB books (the kernels) against their Python
    forms: spot ladders with crossing rungs (fills, then the Python loop), ladders beyond the free balance,
    invalid rungs, fills and halts between, books that grow mid-ladder."""
    a, makers, takers = build("binance_like", seed)
    b, _, _ = build("binance_like", seed)
    for v in (a, b):
        for acc in makers:
            v.deposit(acc, 3.0, "BTC")
            v.deposit(acc, 2e5, "ALT")
            v.deposit(acc, 1e5, "SYNTH")
        for t in takers:
            v.deposit(t, 1e7, "ALT")
            v.deposit(t, 1e7, "SYNTH")
    codes = Counter()
    real = ladder_nb._spot

    def counted(M, owner, oslot, flat, tk, res, start, *rest):
        r = real(M, owner, oslot, flat, tk, res, start, *rest)
        n = flat.shape[0] // 3
        codes["old" if r == ladder_nb.OLD_PATH else "done" if r == n else "cross" if res[1] == 1 else "grow"] += 1
        return r

    rnd = random.Random(seed)
    with mock.patch.object(ladder_nb, "_spot", counted):
        for it in range(600):
            x = rnd.random()
            s = rnd.randrange(len(a.spot_books))
            if x < 0.75:
                acc = rnd.choice(makers)
                assert py_cancel_all_spot(a, acc, s) == b.cancel_all_spot(acc, s)
                assert state(a) == state(b), it
                ladder = random_spot_ladder(a, s, rnd, 10 + it // 5)
                assert a._post_spot_ladder_py(acc, s, ladder) == b.post_spot_ladder(acc, s, list(ladder))
            elif x < 0.93:
                t = rnd.choice(takers)
                side = rnd.choice((BUY, SELL))
                n = rnd.randint(1, 500) if s == 0 else rnd.randint(100, 100_000)
                for v in (a, b):
                    v.submit_spot_order(t, s, side, n)
            elif x < 0.96 or a.halted:
                a.halted = b.halted = not a.halted
            assert state(a) == state(b), it
    assert codes["done"] > 100 and codes["cross"] > 0 and codes["grow"] > 0 and codes["old"] > 0, dict(codes)
