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
