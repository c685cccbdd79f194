"""Directional traders' decision rules: many small leveraged accounts that supply most liquidations.

Each trader enters on a momentum or contrarian signal, at a heavy-tailed leverage capped by the venue, and
leaves by a stop-loss or a take-profit (MECHANICS "Calm-market realism": BitMEX longs at 22-39x effective
leverage, 80% at or below 54x). The rules are pure functions here; the agent that uses them comes with the
model of issue "Agents and the model".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from venues.orderbook import BUY, SELL


@dataclass
class DirectionalParams:
    """The directional population's parameters."""

    capital_median_usd: float = 5_000.0
    """Median account capital, USD (lognormal)."""
    capital_sigma: float = 1.0
    """Log-standard deviation of capital."""
    leverage_min: float = 2.0
    """Smallest leverage drawn."""
    leverage_tail: float = 1.5
    """Pareto tail index of leverage (smaller: more high-leverage traders)."""
    momentum_share: float = 0.6
    """Share of traders following momentum; the rest are contrarian."""
    signal_minutes: int = 60
    """Look-back of the signal, minutes."""
    stop_loss_pct: float = 5.0
    """Exit when the price moves this far against the position, percent (before liquidation at high leverage)."""
    take_profit_pct: float = 5.0
    """Exit when the price moves this far in favour, percent."""
    mean_wait_minutes: float = 240.0
    """Mean time between a trader's decisions, minutes (exponential)."""


def draw_leverage(rng: np.random.Generator, n: int, p: DirectionalParams, cap: float) -> np.ndarray:
    """Heavy-tailed leverage: Pareto from leverage_min with tail index leverage_tail, capped at `cap`."""
    lev = p.leverage_min * (1.0 + rng.pareto(p.leverage_tail, n))
    return np.minimum(lev, cap)


def signal_side(prices: np.ndarray, momentum: bool) -> int:
    """BUY or SELL from the return over the look-back window (0 when flat or too short)."""
    x = np.asarray(prices, dtype=float)
    if x.size < 2 or not (x[0] > 0) or x[-1] == x[0]:
        return 0
    up = x[-1] > x[0]
    if momentum:
        return BUY if up else SELL
    return SELL if up else BUY


def order_lots(capital_usd: float, leverage: float, price: float, lot_size: float) -> int:
    """Lots for a position of capital x leverage notional at price (0 if less than one lot)."""
    if not (price > 0 and capital_usd > 0 and leverage > 0):
        return 0
    return int(math.floor(capital_usd * leverage / (price * lot_size)))


def exit_prices(entry: float, side: int, p: DirectionalParams) -> tuple[float, float]:
    """(stop-loss, take-profit) trigger prices of a position opened at `entry` on `side`."""
    sl, tp = p.stop_loss_pct / 100.0, p.take_profit_pct / 100.0
    if side == BUY:
        return entry * (1.0 - sl), entry * (1.0 + tp)
    return entry * (1.0 + sl), entry * (1.0 - tp)
