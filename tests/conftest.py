"""Shared fixtures: small venues built from the presets with a market maker's ladder on each book."""

from __future__ import annotations

import pytest

from venues.orderbook import BUY, SELL
from venues.presets import load_preset
from venues.venue import Venue

PRICES = {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0}


def make_venue(preset: str = "binance_like", overrides: dict | None = None, name: str | None = None) -> Venue:
    return Venue(name or preset, load_preset(preset, overrides), PRICES, capacity=8)


def ladder(v: Venue, account: int, market: str, levels: int = 10, lots: int = 20, step_bps: float = 5.0) -> None:
    """Quote `levels` bids and asks around the index, `step_bps` apart, `lots` each."""
    m = v.market_index(market)
    px = v.index[m]
    for k in range(1, levels + 1):
        v.submit_order(account, m, BUY, lots, px * (1 - k * step_bps * 1e-4), kind="limit")
        v.submit_order(account, m, SELL, lots, px * (1 + k * step_bps * 1e-4), kind="limit")


@pytest.fixture(params=["binance_like", "hyperliquid_like", "lighter_like"])
def preset(request) -> str:
    return request.param


def trade(v: Venue, buyer: int, seller: int, market, lots: int, price: float) -> None:
    """The seller rests a limit at `price`, the buyer takes it: one fill at exactly `price`."""
    r = v.submit_order(seller, market, SELL, lots, price, kind="limit")
    assert r.status == "resting", r
    r = v.submit_order(buyer, market, BUY, lots, price, kind="ioc")
    assert r.filled_lots == lots, r


def force_mark(v: Venue, marks: dict[str, float]) -> None:
    """Set the non-book mark terms so every re-mark gives these marks (median of x, book term, x = x)."""
    for name, x in marks.items():
        m = v.market_index(name)
        v._mark_terms[m] = (float(x), float(x))
    for m in range(v.M):
        if not v._mark_terms[m]:
            x = float(v.ch.mark[m])
            v._mark_terms[m] = (x, x)
    v.remark()


# The slow tests first, those that run sweeps in subprocesses first of all: pytest-xdist hands tests to its
# workers in this order, so the long ones are spread over both workers from the start instead of one worker
# running the study's sweeps alone at the end (measured: 7m14s with the collection order, see the commit). Each
# test builds its own state, so the order changes no result.
_SUBPROCESS_SWEEPS = ("test_validation_study.py", "test_sweep_faults.py", "test_reliability.py",
                      "test_results_bound.py", "test_experiments.py", "test_calibration.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        if item.get_closest_marker("slow") is None:
            return 2
        return 0 if item.path.name in _SUBPROCESS_SWEEPS else 1
    items.sort(key=rank)   # stable: the collection order within each rank
