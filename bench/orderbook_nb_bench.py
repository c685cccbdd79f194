"""The pure-Python order book against the numba one (venues/orderbook_nb.py) on bench/orderbook_bench.py's stream
(240,000 events: 200,000 limit orders, 20,000 market orders, 20,000 cancels), interleaved rounds, medians and
their ratio from one run. Both books get the same calls from the same driver loop and must end identical.

Also, for the batched question:
- `nb-loop`: the same driver loop compiled (bench-only kernel calling the book's own kernels): every event
  on the numba book with no Python call at all, the floor of any batching;
- `take` vs `take_many`: 20,000 market orders against a deep book, one call each against chunks of k per call,
  and `take_many_arrays` (the fills as arrays, no Fills objects) in chunks of k, k = 20,000 being one call;
- requotes: a maker's cancel_all_of + post_passive of 40 rungs (the batched calls OrderBook already has).

Run: nice -n 19 .venv/bin/python bench/orderbook_nb_bench.py
"""

from __future__ import annotations

import gc
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from orderbook_bench import make_stream, speed_reference_ns  # noqa: E402
from venues.orderbook import BUY, SELL, OrderBook  # noqa: E402
from venues import orderbook_nb as nbm  # noqa: E402
from venues.orderbook_nb import OrderBookNB  # noqa: E402

ROUNDS = 5


def run_once(stream, cls):
    kind, side, price, lots, mkt_lots, pick, owner = stream
    book = cls(tick_size=0.1, lot_size=0.001, name="BENCH")
    resting: list[int] = []
    post, take, cancel = book.post, book.take, book.cancel
    t0 = time.perf_counter()
    for k, sd, px, lt, ml, pk, ow in zip(kind, side, price, lots, mkt_lots, pick, owner):
        if k == 0:
            oid = post(sd, px, lt, ow)[0]
            if oid is not None:
                resting.append(oid)
        elif k == 1:
            take(sd, ml)
        elif resting:
            j = int(pk * len(resting))
            resting[j], resting[-1] = resting[-1], resting[j]
            cancel(resting.pop())
    dt = time.perf_counter() - t0
    return dt, book, len(kind)


@njit(cache=True)
def _drive(M, kind, side, price, lots, mkt_lots, pick, owner, resting, at):
    """run_once's loop, compiled, from event at[0] with at[1] ids in `resting`: owners are their own rows
    (0..999); stops at an event that needs a larger book (at[0] < len) or at the end."""
    nr = at[1]
    for i in range(at[0], kind.shape[0]):
        k = kind[i]
        if k == 0:
            oid, nf, ns, _, _, _, _ = nbm.k_post(M, side[i], price[i], lots[i], owner[i], owner[i], False)
            if oid == nbm.NEED_GROW:
                at[0] = i
                at[1] = nr
                return
            if oid > 0:
                resting[nr] = oid
                nr += 1
        elif k == 1:
            nbm.k_take(M, side[i], mkt_lots[i], False, 0, -1)
        elif nr > 0:
            j = int(pick[i] * nr)
            resting[j], resting[nr - 1] = resting[nr - 1], resting[j]
            nr -= 1
            nbm.k_cancel(M, resting[nr])
    at[0] = kind.shape[0]
    at[1] = nr


def run_compiled(arrays):
    book = OrderBookNB(0.1, 0.001, "BENCH")
    for o in range(1000):
        book._owner_slot(o)
    resting = np.zeros(len(arrays[0]), np.int64)
    at = np.zeros(2, np.int64)
    t0 = time.perf_counter()
    while True:   # the book grows as the Python driver's would (same sizes, the same few times)
        _drive(book._M, *arrays, resting, at)
        if at[0] == len(arrays[0]):
            break
        book._grow()
    dt = time.perf_counter() - t0
    return dt, book, len(arrays[0])


def deep_book(cls, n=60_000, seed=3):
    rng = np.random.default_rng(seed)
    book = cls(0.1, 0.001, "DEEP")
    for s, p, q, o in zip(rng.choice([BUY, SELL], n).tolist(), rng.integers(1, 2000, n).tolist(),
                          rng.integers(1, 20, n).tolist(), rng.integers(0, 1000, n).tolist()):
        book.post(s, 100_000 - p if s == BUY else 100_000 + p, q, o)
    return book


def takes(seed=4, n=20_000):
    rng = np.random.default_rng(seed)
    return rng.choice([BUY, SELL], n).tolist(), rng.integers(1, 20, n).tolist()


def time_takes(cls, sides, lots, k):
    book = deep_book(cls)
    check = 0
    t0 = time.perf_counter()
    if k == 0:
        take = book.take
        for s, q in zip(sides, lots):
            f = take(s, q)
            check += f.filled_lots + len(f.maker_order)   # the caller reads its fills
    elif k > 0:
        for i in range(0, len(sides), k):
            for f in book.take_many(sides[i:i + k], lots[i:i + k]):
                check += f.filled_lots + len(f.maker_order)
    else:   # fills as arrays, no Fills objects
        for i in range(0, len(sides), -k):
            counts, fills, _ = book.take_many_arrays(sides[i:i - k], lots[i:i - k])
            check += int(fills[:, 3].sum()) + len(fills)
    dt = time.perf_counter() - t0
    return dt / len(sides) * 1e6, check, book


def ladders(seed=5, n=2000, rungs=20):
    rng = np.random.default_rng(seed)
    mids = (100_000 + np.cumsum(rng.integers(-3, 4, n))).tolist()
    gaps = rng.integers(1, 4, (n, rungs)).cumsum(axis=1).tolist()
    sizes = rng.integers(1, 30, (n, 2 * rungs)).tolist()
    return [[(BUY, m - 10 - g, q) for g, q in zip(gs, qs[:rungs])] + [(SELL, m + 10 + g, q) for g, q in zip(gs, qs[rungs:])]
            for m, gs, qs in zip(mids, gaps, sizes)]


def time_requotes(cls, lad):
    """A maker's minute: cancel_all_of its ladder, post_passive the next (40 rungs), on a 60,000-order book."""
    book = deep_book(cls)
    t0 = time.perf_counter()
    for rungs in lad:
        book.cancel_all_of(1)
        book.post_passive(1, rungs)
    dt = time.perf_counter() - t0
    return dt / len(lad) * 1e6, book


def main() -> None:
    ref_ns = speed_reference_ns()
    stream = make_stream()
    arrays = tuple(np.asarray(x) for x in stream)
    arrays = (arrays[0].astype(np.int64), *arrays[1:])
    run_once(stream[:1] + tuple(x[:2000] for x in stream[1:]), OrderBookNB)   # warm
    run_compiled(tuple(a[:2000] for a in arrays))
    gc.freeze()
    res = {"py": [], "nb": [], "nb-loop": []}
    ends = {}
    for _ in range(ROUNDS):
        for name, fn in (("py", lambda: run_once(stream, OrderBook)), ("nb", lambda: run_once(stream, OrderBookNB)),
                         ("nb-loop", lambda: run_compiled(arrays))):
            dt, book, n = fn()
            res[name].append(dt / n * 1e6)
            ends[name] = (book.snapshot(100_000), book.n_orders(), book.traded_lots, book.last_trade_ticks)
            del book
            gc.collect()
    assert ends["py"] == ends["nb"] == ends["nb-loop"], "the books disagree"
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"orderbook py vs numba | python {platform.python_version()} | {platform.machine()} | "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"events per run: {n:,}; final books identical (resting {ends['py'][1]:,}, traded lots {ends['py'][2]:,})")
    for k, v in res.items():
        print(f"  {k:8s} us per event, {ROUNDS} interleaved runs: {', '.join(f'{t:.2f}' for t in v)}  "
              f"median {med[k]:.3f}")
    print(f"  ratio py/nb {med['py'] / med['nb']:.2f}, py/nb-loop {med['py'] / med['nb-loop']:.1f}")

    sides, lots = takes()
    cases = [("py take", OrderBook, 0), ("nb take", OrderBookNB, 0)]
    if hasattr(OrderBookNB, "take_many"):
        cases += [(f"nb take_many k={k}", OrderBookNB, k) for k in (16, 256)]
        cases += [(f"nb arrays k={k}", OrderBookNB, -k) for k in (16, 256, 20_000)]
    tres = {name: [] for name, _, _ in cases}
    outs = {}
    for _ in range(ROUNDS):
        for name, cls, k in cases:
            us, check, book = time_takes(cls, sides, lots, k)
            tres[name].append(us)
            outs[name] = (check, book.snapshot(100_000))
    first = next(iter(outs.values()))
    assert all(v == first for v in outs.values()), "takes disagree"
    print("20,000 market orders (1-19 lots) on a 60,000-order book, us per order (median of "
          f"{ROUNDS} interleaved):")
    for name, v in tres.items():
        print(f"  {name:18s} {statistics.median(v):.3f}   ({', '.join(f'{t:.2f}' for t in v)})")
    lad = ladders()
    rres = {"py": [], "nb": []}
    snaps = {}
    for _ in range(ROUNDS):
        for name, cls in (("py", OrderBook), ("nb", OrderBookNB)):
            us, book = time_requotes(cls, lad)
            rres[name].append(us)
            snaps[name] = book.snapshot(100_000)
    assert snaps["py"] == snaps["nb"]
    print("2,000 requotes (cancel_all_of + post_passive of 40 rungs) on a 60,000-order book, us per requote:")
    for name, v in rres.items():
        print(f"  {name:18s} {statistics.median(v):.2f}   ({', '.join(f'{t:.1f}' for t in v)})")
    print(f"  ratio py/nb {statistics.median(rres['py']) / statistics.median(rres['nb']):.2f}")
    print(f"machine speed reference: sum(range(10)) takes {ref_ns:.0f} ns (this VM: about 210 fast, 390 slow)")


if __name__ == "__main__":
    main()
