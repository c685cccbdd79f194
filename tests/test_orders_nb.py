"""The compiled perp order paths (venues/batch_nb.py submit_venue_batch and venues/orders_nb.py submit_one, whose
per-order work is orders_nb's) against `Venue.submit_order` in turn: two venues built alike from one seed (every book an
OrderBookNB), random batches over the venue's markets interleaved (market and IOC orders, some limit orders, which
go to the Python path, invalid ones, reduce-only exits sent only into a non-empty side) applied to one in a batch
and to the other order by order; after each batch the clearinghouse arrays and ledgers (bytes), the books'
buffers, the event columns and the per-order results must be identical."""

from __future__ import annotations

import math
import random
from unittest import mock

import numpy as np
import pytest

pytest.importorskip("numba")

import venues.venue  # noqa: E402
from venues import events as ev  # noqa: E402
from venues.orderbook import BUY, SELL  # noqa: E402
from venues.orderbook_nb import OrderBookNB  # noqa: E402
from venues.batch_nb import NOT_SENT, submit_venue_batch  # noqa: E402
from venues.orders_nb import _py_sum, status_code, submit_one  # noqa: E402
from venues.presets import load_preset  # noqa: E402
from venues.venue import Venue  # noqa: E402

PRICES = {"BTC": 60_000.0, "ALT": 1.0, "SYNTH": 1.0}
N_MAKERS, N_TAKERS = 6, 48


def build(preset: str, seed: int, overrides=None) -> tuple[Venue, list[int], list[int]]:
    rnd = random.Random(seed)
    with mock.patch.object(venues.venue, "OrderBook", OrderBookNB):
        v = Venue(preset, load_preset(preset, overrides), PRICES)
    makers = [v.open_account() for _ in range(N_MAKERS)]
    for a in makers:
        v.deposit(a, 5e7)
    takers = [v.open_account(isolated=(rnd.random() < 0.2)) for _ in range(N_TAKERS)]
    for a in takers:
        v.deposit(a, 10 ** rnd.uniform(2, 6))
        if v.spot_books and rnd.random() < 0.3 and not v.ch.isolated[a]:
            v.deposit(a, rnd.uniform(0.01, 2.0), "BTC")   # multi-asset collateral
        for m in range(v.M):
            v.set_leverage(a, m, rnd.choice([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 40.0, 50.0, 100.0, 125.0]))
    ladders(v, makers, rnd)
    # some positions to start from, and some resting orders of takers (self-trade cases), some spot locks
    for a in takers:
        m = rnd.randrange(v.M)
        v.submit_order(a, m, rnd.choice((BUY, SELL)), rnd.randint(1, 300))
        if rnd.random() < 0.4:
            book = v.books[m]
            mid = book.mid_ticks()
            side = rnd.choice((BUY, SELL))
            off = rnd.randint(1, 12) * (-1 if side == BUY else 1)
            v.submit_order(a, m, side, rnd.randint(1, 50), (mid + off) * book.tick_size, kind="limit")
        if v.spot_books and rnd.random() < 0.2:
            v.submit_spot_order(a, "BTC", BUY, rnd.randint(1, 20), 50_000.0, kind="limit")
    return v, makers, takers


def ladders(v: Venue, makers: list[int], rnd: random.Random, markets=None) -> None:
    for m in (range(v.M) if markets is None else markets):
        book = v.books[m]
        mid = int(round(v.ch.mark_list[m] / book.tick_size))
        step = max(1, int(mid * 2e-4))
        for a in makers:
            v.cancel_all(a, m)
            rungs = []
            for r in range(1, 9):
                n = rnd.randint(1, 400) if m == 0 else rnd.randint(100, 20_000)
                rungs.append((BUY, (mid - r * step - rnd.randint(0, step)) * book.tick_size, n))
                rungs.append((SELL, (mid + r * step + rnd.randint(0, step)) * book.tick_size, n))
            v.post_ladder(a, m, rungs)


def state(v: Venue) -> dict:
    ch = v.ch
    n = ch.n
    out = {k: getattr(ch, k)[:n].tobytes() for k in ("bal", "lots", "qty", "entry", "iso_margin", "leverage",
                                                        "open_buy", "open_sell")}
    out.update(oi=(list(ch.oi_long_lots), list(ch.oi_short_lots)), fees=np.array(ch.fees_kept).tobytes(),
               ledgers=repr((ch.deposits, ch.withdrawals, ch.insurance, ch.bad_debt)),
               volume=v.volume_usd.tobytes(), spot_locked=v._spot_locked.tobytes())
    for k, b in enumerate(v.books + v.spot_books):
        out[f"book{k}"] = (b._M.tobytes(), dict(b._oslot), b.snapshot(10_000))
    cols = v.events.columns()
    out["events"] = {c: a.tobytes() for c, a in cols.items()}
    return out


def random_batch(v: Venue, makers, takers, rnd: random.Random):
    m = rnd.randrange(v.M)
    book = v.books[m]
    k = rnd.choice((1, 2, 5, 16, 40, 64))
    mid = book.mid_ticks() or v.ch.mark_list[m] / book.tick_size
    accs, sides, lots, limits, kinds, ro = [], [], [], [], [], []
    for _ in range(k):
        accs.append(rnd.choice(takers) if rnd.random() < 0.9 else rnd.choice(makers))
        sides.append(rnd.choice((BUY, SELL)) if rnd.random() < 0.98 else 0)
        big = rnd.random() < 0.1
        if m == 0:
            n = rnd.randint(1, 40) if not big else rnd.randint(500, 5000)
        else:
            n = rnd.randint(10, 5000) if not big else rnd.randint(50_000, 300_000)
        lots.append(n if rnd.random() < 0.98 else rnd.choice((0, -3)))
        x = rnd.random()
        kind = "market" if x < 0.5 else "ioc" if x < 0.93 else "limit"
        kinds.append(kind)
        if kind == "market":
            limits.append(None)
        elif rnd.random() < 0.03:
            limits.append(None if kind == "ioc" else -1.0)   # invalid
        else:
            off = rnd.randint(-30, 30) * max(1, int(mid * 1e-4))
            limits.append((mid + off) * book.tick_size + rnd.random() * book.tick_size)
        ro.append(rnd.random() < 0.2)
    return m, accs, sides, lots, limits, kinds, ro


@pytest.mark.parametrize("preset,overrides,seed", [
    ("binance_like", {"perps": {"BTC": {"oi_cap_usd": 3e6}, "ALT": {"oi_cap_usd": 2e5}}}, 4),
    ("hyperliquid_like", None, 5),
])
def test_submit_one_equals_submit_order(preset, overrides, seed):
    """submit_one (the arbitrageurs' and value traders' taking orders) against submit_order, order by order:
    the same filled lots, state, books and events (limit orders and invalid ones take submit_order itself)."""
    a, makers, takers = build(preset, seed, overrides)
    b, _, _ = build(preset, seed, overrides)
    rnd = random.Random(seed * 1000 + 11)
    n_orders = filled = 0
    for t in range(120):
        for v in (a, b):
            v.set_step(t)
        if t % 7 == 0:
            marks = [mk * math.exp(rnd.gauss(0, 0.003)) for mk in a.ch.mark_list]
            r_state = rnd.getstate()
            for v in (a, b):
                v.ch.mark = np.array(marks)
                rnd.setstate(r_state)
                ladders(v, makers, rnd)
        m, accs, sides, lots, limits, kinds, ro = random_batch(a, makers, takers, rnd)
        for acc, s, n, p, kd, r in zip(accs, sides, lots, limits, kinds, ro):
            got = submit_one(a, acc, m, s, n, p, kd, r)
            want = b.submit_order(acc, m, s, n, p, kind=kd, reduce_only=r).filled_lots
            assert type(got) is int and got == want, (t, got, want)
            n_orders += 1
            filled += got > 0
        assert state(a) == state(b), t
    assert n_orders > 1000 and filled > 100


def test_python_sum_of_floats_is_reproduced():
    rnd = random.Random(5)
    for _ in range(2000):
        xs = [rnd.choice((1.0, -1.0)) * 10 ** rnd.uniform(-8, 16) * rnd.random() for _ in range(rnd.randint(0, 9))]
        if rnd.random() < 0.2:
            xs += [0.0, -0.0]
        got = _py_sum(np.array(xs, dtype=np.float64)) if xs else 0.0
        assert np.float64(got).tobytes() == np.float64(sum(xs)).tobytes(), xs


def sequential_need(v: Venue, accs, ms, sides, lots, limits, kinds, ro, need):
    """What submit_venue_batch must equal: each order sent in turn, those with need not sent into an empty side."""
    out = []
    for a, m, s, n, p, kd, r, nd in zip(accs, ms, sides, lots, limits, kinds, ro, need):
        book = v.books[m]
        if nd and (book.best_ask() if s == BUY else book.best_bid()) is None:
            out.append((NOT_SENT, 0, math.nan, int(v.ch.lots[a, m])))
            continue
        res = v.submit_order(a, m, s, n, None if math.isnan(p) else p, kind=("market", "ioc", "limit")[kd],
                             reduce_only=r)
        out.append((status_code(res), res.filled_lots, res.avg_price, int(v.ch.lots[a, m])))
    return out


@pytest.mark.parametrize("preset,overrides,seed", [
    ("binance_like", None, 11),
    ("hyperliquid_like", None, 12),
    ("binance_like", {"perps": {"BTC": {"oi_cap_usd": 3e6}, "ALT": {"oi_cap_usd": 2e5}}}, 13),
])
def test_submit_venue_batch_equals_submit_order_in_turn(preset, overrides, seed):
    """Batches over the venue's markets interleaved (market and IOC orders, reduce-only exits sent only into a
    non-empty side, invalid ones) against submit_order in turn: results, positions after each order, books,
    clearinghouse and events bit for bit."""
    a, makers, takers = build(preset, seed, overrides)
    b, _, _ = build(preset, seed, overrides)
    rnd = random.Random(seed * 1000 + 9)
    seen = {"not_sent": 0, "fill": 0, "partial": 0, "cancelled": 0, "resting": 0, "self_cancel": 0}
    seen_rej = set()
    n_orders = 0
    release = b._release_self_trade_cancels

    def counted(account, mk, fills, spot=-1):   # self-trade cancels on the sequential copy, counted
        seen["self_cancel"] += len(fills.self_cancelled)
        release(account, mk, fills, spot)

    b._release_self_trade_cancels = counted
    for t in range(200):
        for v in (a, b):
            v.set_step(t)
        if t % 7 == 0:
            marks = [mk * math.exp(rnd.gauss(0, 0.003)) for mk in a.ch.mark_list]
            wipe = [m for m in range(a.M) if rnd.random() < 0.2]
            r_state = rnd.getstate()
            for v in (a, b):
                v.ch.mark = np.array(marks)
                rnd.setstate(r_state)
                ladders(v, makers, rnd)
                for m in wipe:   # an empty book for a while: exits into it are not sent
                    for mk in makers:
                        v.cancel_all(mk, m)
        k = rnd.choice((1, 3, 8, 20, 50))
        accs, ms, sides, lots, limits, kinds, ro, need = [], [], [], [], [], [], [], []
        for _ in range(k):
            m = rnd.randrange(a.M)
            book = a.books[m]
            acc = rnd.choice(takers) if rnd.random() < 0.9 else rnd.choice(makers)
            pos = int(a.ch.lots[acc, m])
            is_exit = pos != 0 and rnd.random() < 0.4
            if is_exit:   # a directional exit: reduce-only, the whole position, only into a non-empty side
                side = SELL if pos > 0 else BUY
                n = abs(pos) if rnd.random() < 0.8 else rnd.randint(1, 2 * abs(pos))
            else:
                side = rnd.choice((BUY, SELL)) if rnd.random() < 0.98 else 0
                n = (rnd.randint(1, 40) if m == 0 else rnd.randint(10, 5000)) if rnd.random() < 0.9 else \
                    (rnd.randint(500, 5000) if m == 0 else rnd.randint(50_000, 300_000))
                if rnd.random() < 0.02:
                    n = rnd.choice((0, -3))
            kd = rnd.randrange(2) if rnd.random() < 0.95 else 2   # now and then a limit order: the Python path
            mark = a.ch.mark_list[m]
            p = math.nan if kd == 0 else mark * (1 + side * rnd.uniform(-0.002, 0.01)) if side else mark
            if kd == 1 and rnd.random() < 0.02:
                p = -1.0
            accs.append(acc), ms.append(m), sides.append(side), lots.append(n), limits.append(p), kinds.append(kd)
            ro.append(is_exit or rnd.random() < 0.1), need.append(is_exit or rnd.random() < 0.05)
        got_f, got_avg, got_s, got_pos = submit_venue_batch(
            a, np.array(accs, np.int64), np.array(ms, np.int64), np.array(sides, np.int64), np.array(lots, np.int64),
            np.array(limits, np.float64), np.array(kinds, np.int64), np.array(ro, bool), np.array(need, bool))
        want = sequential_need(b, accs, ms, sides, lots, limits, kinds, ro, need)
        got = list(zip(got_s.tolist(), got_f.tolist(), got_avg.tolist(), got_pos.tolist()))
        for g, w in zip(got, want):
            assert (g[0], g[1], g[3]) == (w[0], w[1], w[3]) and \
                np.float64(g[2]).tobytes() == np.float64(w[2]).tobytes(), (t, g, w)
        assert state(a) == state(b), t
        n_orders += k
        for s, *_ in got:
            if s >= 10:
                seen_rej.add(ev.REJECT_REASONS[s - 10])
            else:
                seen[{0: "fill", 1: "partial", 2: "cancelled", 3: "resting", NOT_SENT: "not_sent"}[s]] += 1
    print(preset, n_orders, seen, sorted(seen_rej))
    assert n_orders > 2000 and all(x > 5 for x in seen.values()), seen
    assert {"initial_margin", "reduce_only", "invalid", "no_liquidity"} <= seen_rej, seen_rej
    if preset == "binance_like":
        assert "tier_max_leverage" in seen_rej
    if overrides:
        assert "oi_cap" in seen_rej
    a.check_invariants()


def test_submit_venue_batch_on_a_halted_venue_goes_order_by_order():
    a, makers, takers = build("binance_like", 21)
    b, _, _ = build("binance_like", 21)
    for v in (a, b):
        v.halted = True
    accs, ms, sides, lots = takers[:6], [0, 1, 0, 1, 1, 0], [BUY, SELL] * 3, [1, 20, 2, 30, 40, 3]
    limits, kinds, ro, need = [math.nan] * 6, [0] * 6, [False] * 6, [False] * 6
    got = submit_venue_batch(a, np.array(accs, np.int64), np.array(ms, np.int64), np.array(sides, np.int64),
                             np.array(lots, np.int64), np.array(limits), np.array(kinds, np.int64), np.array(ro),
                             np.array(need))
    want = sequential_need(b, accs, ms, sides, lots, limits, kinds, ro, need)
    assert got[2].tolist() == [w[0] for w in want] == [10 + ev.REASON_CODE["halted"]] * 6
    assert state(a) == state(b)
