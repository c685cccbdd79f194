"""Per-order cost of the batched, compiled perp order path (venues/batch_nb.py submit_venue_batch, batches of 1, 16
and 64 orders) against `Venue.submit_order` in turn, on the same states: a binance_like venue built from one seed
(6 makers' ladders of 8 rungs a side on BTC and ALT, 200 takers with positions), a stream of 4,096 market / IOC
orders (1-40 BTC lots or 10-5,000 ALT lots, 20% reduce-only), the makers requoting every 64 orders (not timed).
Interleaved rounds, medians and ratios from one run. The Python path runs on main's OrderBook and on
OrderBookNB; every method must leave the same clearinghouse and events as submit_order on OrderBookNB.

Also: the first compile of the kernels (an empty NUMBA_CACHE_DIR) and loading them from the cache, each in a
fresh interpreter.

Run: nice -n 19 .venv/bin/python bench/orders_nb_bench.py

One run (2-core machine with two other sessions' work running beside it, nice 19), medians of 7 rounds, us per
order: python/OrderBook 68.3, python/OrderBookNB 51.9 (x1.32), submit_venue_batch in batches of 1: 36.1 (x1.89),
of 16: 5.9 (x11.5), of 64: 4.05 (x16.9). First compile (importing venues.orderbook_nb compiles the book's, the
ladders' and the batch's kernels): 44.5 s; loading them from the cache 1.9 s. (The single-market submit_batch
this bench measured before is gone: the venue batch replaced it in the model.)
"""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import venues.venue  # noqa: E402
from venues.orderbook import BUY, SELL, OrderBook  # noqa: E402
from venues.orderbook_nb import OrderBookNB  # noqa: E402
from venues.batch_nb import submit_venue_batch  # noqa: E402
from venues.presets import load_preset  # noqa: E402
from venues.venue import Venue  # noqa: E402

ROUNDS = 7
N_ORDERS = 4096
REQUOTE = 64
PRICES = {"BTC": 60_000.0, "ALT": 1.0, "SYNTH": 1.0}


def build(book_cls, seed=11):
    rnd = random.Random(seed)
    with mock.patch.object(venues.venue, "OrderBook", book_cls):
        v = Venue("bench", load_preset("binance_like"), PRICES)
    makers = [v.open_account() for _ in range(6)]
    for a in makers:
        v.deposit(a, 1e9)
    takers = [v.open_account() for _ in range(200)]
    for a in takers:
        v.deposit(a, 10 ** rnd.uniform(3.5, 6))
        for m in range(v.M):
            v.set_leverage(a, m, rnd.choice([2.0, 5.0, 10.0, 20.0]))
    requote(v, makers, random.Random(seed + 1))
    for a in takers:
        v.submit_order(a, rnd.randrange(v.M), rnd.choice((BUY, SELL)), rnd.randint(1, 20))
    requote(v, makers, random.Random(seed + 2))
    return v, makers, takers


def requote(v, makers, rnd):
    for m in range(v.M):
        book = v.books[m]
        mid = int(round(v.ch.mark_list[m] / book.tick_size))
        step = max(1, int(mid * 1e-4))
        for a in makers:
            v.cancel_all(a, m)
            rungs = []
            for r in range(1, 9):
                n = rnd.randint(20, 200) if m == 0 else rnd.randint(2_000, 20_000)
                rungs.append((BUY, (mid - r * step) * book.tick_size, n))
                rungs.append((SELL, (mid + r * step) * book.tick_size, n))
            v.post_ladder(a, m, rungs)
    v.events._flush()   # the requote's own event rows into the columns (not timed, for every method)


def stream(v, takers, seed=5):
    rnd = random.Random(seed)
    out = []
    for _ in range(N_ORDERS):
        m = rnd.randrange(v.M)
        book = v.books[m]
        side = rnd.choice((BUY, SELL))
        n = rnd.randint(1, 40) if m == 0 else rnd.randint(10, 5000)
        kind = "market" if rnd.random() < 0.6 else "ioc"
        mid = v.ch.mark_list[m] / book.tick_size
        lim = None if kind == "market" else (mid + side * rnd.randint(0, 30) * max(1, int(mid * 1e-4))) * book.tick_size
        out.append((rnd.choice(takers), m, side, n, lim, kind, rnd.random() < 0.2))
    return out


def run_python(book_cls, orders):
    v, makers, _ = build(book_cls)
    rnd = random.Random(3)
    sub = v.submit_order
    dt = 0.0
    for c in range(0, len(orders), REQUOTE):
        chunk = orders[c:c + REQUOTE]
        t0 = time.perf_counter()
        for a, m, s, n, p, kd, ro in chunk:
            sub(a, m, s, n, p, kind=kd, reduce_only=ro)
        dt += time.perf_counter() - t0
        requote(v, makers, rnd)
    return dt, v


def run_batched(k, orders):
    """submit_venue_batch over runs of up to k orders (a chunk of REQUOTE orders cut in runs, in order)."""
    v, makers, _ = build(OrderBookNB)
    rnd = random.Random(3)
    dt = 0.0
    for c in range(0, len(orders), REQUOTE):
        chunk = orders[c:c + REQUOTE]
        runs = [chunk[j:j + k] for j in range(0, len(chunk), k)]
        # the orders as the agents hand them over: arrays (kind codes, nan for no limit)
        args = [(np.array([o[0] for o in r], np.int64), np.array([o[1] for o in r], np.int64),
                 np.array([o[2] for o in r], np.int64), np.array([o[3] for o in r], np.int64),
                 np.array([np.nan if o[4] is None else o[4] for o in r]),
                 np.array([0 if o[5] == "market" else 1 for o in r], np.int64),
                 np.array([o[6] for o in r], bool), np.zeros(len(r), bool)) for r in runs]
        t0 = time.perf_counter()
        for a, m, s, n, p, kd, ro, need in args:
            submit_venue_batch(v, a, m, s, n, p, kd, ro, need)
        dt += time.perf_counter() - t0
        requote(v, makers, rnd)
    return dt, v


def fingerprint(v):
    ch = v.ch
    cols = v.events.columns()
    return (ch.bal[:ch.n].tobytes(), ch.lots[:ch.n].tobytes(), ch.entry[:ch.n].tobytes(),
            ch.open_buy[:ch.n].tobytes(), ch.open_sell[:ch.n].tobytes(), np.array(ch.fees_kept).tobytes(),
            v.volume_usd.tobytes(), {c: a.tobytes() for c, a in cols.items()})


def compile_times():
    code = ("import time; t=time.perf_counter(); import venues.orderbook_nb; t1=time.perf_counter(); "
            "import venues.batch_nb; t2=time.perf_counter(); print(t1-t, t2-t1)")
    out = {}
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, NUMBA_CACHE_DIR=d)
        for label in ("first compile", "cache load"):
            r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                               check=True)
            out[label] = [float(x) for x in r.stdout.split()]
    return out


def main():
    v0, _, takers = build(OrderBookNB)
    orders = stream(v0, takers)
    methods = {
        "python, OrderBook": lambda: run_python(OrderBook, orders),
        "python, OrderBookNB": lambda: run_python(OrderBookNB, orders),
        "batch 1": lambda: run_batched(1, orders),
        "batch 16": lambda: run_batched(16, orders),
        "batch 64": lambda: run_batched(64, orders),
    }
    ref = fingerprint(run_python(OrderBookNB, orders)[1])
    for name, f in methods.items():   # warm-up and the identity check
        fp = fingerprint(f()[1])
        assert fp == ref, name
    times = {name: [] for name in methods}
    gc.disable()
    for _ in range(ROUNDS):
        for name, f in methods.items():
            times[name].append(f()[0])
            gc.collect()
    gc.enable()
    ev = ref[-1]
    n_fill_rows = len(np.frombuffer(ev["kind"], np.int8))
    print(f"python {platform.python_version()}, numpy {np.__version__}, {N_ORDERS} orders, {ROUNDS} rounds, "
          f"{n_fill_rows} event rows")
    base = statistics.median(times["python, OrderBook"])
    for name, ts in times.items():
        med = statistics.median(ts)
        calls = "" if not name.startswith("batch") else f"  ({-(-N_ORDERS // int(name.split()[1]))} calls)"
        print(f"{name:22s} {med / N_ORDERS * 1e6:8.2f} us/order   x{base / med:6.2f} vs python/OrderBook"
              f"   (min {min(ts) / N_ORDERS * 1e6:.2f}){calls}")
    ct = compile_times()
    for label, (a, b) in ct.items():
        print(f"{label:14s}: orderbook_nb {a:.2f} s, orders_nb + batch_nb {b:.2f} s")


if __name__ == "__main__":
    main()
