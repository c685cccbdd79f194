"""Market makers' quoting rule (the agent that uses it comes with issue "Agents and the model").

A maker quotes a ladder of bids and asks around its fair value, skewed against its inventory; it widens and
cuts size as realised volatility and inventory grow, and withdraws entirely past a threshold (the thin books
of 10 October 2025: "market makers pulled quotes"; Vuorenmaa and Wang, JASSS 27(2):8, on inventory limits
and withdrawal speed setting the depth of flash crashes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class QuoteParams:
    """One maker's quoting parameters for one market."""

    depth_usd: float = 2_000_000.0
    """Notional quoted per side in calm conditions, USD (spread over the levels)."""
    levels: int = 10
    """Price levels per side."""
    half_spread_bps: float = 2.0
    """Distance of the first level from fair value in calm conditions, bps."""
    level_step_bps: float = 5.0
    """Distance between levels, bps."""
    calm_vol_bps: float = 10.0
    """Realised one-minute volatility regarded as calm, bps."""
    inventory_limit_usd: float = 5_000_000.0
    """Inventory (USD at fair value) at which the skew is full and the side that adds to it is not quoted."""
    skew_bps: float = 20.0
    """Shift of the whole ladder at full inventory, bps (towards reducing the inventory)."""
    withdraw_threshold: float = 5.0
    """Withdraw entirely when realised volatility exceeds this multiple of calm_vol_bps."""


def ladder(fair: float, inventory_usd: float, vol_bps: float, p: QuoteParams) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray, np.ndarray]:
    """(bid prices, bid notionals, ask prices, ask notionals) in USD, best first; all empty when withdrawn.

    Stress s = vol / calm vol (at least 1): spreads and level steps scale with s, size per side with 1 / s.
    Inventory share u = inventory / limit in [-1, 1]: the ladder shifts by -u x skew (a long maker lowers its
    prices to sell), and the side that would add to the inventory shrinks by (1 - |u|) (none at the limit).
    """
    stress = max(1.0, vol_bps / p.calm_vol_bps)
    empty = np.zeros(0)
    if stress > p.withdraw_threshold or not (fair > 0 and math.isfinite(fair)):
        return empty, empty, empty, empty
    u = max(-1.0, min(1.0, inventory_usd / p.inventory_limit_usd))
    centre = fair * (1.0 - u * p.skew_bps * 1e-4)
    k = np.arange(p.levels)
    offsets = (p.half_spread_bps + k * p.level_step_bps) * stress * 1e-4
    bids = centre * (1.0 - offsets)
    asks = centre * (1.0 + offsets)
    per_level = p.depth_usd / p.levels / stress
    bid_size = np.full(p.levels, per_level * (1.0 - max(0.0, u)))
    ask_size = np.full(p.levels, per_level * (1.0 - max(0.0, -u)))
    return bids, bid_size, asks, ask_size


def realised_vol_bps(prices: np.ndarray) -> float:
    """Standard deviation of one-step log returns over the window, bps (0 with fewer than 3 prices)."""
    x = np.asarray(prices, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size < 3:
        return 0.0
    return float(np.std(np.diff(np.log(x))) * 1e4)
