"""Liquidation detection over 1,000,000 positions (100,000 accounts x 10 markets, tiered maintenance, cross
margin), next to a bare numpy pass of the same arithmetic with one flat maintenance rate (the floor).

Run: .venv/bin/python bench/detection_bench.py   (15 pairs, the scan and the floor alternately: medians, and the
median of the pairs' ratios, since this VM drifts within minutes)
Targets: under 25 ms (issue 9); within 1.3x of the floor (issue "Engine").
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from venues.clearinghouse import Clearinghouse, TierTable  # noqa: E402
from venues.presets import load_preset  # noqa: E402

N_ACCOUNTS, N_MARKETS, RUNS = 100_000, 10, 15


def build(seed: int = 3) -> Clearinghouse:
    rng = np.random.default_rng(seed)
    p = load_preset("binance_like")
    tables = [TierTable(p.perps["BTC" if k % 2 == 0 else "ALT"].tiers) for k in range(N_MARKETS)]
    prices = np.where(np.arange(N_MARKETS) % 2 == 0, 100_000.0, 10.0)
    lots = np.where(np.arange(N_MARKETS) % 2 == 0, 0.001, 1.0)
    ch = Clearinghouse([(f"M{k}", lots[k], tables[k]) for k in range(N_MARKETS)], ["USD"], capacity=N_ACCOUNTS)
    ch.n = N_ACCOUNTS
    # position notionals lognormal around $5k (some in higher brackets), random sides
    notional = rng.lognormal(np.log(5_000), 1.2, (N_ACCOUNTS, N_MARKETS))
    q_lots = np.maximum(1, np.rint(notional / (prices * lots))).astype(np.int64)
    q_lots *= np.where(rng.random((N_ACCOUNTS, N_MARKETS)) < 0.5, 1, -1)
    ch.lots[:] = q_lots
    ch.qty[:] = q_lots * lots
    ch.entry[:] = prices * (1 + rng.normal(0, 0.02, (N_ACCOUNTS, N_MARKETS)))
    ch.bal[:, 0] = notional.sum(axis=1) / rng.uniform(3, 40, N_ACCOUNTS)
    ch.mark = prices * 0.97
    return ch


def floor_pass(ch: Clearinghouse, rate: float) -> np.ndarray:
    qty = ch.qty[: ch.n]
    notional = np.abs(qty) * ch.mark
    mm = (notional * rate).sum(axis=1)
    eq = ch.bal[: ch.n, 0] + (qty * (ch.mark - ch.entry[: ch.n])).sum(axis=1)
    hit = np.flatnonzero(eq < mm)
    return hit[np.argsort(eq[hit] / mm[hit], kind="stable")]


def median_ms(fn, runs=RUNS) -> float:
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def interleaved(ch: Clearinghouse, runs: int = RUNS) -> tuple[float, float, float, list[float]]:
    """The scan and the floor timed alternately, `runs` pairs (each pair in the same phase of the machine):
    (median scan ms, median floor ms, median of the pairs' ratios, the ratios)."""
    ts, tf, ratios = [], [], []
    for _ in range(runs):
        a = median_ms(ch.scan, runs=1)
        b = median_ms(lambda: floor_pass(ch, 0.005), runs=1)
        ts.append(a)
        tf.append(b)
        ratios.append(a / b)
    return statistics.median(ts), statistics.median(tf), statistics.median(ratios), ratios


def main() -> None:
    ch = build()
    scan = ch.scan()
    floor_hits = floor_pass(ch, 0.005)
    t_scan, t_floor, ratio, ratios = interleaved(ch)
    print(f"detection bench | python {platform.python_version()} | numpy {np.__version__} | {platform.machine()} | "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"positions: {N_ACCOUNTS * N_MARKETS:,} ({N_ACCOUNTS:,} accounts x {N_MARKETS} markets), cross margin")
    print(f"liquidatable accounts: tiered {len(scan):,}, flat-rate floor {floor_hits.size:,}")
    print(f"tiered scan (Clearinghouse.scan): {t_scan:.1f} ms median of {RUNS} (target < 25 ms)")
    print(f"bare numpy floor, one flat rate:   {t_floor:.1f} ms median of {RUNS}")
    print(f"ratio scan / floor: {ratio:.2f}x median of the {RUNS} pairs' ratios (range {min(ratios):.2f}-"
          f"{max(ratios):.2f}; target <= 1.3x)")


if __name__ == "__main__":
    main()
