"""Order book: book walks against hand-computed averages, priority, cancels, self-trade prevention."""

from __future__ import annotations

import pytest

from venues.orderbook import BUY, SELL, OrderBook


def book_with_asks() -> OrderBook:
    b = OrderBook(tick_size=0.5, lot_size=0.01)
    b.post(SELL, 200, 3, owner=1)   # 100.0
    b.post(SELL, 202, 5, owner=2)   # 101.0
    b.post(SELL, 206, 4, owner=3)   # 103.0
    b.post(BUY, 190, 7, owner=4)    # 95.0
    return b


def test_market_order_walks_three_levels_at_the_volume_weighted_price():
    b = book_with_asks()
    f = b.take(BUY, 10)
    assert f.lots == [3, 5, 2]
    assert f.maker_owner == [1, 2, 3]
    # (3 x 200 + 5 x 202 + 2 x 206) / 10 = 202.2 ticks = 101.1 USD
    assert f.vwap_ticks() == pytest.approx(202.2)
    assert b.to_price(f.vwap_ticks()) == pytest.approx(101.1)
    assert f.unfilled_lots == 0
    assert b.best_ask() == 206 and b.order(3)[2] == 2  # the partly hit order keeps its rest
    assert b.last_trade_ticks == 206


def test_order_larger_than_the_book_reports_the_unfilled_rest():
    b = book_with_asks()
    f = b.take(BUY, 50)
    assert f.filled_lots == 12 and f.unfilled_lots == 38
    assert b.best_ask() is None
    assert b.take(BUY, 5).filled_lots == 0  # an empty side fills nothing, invents nothing


def test_ioc_limit_stops_at_the_limit():
    b = book_with_asks()
    f = b.take(BUY, 10, limit_ticks=202)
    assert f.filled_lots == 8 and f.price_ticks == [200, 202]
    assert b.best_ask() == 206


def test_price_time_priority_and_cancel():
    b = OrderBook(1.0, 1.0)
    a1, _ = b.post(BUY, 100, 2, owner=1)
    a2, _ = b.post(BUY, 100, 2, owner=2)
    a3, _ = b.post(BUY, 101, 1, owner=3)
    assert b.best_bid() == 101
    assert b.cancel(a1) == 2 and b.cancel(a1) == 0
    f = b.take(SELL, 3)
    assert f.maker_order == [a3, a2] and f.lots == [1, 2]
    assert b.best_bid() is None and b.n_orders() == 0


def test_limit_order_crossing_trades_then_rests_the_rest():
    b = book_with_asks()
    oid, f = b.post(BUY, 202, 10, owner=9)
    assert f.filled_lots == 8 and oid is not None
    assert b.order(oid) == (BUY, 202, 2, 9)
    assert b.best_bid() == 202 and b.best_ask() == 206


def test_post_only_refuses_to_cross():
    b = book_with_asks()
    oid, f = b.post(BUY, 200, 1, owner=9, post_only=True)
    assert oid is None and f.filled_lots == 0 and b.best_ask() == 200


def test_self_trade_prevention_cancels_the_resting_order():
    b = book_with_asks()
    f = b.take(BUY, 4, owner=1)  # owner 1 rests 3 lots at the touch
    assert f.maker_owner == [2] and f.lots == [4]
    assert f.self_cancelled == [(1, SELL, 200, 3)]
    assert b.orders_of(1) == []


def test_depth_snapshot_and_cancel_owner():
    b = book_with_asks()
    # mid = (190 + 200) / 2 = 195 ticks; 300 bps band = 5.85 ticks: asks at 200 (3 lots), bids at 190 (7)
    assert b.depth_usd(300) == pytest.approx((200 * 3 + 190 * 7) * 0.5 * 0.01)
    assert b.depth_usd(300, side=SELL) == pytest.approx(200 * 3 * 0.5 * 0.01)
    snap = b.snapshot(2)
    assert snap["asks"] == [(200, 3), (202, 5)] and snap["bids"] == [(190, 7)]
    assert b.cancel_owner(2) == 5 and b.best_ask() == 200
    filled, vwap = b.simulate_take(BUY, 5)
    assert filled == 5 and vwap == pytest.approx((3 * 200 + 2 * 206) / 5)
    assert b.best_ask() == 200  # simulation left the book alone


def test_depth_pair_is_the_two_depths_of_one_book():
    import numpy as np
    rng = np.random.default_rng(3)
    b = OrderBook(tick_size=0.1, lot_size=0.001)
    assert b.depth_usd_pair(100, 500) == (0.0, 0.0)   # no mid: no depth
    for _ in range(400):
        side = BUY if rng.random() < 0.5 else SELL
        off = int(rng.exponential(300)) + 1
        b.post(side, 100_000 - off if side == BUY else 100_000 + off, int(rng.integers(1, 30)), owner=int(rng.integers(0, 9)),
               post_only=True)
        for narrow, wide in ((100, 500), (5, 5), (1, 3000)):
            assert b.depth_usd_pair(narrow, wide) == (b.depth_usd(narrow), b.depth_usd(wide))


def test_cancel_heavy_churn_keeps_memory_bounded():
    b = OrderBook(1.0, 1.0)
    for k in range(20_000):
        oid, _ = b.post(BUY, 1000 - (k % 50), 1, owner=k % 7)
        b.cancel(oid)
    assert b.n_orders() == 0
    assert sum(len(q) for q in b._queues[0].values()) == 0
    assert len(b._heaps[0]) <= 50


def test_tick_rounding_never_worsens_a_limit():
    b = OrderBook(0.5, 1.0)
    assert b.to_ticks(100.3, BUY) == 200 and b.to_ticks(100.3, SELL) == 201
    assert b.to_ticks(100.0, BUY) == 200 and b.to_ticks(100.0, SELL) == 200


def test_levels_emptied_far_from_the_touch_do_not_grow_the_heaps():
    b = OrderBook(1.0, 1.0)
    b.post(BUY, 10, 1, owner=1)
    for k in range(30_000):   # a maker stepping its quotes down a long way, each level emptied behind it
        oid, _ = b.post(SELL, 100_000 - k, 1, owner=2)
        b.cancel(oid)
    assert len(b._heaps[1]) <= 2 * len(b._queues[1]) + 4097
    assert b.best_ask() is None and b.best_bid() == 10
    b.post(SELL, 50, 2, owner=3)
    assert b.best_ask() == 50


def _book_state(b: OrderBook) -> tuple:
    return (dict((k, tuple(v)) for k, v in b._orders.items()), b.snapshot(10_000), b._next_id,
            {o: sorted(ids) for o, ids in b._by_owner.items()}, b.best_bid(), b.best_ask())


def test_bulk_cancel_and_passive_post_equal_one_call_each():
    """cancel_all_of and post_passive (a maker's requote) leave the book, ids and refusals as cancel on each of
    the owner's orders and post(post_only=True) on each new one would, heap rebuilds and compaction included."""
    import random
    rnd = random.Random(7)
    one, bulk = OrderBook(0.1, 0.001), OrderBook(0.1, 0.001)
    for _ in range(40):
        seed = rnd.random()
        for book in (one, bulk):   # other owners' orders, the same in both books
            st = random.Random(seed)
            for _ in range(st.randint(0, 30)):
                side = st.choice((BUY, SELL))
                px = st.randint(900, 1000) if side == BUY else st.randint(1001, 1100)
                book.post(side, px, st.randint(1, 5), st.randint(10, 12))
        ladder = [(rnd.choice((BUY, SELL)), rnd.randint(850, 1150) + rnd.randint(0, 6000), rnd.randint(1, 9))
                  for _ in range(rnd.randint(1, 200))]
        removed = [one.order(o) for o in one.orders_of(1)]
        for oid in one.orders_of(1):
            one.cancel(oid)
        ids_one = [one.post(side, px, n, 1, post_only=True)[0] for side, px, n in ladder]
        assert bulk.cancel_all_of(1) == [(s, p, n) for s, p, n, _ in removed]
        assert bulk.post_passive(1, ladder) == ids_one
        assert _book_state(one) == _book_state(bulk)
