"""Index, mark and funding arithmetic (settled rules 4 and 5). Pure functions on numbers and arrays."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence


def weighted_median(values: Sequence[float], weights: Sequence[float] | None = None) -> float:
    """Weighted median: the smallest value whose cumulative weight reaches half the total; where the
    cumulative weight lands exactly on one half, the mean of that value and the next (so equal weights
    give numpy's median). NaN values are ignored; nan if nothing is left."""
    vals = [float(x) for x in values]
    ws = [1.0] * len(vals) if weights is None else [float(x) for x in weights]
    pairs = sorted(((x, wx) for x, wx in zip(vals, ws) if not math.isnan(x) and wx > 0), key=lambda p: p[0])
    if not pairs:   # (plain floats, a stable sort and a running sum: numpy's stable argsort and cumsum, exactly)
        return math.nan
    cum, total = [], 0.0
    for _, wx in pairs:
        total += wx
        cum.append(total)
    half = 0.5 * total
    k = bisect_left(cum, half)
    if math.isclose(cum[k], half, rel_tol=1e-12, abs_tol=0.0) and k + 1 < len(pairs):
        return 0.5 * (pairs[k][0] + pairs[k + 1][0])
    return pairs[k][0]


def median_of(*terms: float | None) -> float:
    """Median of the terms that exist (None and NaN dropped); nan if none."""
    xs = [t for t in terms if t is not None and not math.isnan(t)]
    if not xs:
        return math.nan
    xs.sort()
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


# Each mark in two halves: the terms that do not come from the venue's own book (computed once a step, when the
# index arrives) and the median with the book's terms (computed again at every re-mark between waterfall rounds,
# settled rule 2). The venue (venues/pricing.py) calls the halves; binance_mark and hyperliquid_mark compose them.
def binance_terms(index: float, last_funding_rate: float, minutes_to_funding: float, interval_minutes: float,
                  basis_ma: float) -> tuple[float, float]:
    """(Price 1, Price 2) of the Binance mark: Price 1 = index x (1 + last funding rate x time until funding /
    interval); Price 2 = index + moving average of the basis (mid - index)."""
    return index * (1.0 + last_funding_rate * (minutes_to_funding / interval_minutes)), index + basis_ma


def binance_mark_from(terms: tuple[float, float], last_trade: float | None) -> float:
    """Binance perpetual mark: median(Price 1, Price 2, last trade) (settled rule 4)."""
    return median_of(terms[0], terms[1], last_trade)


def binance_mark(index: float, last_funding_rate: float, minutes_to_funding: float, interval_minutes: float,
                 basis_ma: float, last_trade: float | None) -> float:
    """Binance perpetual mark from its inputs (binance_terms, then binance_mark_from)."""
    return binance_mark_from(binance_terms(index, last_funding_rate, minutes_to_funding, interval_minutes, basis_ma),
                             last_trade)


def hyperliquid_terms(index: float, premium_ema: float, other_mids: Sequence[float] | None = None,
                      other_weights: Sequence[float] | None = None) -> tuple[float, float]:
    """(index + premium EMA, weighted median of the other venues' perp mids at the previous step; nan if none)
    of the Hyperliquid mark."""
    c = math.nan
    if other_mids is not None and len(other_mids):
        c = weighted_median(other_mids, other_weights)
    return index + premium_ema, c


def hyperliquid_mark_from(terms: tuple[float, float], best_bid: float | None, best_ask: float | None,
                          last_trade: float | None) -> float:
    """Hyperliquid mark (also lighter_like): median of (index + premium EMA, median(best bid, best ask, last
    trade), weighted median of the other venues' mids) (settled rule 4). A term whose inputs are all missing is
    dropped."""
    a, c = terms
    return median_of(a, median_of(best_bid, best_ask, last_trade), c)


def hyperliquid_mark(index: float, premium_ema: float, best_bid: float | None, best_ask: float | None,
                     last_trade: float | None, other_mids: Sequence[float] | None = None,
                     other_weights: Sequence[float] | None = None) -> float:
    """Hyperliquid mark from its inputs (hyperliquid_terms, then hyperliquid_mark_from)."""
    return hyperliquid_mark_from(hyperliquid_terms(index, premium_ema, other_mids, other_weights),
                                 best_bid, best_ask, last_trade)


def funding_rate(premium_avg: float, interval_hours: float, interest_8h: float = 0.0001, clamp: float = 0.0005,
                 cap_per_hour: float = math.inf) -> float:
    """Funding rate per interval (settled rule 5): F = [P + clamp(i - P, -c, c)] x interval_hours / 8,
    capped at cap_per_hour x interval_hours. Longs pay shorts when F > 0."""
    p = premium_avg
    f = (p + min(max(interest_8h - p, -clamp), clamp)) * interval_hours / 8.0
    cap = cap_per_hour * interval_hours
    return min(max(f, -cap), cap)
