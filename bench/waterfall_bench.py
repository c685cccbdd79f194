"""One waterfall round over 100,000 accounts with 1% of them liquidatable (issue 10), next to the reference
engine (tests/reference) on the same state when it is importable.

Run: .venv/bin/python bench/waterfall_bench.py [accounts]   (median of 11 runs, each on a freshly built venue;
accounts default 100,000)
Targets: under 50 ms, and at least 20x less than the reference engine.

Wide mode (issue "Engine", item 3: ADL in linear time):
    .venv/bin/python bench/waterfall_bench.py --wide [--positions 1000000 100000] [--runs 5] [--cases book adl]
One round over positions / 10 accounts x 10 markets (cross margin, as bench/detection_bench.py), 1% of the
accounts liquidatable, the state written straight into the arrays (seconds, not an order per position). Case
`book`: a ladder on every book deep enough for every liquidation order; case `adl`: 5 lots a side per book, so
ADL takes nearly all of it. Each run times the round with this engine ("new") and with the walk from the head of
the ADL queue that it replaced ("old": HeadWalkWaterfall of tests/test_adl_cursor.py), alternately on freshly
built identical states; the first pair's outcomes (every event, position, balance) are checked identical. It
reports medians of CPU time (time.process_time: the machine it runs on is usually busy, and CPU time does not
count the waits for a core) and of wall time, and the ratios old / new and largest / smallest size, all from the
one run.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from venues import events as ev  # noqa: E402
from venues.orderbook import BUY, SELL  # noqa: E402
from venues.params import VenueParams, from_dict  # noqa: E402
from venues.presets import load_preset, preset_dict  # noqa: E402
from venues.venue import Venue  # noqa: E402
from venues.waterfall import STAGE_BOOK, Waterfall  # noqa: E402

N_ACCOUNTS, SHARE, RUNS = 100_000, 0.01, 11
PRICES = {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0}
OVERRIDES = {"max_liquidation_rounds": 1}


def build(engine_cls, seed: int = 11):
    """100,000 accounts long or short BTC at 100k (0.01-0.2 BTC), leverage 5x-40x; a maker with a deep book.
    A 2.6% drop of the mark leaves about 1% of them (the most leveraged longs) liquidatable."""
    rng = np.random.default_rng(seed)
    v = engine_cls("bench", load_preset("binance_like", OVERRIDES), PRICES, capacity=N_ACCOUNTS + 8)
    mm = v.open_account()
    v.deposit(mm, 1e10)
    v.set_leverage(mm, "BTC", 20)
    lots = rng.integers(10, 200, N_ACCOUNTS)
    side = np.where(np.arange(N_ACCOUNTS) % 2 == 0, 1, -1)
    lev = rng.uniform(5, 40, N_ACCOUNTS)
    margin = lots * 0.001 * 100_000.0 / lev
    accts = []
    for k in range(N_ACCOUNTS):
        a = v.open_account()
        v.deposit(a, float(margin[k]))
        accts.append(a)
    fill_direct(v, accts, mm, (lots * side).tolist())
    for t in range(1, 400):   # bids every 5 USD below 97.5k, 2 BTC each
        v.submit_order(mm, "BTC", BUY, 2000, 97_500.0 - 5.0 * t, kind="limit")
    return v


def fill_direct(v, accts, mm, signed_lots):
    """Open the positions without walking the book (the bench measures the waterfall, not order entry)."""
    if hasattr(v, "ch"):
        for a, n in zip(accts, signed_lots):
            v.ch.apply_fill(a, 0, n, 100_000.0)
            v.ch.apply_fill(mm, 0, -n, 100_000.0)
    else:  # the reference engine's own fill routine (a private method: fine for a benchmark's setup)
        for a, n in zip(accts, signed_lots):
            v._apply_fill(a, 0, n, 100_000.0)
            v._apply_fill(mm, 0, -n, 100_000.0)


def set_mark(v, price):
    """The mark terms binance_like keeps for its re-mark, set so every re-mark gives `price`."""
    if hasattr(v, "ch"):
        v._mark_terms[0] = (price, price)
        v._mark_terms[1] = (10.0, 10.0)
        v.remark()
    else:
        v.kept_p1[0] = v.kept_p2[0] = price
        v._remark()


def time_round(engine_cls, runs) -> tuple[float, int, float]:
    ts, n = [], 0
    for _ in range(runs):
        v = build(engine_cls)
        set_mark(v, 97_850.0)   # about 1% of accounts below maintenance
        n = len(v.scan()) if hasattr(v, "ch") else len(v._scan())
        gc.collect()
        t0 = time.perf_counter()
        v.run_liquidations()
        ts.append((time.perf_counter() - t0) * 1e3)
        v.check_invariants()
    return statistics.median(ts), n, min(ts)


# ============================================================================== wide: 10 markets, ADL
N_MARKETS = 10


def wide_params() -> VenueParams:
    """binance_like with 10 perps (even: BTC's lot, tick and tiers at 100k; odd: ALT's at 10), no spot books,
    USD collateral only, one round, a fund large enough to pay every book close's shortfall."""
    d = preset_dict("binance_like")
    btc, alt = d["perps"]["BTC"], d["perps"]["ALT"]
    d["perps"] = {f"M{k}": dict(btc if k % 2 == 0 else alt) for k in range(N_MARKETS)}
    d["spots"] = {}
    d["synthetic_collateral"] = False
    d["max_liquidation_rounds"] = 1
    d["insurance_fund_usd"] = 1e9
    return from_dict(VenueParams, d, "bench.wide").validate("bench.wide")


def build_wide(n_accounts: int, case: str, waterfall_cls=Waterfall, seed: int = 3) -> Venue:
    """n_accounts cross accounts x 10 markets, every position nonzero: notionals lognormal around 5k USD, longs
    55% of the positions in even markets and 45% in odd ones, entries scattered 0.5% (sd) around the mark.
    Account 0 is the maker: the other side of every position, at the entry that keeps the sum of unrealised PnL
    zero, and the books' only quotes. 1% of the accounts (drawn at random) have equity 30%-95% of
    their maintenance margin, the others at least twice it (gross / 3-40x). case: "book" or "adl"."""
    rng = np.random.default_rng(seed)
    M, N = N_MARKETS, n_accounts
    prices = np.where(np.arange(M) % 2 == 0, 100_000.0, 10.0)
    v = Venue("bench-wide", wide_params(), {f"M{k}": float(prices[k]) for k in range(M)}, capacity=N + 8)
    v.waterfall = waterfall_cls(v)
    ch = v.ch
    mm = v.open_account()
    ch.leverage[mm] = 1.0
    first = ch.n
    rows = slice(first, first + N)
    ch.n = first + N
    ch.isolated[rows] = False
    ch.leverage[rows] = v._default_lev
    lot = ch.lot_size
    notional = rng.lognormal(np.log(5_000.0), 1.2, (N, M))
    q_lots = np.maximum(1, np.rint(notional / (prices * lot))).astype(np.int64)
    p_long = np.where(np.arange(M) % 2 == 0, 0.55, 0.45)
    q_lots *= np.where(rng.random((N, M)) < p_long, 1, -1)
    entry = prices * (1 + rng.normal(0, 0.005, (N, M)))
    qty = q_lots * lot
    ch.lots[rows] = q_lots
    ch.qty[rows] = qty
    ch.entry[rows] = entry
    net = q_lots.sum(axis=0)
    ch.lots[mm] = -net
    ch.qty[mm] = -net * lot
    ch.entry[mm] = (qty * entry).sum(axis=0) / (net * lot)   # sum of qty x entry over all accounts: zero
    all_lots = ch.lots[: ch.n]
    ch.oi_long_lots = np.where(all_lots > 0, all_lots, 0).sum(axis=0).tolist()
    ch.oi_short_lots = (-np.where(all_lots < 0, all_lots, 0)).sum(axis=0).tolist()
    # balances: equity targets against maintenance at the marks (the marks stay at the starting prices)
    mark = ch.mark
    gross_pos = np.abs(qty) * mark
    mmr = ch.maintenance_matrix(gross_pos).sum(axis=1)
    upnl = (qty * (mark - entry)).sum(axis=1)
    gross = gross_pos.sum(axis=1)
    liq = rng.random(N) < 0.01
    eq = np.where(liq, mmr * rng.uniform(0.3, 0.95, N), np.maximum(gross / rng.uniform(3, 40, N), 2.0 * mmr))
    bal = eq - upnl
    ch.bal[rows, 0] = bal
    ch.deposits[0] += float(bal.sum())
    v.deposit(mm, 1e13)
    # the books: both sides of every market quoted by the maker near the mark
    sell_lots = np.where(liq[:, None] & (q_lots > 0), q_lots, 0).sum(axis=0)   # liquidation orders that sell
    buy_lots = np.where(liq[:, None] & (q_lots < 0), -q_lots, 0).sum(axis=0)
    levels = 20
    for k in range(M):
        px = float(prices[k])
        for t in range(1, levels + 1):
            if case == "book":   # 20 levels 0.05% apart, 1.5x what the liquidations need in all
                bid = int(np.ceil(1.5 * sell_lots[k] / levels)) + 1
                ask = int(np.ceil(1.5 * buy_lots[k] / levels)) + 1
            else:                # nearly empty: 5 lots a side at the first level
                if t > 1:
                    break
                bid = ask = 5
            assert v.submit_order(mm, k, BUY, bid, px * (1 - 0.0005 * t), kind="limit").status == "resting"
            assert v.submit_order(mm, k, SELL, ask, px * (1 + 0.0005 * t), kind="limit").status == "resting"
    return v


def outcome(v: Venue) -> dict:
    ch = v.ch
    out = {f"event.{k}": a.copy() for k, a in v.events.columns().items()}
    for name in ("lots", "entry", "bal"):
        out[name] = getattr(ch, name)[: ch.n].copy()
    out["ledgers"] = np.array([ch.insurance[0], ch.bad_debt[0], ch.fees_kept[0]])
    return out


def identical(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f") for k in a)


def time_wide(n_accounts: int, case: str, waterfall_cls, keep: bool = False):
    """One round on a fresh state: (cpu ms, wall ms, build cpu s, counts, outcome if keep). The invariants are
    checked after the round when keep is set (outside the timing)."""
    t0 = time.process_time()
    v = build_wide(n_accounts, case, waterfall_cls)
    build_s = time.process_time() - t0
    n = len(v.scan())
    gc.collect()
    c0, w0 = time.process_time(), time.perf_counter()
    v.run_liquidations()
    cpu, wall = (time.process_time() - c0) * 1e3, (time.perf_counter() - w0) * 1e3
    w = v.waterfall
    liq = v.events.of_kind(ev.LIQUIDATION)
    counts = {"units": n, "book": int(np.count_nonzero(liq["info"] == STAGE_BOOK)), "adl": w.n_adl_fills,
              "visits": w.adl_queue_visits}
    out = None
    if keep:
        v.check_invariants()
        out = outcome(v)
    return cpu, wall, build_s, counts, out


def wide(sizes: list[int], cases: list[str], runs: int) -> None:
    try:
        from test_adl_cursor import HeadWalkWaterfall
    except ImportError as e:   # tests/ not importable: time the new engine alone
        print(f"old walk not importable ({e}): new engine only")
        HeadWalkWaterfall = None
    engines = {"new": Waterfall}
    if HeadWalkWaterfall is not None:
        engines["old"] = HeadWalkWaterfall
    print(f"waterfall bench, wide | python {platform.python_version()} | numpy {np.__version__} | "
          f"{platform.machine()} | {time.strftime('%Y-%m-%d %H:%M')} | {runs} runs per engine, interleaved")
    medians: dict[tuple, dict] = {}
    for positions in sizes:
        n_accounts = positions // N_MARKETS
        for case in cases:
            cpu = {e: [] for e in engines}
            wall = {e: [] for e in engines}
            builds, info, outs = [], {}, {}
            for r in range(runs):
                order = list(engines) if r % 2 == 0 else list(engines)[::-1]
                for e in order:
                    c, w_, b, counts, out = time_wide(n_accounts, case, engines[e], keep=(r == 0))
                    cpu[e].append(c)
                    wall[e].append(w_)
                    builds.append(b)
                    info[e] = counts
                    if r == 0:
                        outs[e] = out
                    print(f"  {positions:,} positions, {case}, run {r} {e}: cpu {c:.0f} ms, wall {w_:.0f} ms "
                          f"(build {b:.1f} s cpu; {counts['units']:,} units, {counts['book']:,} book closes, "
                          f"{counts['adl']:,} ADL fills, {counts['visits']:,} queue entries visited)", flush=True)
            same = "old" not in outs or identical(outs["old"], outs["new"])
            med = {e: (statistics.median(cpu[e]), statistics.median(wall[e])) for e in engines}
            medians[(positions, case)] = med
            c = info["new"]
            line = (f"{positions:,} positions ({n_accounts:,} accounts x {N_MARKETS}), case {case}: {c['units']:,} "
                    f"units liquidatable, {c['book']:,} book closes, {c['adl']:,} ADL fills; new "
                    f"{med['new'][0]:.0f} ms cpu / {med['new'][1]:.0f} ms wall (median of {runs})")
            if "old" in med:
                ratio = statistics.median([o / nw for o, nw in zip(cpu["old"], cpu["new"])])
                line += (f"; old {med['old'][0]:.0f} ms cpu / {med['old'][1]:.0f} ms wall; old / new cpu "
                         f"{ratio:.2f}x (median of the {runs} pairs); queue entries visited old "
                         f"{info['old']['visits']:,}, new {c['visits']:,}; outcomes "
                         f"{'identical' if same else 'DIFFERENT'}")
            print(line, flush=True)
            print(f"  build: {statistics.median(builds):.1f} s cpu median", flush=True)
            if not same:
                raise SystemExit("old and new outcomes differ")
    if len(sizes) >= 2:
        small, big = min(sizes), max(sizes)
        for case in cases:
            for e in medians[(big, case)]:
                g = medians[(big, case)][e][0] / medians[(small, case)][e][0]
                print(f"growth {small:,} -> {big:,} positions, case {case}, {e}: {g:.1f}x (cpu medians)")
        growth_pairs(small, big, cases, runs)


def growth_pairs(small: int, big: int, cases: list[str], runs: int) -> None:
    """The growth from `small` to `big` positions as the median of `runs` ratios, each of a big round and a small
    one run back to back (the order alternating): the machine's drift between the size blocks above does not
    enter it."""
    for case in cases:
        ratios = []
        for r in range(runs):
            sizes = (small, big) if r % 2 == 0 else (big, small)
            t = {n: time_wide(n // N_MARKETS, case, Waterfall)[0] for n in sizes}
            ratios.append(t[big] / t[small])
        print(f"growth {small:,} -> {big:,} positions, case {case}, new, {runs} interleaved pairs: "
              f"{statistics.median(ratios):.1f}x (pairs {', '.join(f'{x:.1f}' for x in ratios)})", flush=True)


def main() -> None:
    global N_ACCOUNTS
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("accounts", nargs="?", type=int, default=N_ACCOUNTS)
    ap.add_argument("--wide", action="store_true", help="10 markets, cases book and adl, old against new")
    ap.add_argument("--positions", type=int, nargs="+", default=[1_000_000, 100_000])
    ap.add_argument("--cases", nargs="+", default=["book", "adl"], choices=["book", "adl"])
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    if a.wide:
        wide(a.positions, a.cases, a.runs)
        return
    N_ACCOUNTS = a.accounts
    ms, n, ms_min = time_round(Venue, RUNS)
    print(f"waterfall bench | python {platform.python_version()} | numpy {np.__version__} | {platform.machine()} | "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"accounts: {N_ACCOUNTS:,}; liquidatable at the round: {n:,} ({n / N_ACCOUNTS:.1%})")
    print(f"vectorized engine, one round: {ms:.1f} ms median of {RUNS}, {ms_min:.1f} ms best (target < 50 ms)")
    try:
        from reference.engine import RefVenue
    except ImportError:
        print("reference engine: not importable (tests/reference)")
        return
    # interleaved pairs (this machine's speed drifts by up to 2x over seconds): the ratio of each pair
    ratios, refs = [], []
    for _ in range(3):
        ref_ms, ref_n, _ = time_round(RefVenue, 1)
        fast_ms, _, _ = time_round(Venue, 3)
        assert ref_n == n
        refs.append(ref_ms)
        ratios.append(ref_ms / fast_ms)
    print(f"reference engine (plain Python, tests/reference), same state: {statistics.median(refs):.0f} ms median of 3")
    print(f"ratio reference / vectorized: {statistics.median(ratios):.0f}x median of 3 interleaved pairs "
          f"({min(ratios):.0f}x-{max(ratios):.0f}x) (target >= 20x)")


if __name__ == "__main__":
    main()
