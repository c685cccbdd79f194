"""A maker's perp requote in one kernel call (agents/maker_nb.py: the quoting rule computed in the kernel, then the
ladder's replacement) against the Python form it stands for (`market_maker.ladder_orders` then
`Venue.replace_ladder`): two venues built alike (tests/test_ladder_nb.py's small, growing numba books), random
quoting inputs (fair values near and far from the book, NaN and non-positive ones, inventories past either
limit, stress past the withdrawal threshold, ramp sizes, ladders too large for the margin check, crossing rungs),
fills, mark moves and halts in between; after each step the clearinghouse arrays, books, events and results must be
identical, bit for bit."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

pytest.importorskip("numba")

from agents import maker_nb  # noqa: E402
from agents.market_maker import QuoteParams, ladder_orders, spot_orders  # noqa: E402
from tests.test_ladder_nb import build, move_mark, state, taker_fill  # noqa: E402
from venues.orderbook import BUY, SELL  # noqa: E402


def random_inputs(v, m: int, rnd: random.Random):
    book = v.books[m]
    mid = (book.mid_ticks() or v.ch.mark_list[m] / book.tick_size) * book.tick_size
    x = rnd.random()
    fair = mid * math.exp(rnd.gauss(0.0, 0.002 if x < 0.8 else 0.05))   # now and then far off: rungs cross
    if x > 0.97:
        fair = rnd.choice((math.nan, 0.0, -mid, math.inf))
    calm = rnd.uniform(1.0, 20.0)
    p = QuoteParams(depth_usd=10 ** rnd.uniform(3, 7.5) * (1 if rnd.random() > 0.03 else 0),
                    levels=rnd.choice((2, 3, 5, 10, 16)), half_spread_bps=rnd.uniform(0.0, 10.0),
                    level_step_bps=rnd.uniform(0.5, 50.0), calm_vol_bps=calm,
                    inventory_limit_usd=10 ** rnd.uniform(4, 7), skew_bps=rnd.uniform(0.0, 60.0),
                    withdraw_threshold=rnd.uniform(1.0, 8.0))
    vol = calm * rnd.choice((0.5, 1.0, rnd.uniform(1.0, 10.0)))
    inventory = rnd.gauss(0.0, 1.0) * p.inventory_limit_usd * rnd.choice((0.1, 1.0, 3.0))
    size = rnd.choice((1.0, rnd.uniform(0.25, 1.0)))
    return fair, inventory, vol, p, size


@pytest.mark.parametrize("preset,overrides,seed", [
    ("binance_like", None, 11),
    ("hyperliquid_like", None, 12),
    ("binance_like", {"perps": {"BTC": {"oi_cap_usd": 3e6}, "ALT": {"oi_cap_usd": 2e5}}}, 13),
])
def test_kernel_requote_equals_python_ladder_then_replace(preset, overrides, seed):
    a, makers, takers = build(preset, seed, overrides)
    b, _, _ = build(preset, seed, overrides)
    assert state(a) == state(b)
    ways = Counter()
    rnd = random.Random(seed * 104_729)
    for it in range(600):
        x = rnd.random()
        if x < 0.75:
            m = rnd.randrange(a.M)
            acc = rnd.choice(makers)
            if rnd.random() < 0.02:   # an account the book has not seen: the Python path
                acc = a.open_account()
                assert b.open_account() == acc
                a.deposit(acc, 1e6)
                b.deposit(acc, 1e6)
            fair, inv, vol, p, size = random_inputs(a, m, rnd)
            book = a.books[m]
            orders = ladder_orders(fair, inv, vol, p, size, book.lot_size, book.tick_size)
            ra = a.replace_ladder(acc, m, orders)
            n_events = b.events.n
            rb = maker_nb.requote(b, acc, m, fair, inv, vol, p, size)
            if rb is None:
                ways["python"] += 1
                assert b.events.n == n_events   # nothing done
                rb = b.replace_ladder(acc, m, ladder_orders(fair, inv, vol, p, size, book.lot_size, book.tick_size))
            else:
                ways["kernel"] += 1
                ways["empty" if not orders else "quoted"] += 1
                ways["refused"] += sum(1 for sd, _, n in orders if n > 0) > ra and bool(orders)
            assert ra == rb, it
        elif x < 0.88:   # fills against the makers' ladders
            taker_fill((a, b), takers, rnd)
        elif x < 0.94:   # the mark moves
            move_mark((a, b), rnd)
        elif x < 0.97 or a.halted:   # a halt, a few operations long
            a.halted = b.halted = not a.halted
        else:
            acc = rnd.choice(makers)
            amount = 10 ** rnd.uniform(3, 6)
            for v in (a, b):
                v.deposit(acc, amount)
        assert state(a) == state(b), it
    assert ways["kernel"] > 200 and ways["python"] > 5 and ways["empty"] > 5 and ways["refused"] > 5, ways


@pytest.mark.parametrize("preset,seed", [("binance_like", 31), ("hyperliquid_like", 32)])
def test_desk_of_many_jobs_equals_the_python_requotes_in_turn(preset, seed):
    """A venue's desk (agents/maker_nb.py: the makers' ladders of a minute queued, then one kernel call) against
    `ladder_orders` then `replace_ladder` for each job in turn: batches of 1 to 12 jobs over several makers and both
    markets (an account twice on one market, accounts the kernel hands back: isolated, new), as
    `MarketMaker.requote` drives it (a job the desk refuses: flush, then the Python path); fills, mark moves and
    deposits between batches; states (books, accounts, events) identical after each batch."""
    a, makers, takers = build(preset, seed)
    b, _, _ = build(preset, seed)
    rnd = random.Random(seed * 15_485_863)
    desk = maker_nb.desk(b)
    ways = Counter()
    for it in range(150):
        for _ in range(rnd.randint(1, 12)):
            m = rnd.randrange(a.M)
            acc = rnd.choice(makers)
            if rnd.random() < 0.03:   # an account the book has not seen: handed back (its deposit is an event:
                desk.flush()          # the queue goes first, as the makers flush before anything else they do)
                acc = a.open_account()
                assert b.open_account() == acc
                a.deposit(acc, 1e6)
                b.deposit(acc, 1e6)
            fair, inv, vol, p, size = random_inputs(a, m, rnd)
            book = a.books[m]
            a.replace_ladder(acc, m, ladder_orders(fair, inv, vol, p, size, book.lot_size, book.tick_size))
            if desk.add(acc, m, fair, inv, vol, p, size):
                ways["queued"] += 1
                continue
            ways["python"] += 1
            desk.flush()
            b.replace_ladder(acc, m, ladder_orders(fair, inv, vol, p, size, book.lot_size, book.tick_size))
        ways["jobs in a flush"] = max(ways["jobs in a flush"], len(desk.jobs))
        desk.flush()
        assert not desk.jobs
        assert state(a) == state(b), it
        x = rnd.random()
        if x < 0.5:   # fills against the makers' ladders
            taker_fill((a, b), takers, rnd)
        elif x < 0.75:   # the mark moves
            move_mark((a, b), rnd)
        else:
            acc = rnd.choice(makers)
            amount = 10 ** rnd.uniform(3, 6)
            for v in (a, b):
                v.deposit(acc, amount)
        assert state(a) == state(b), it
    assert ways["queued"] > 500 and ways["python"] > 20 and ways["jobs in a flush"] >= 8, ways


@pytest.mark.parametrize("seed", [21, 22])
def test_kernel_spot_rows_equal_python_spot_orders(seed):
    """The spot form (agents/maker_nb.py requote_spot) against `spot_orders` then `Venue.post_spot_ladder`, on a
    venue with spot books: random fair values, inventories, stress and holdings (none, a little, plenty), takers
    trading between requotes; states and results identical after each step."""
    a, makers, takers = build("binance_like", seed)
    b, _, _ = build("binance_like", seed)
    assert a.spot_books
    ways = Counter()
    rnd = random.Random(seed * 7_919)
    for it in range(400):
        s = rnd.randrange(len(a.spot_books))
        book = a.spot_books[s]
        base = a.spot_base[s]
        if rnd.random() < 0.75:
            acc = rnd.choice(makers)
            mid = book.mid() or book.last_trade() or (60_000.0 if a.assets[base] == "BTC" else 1.0)
            fair = mid * math.exp(rnd.gauss(0.0, 0.003 if rnd.random() < 0.85 else 0.05))
            if rnd.random() < 0.03:
                fair = rnd.choice((math.nan, 0.0))
            p = QuoteParams(depth_usd=10 ** rnd.uniform(3, 6.5), levels=rnd.choice((3, 10)),
                            calm_vol_bps=5.0, withdraw_threshold=rnd.uniform(2.0, 6.0),
                            inventory_limit_usd=10 ** rnd.uniform(4, 6.5))
            held = a.balance(acc, a.assets[base])
            held = rnd.choice((held, held * rnd.random(), 0.0))
            inv = (held - p.depth_usd / fair) * fair if fair > 0 else 0.0
            vol = rnd.choice((0.0, rnd.uniform(0.0, 40.0)))
            for v in (a, b):
                v.cancel_all_spot(acc, s)
            orders = spot_orders(fair, inv, vol, p, held, book.lot_size, book.tick_size)
            ra = -1 if orders is None else a.post_spot_ladder(acc, s, orders)
            rb = maker_nb.requote_spot(b, acc, s, fair, inv, vol, p, held)
            ways["empty" if ra == -1 else "posted"] += 1
            ways["kernel"] += rb is not None
            if rb is None:
                rb = -1 if orders is None else b.post_spot_ladder(acc, s, orders)
            assert ra == rb, it
        else:   # a taker trades into the makers' spot ladders
            t = rnd.choice(takers)
            side = rnd.choice((BUY, SELL))
            lots = rnd.randint(1, 400)
            for v in (a, b):
                v.submit_spot_order(t, s, side, lots, kind="market")
        assert state(a) == state(b), it
    assert ways["kernel"] > 200 and ways["empty"] > 5 and ways["posted"] > 100, ways


def test_a_desk_does_not_keep_its_venue_alive():
    """The desks' table is keyed weakly by venue and a desk holds its venue weakly: a model that is gone leaves
    no venue behind (a process that runs many models, e.g. a search's worker, does not grow)."""
    import gc
    import weakref

    from run import build_model
    m = build_model(["population=small", "steps=5", "progress=false", "dashboard=false"])
    m.run_for(5)
    venues = [weakref.ref(v) for v in m.venues.values()]
    assert all(maker_nb._DESKS.get(r()) is not None for r in venues)   # the makers used their desks
    del m
    gc.collect()
    assert [r() for r in venues] == [None] * len(venues)
