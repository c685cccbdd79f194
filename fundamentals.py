"""The world's exogenous part: each asset's fundamental price path and the oct10 shock script.

Randomness (settled rule 10): one master seed; each consumer (the fundamental, each population draw, each
agent's decisions) draws from its own generator, spawned from the master seed by a fixed key (`stream`, in
agents/base.py and re-exported here), so changing one part of a config shifts no one else's draws and paired
runs stay paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from agents.base import stream

if TYPE_CHECKING:
    from model import ModelConfig

__all__ = ["ShockScript", "fundamental_paths", "shock_start", "stream"]


@dataclass
class ShockScript:
    """The exogenous part of a crash (scenario oct10): only the fundamentals move; everything else emerges."""

    start_minute: int = 180
    """Minute the shock begins (after the warm-up of settled rule 9)."""
    fall_minutes: int = 45
    """Minutes from the start to the low ("12% in 45 minutes", MECHANICS event figures)."""
    depth_pct: dict[str, float] | None = None
    """Fall of each asset's fundamental from its pre-shock level to the low, percent (BTC 14, ALT 35)."""
    recovery_pct: float = 50.0
    """Share of the fall recovered by the end of the recovery, percent (BTC back to 112-115k from 105k)."""
    recovery_minutes: int = 600
    """Minutes from the low to the end of the recovery."""

    def path(self, asset: str, steps: int) -> np.ndarray:
        """Multiplicative overlay (1 before the shock) on the asset's fundamental, per step."""
        depth = (self.depth_pct or {"BTC": 14.0, "ALT": 35.0}).get(asset, 0.0) / 100.0
        t = np.arange(steps, dtype=float)
        low = 1.0 - depth
        out = np.ones(steps)
        fall = (t >= self.start_minute) & (t < self.start_minute + self.fall_minutes)
        # a convex fall: slow at first, fastest near the low (the cascade's own part is not scripted)
        x = (t[fall] - self.start_minute) / self.fall_minutes
        out[fall] = 1.0 - depth * x**2
        after = t >= self.start_minute + self.fall_minutes
        y = np.minimum(1.0, (t[after] - self.start_minute - self.fall_minutes) / max(1, self.recovery_minutes))
        out[after] = low + depth * (self.recovery_pct / 100.0) * (1.0 - (1.0 - y) ** 2)
        return out


def fundamental_paths(seed: int, steps: int, initial: dict[str, float], vol_daily: dict[str, float],
                      correlation: float, tail_df: float, shock: ShockScript | None) -> dict[str, np.ndarray]:
    """Per-minute fundamental prices of each asset: correlated log returns with Student-t tails
    (`tail_df`; inf is Gaussian, settled rule 4), scaled to `vol_daily`, times the shock overlay."""
    assets = list(initial)
    rng = stream(seed, "fundamental")
    n = len(assets)
    if abs(correlation) < 1.0:
        cov = np.full((n, n), correlation) + (1.0 - correlation) * np.eye(n)
        chol = np.linalg.cholesky(cov)
    elif correlation == 1.0 or (correlation == -1.0 and n == 2):
        # |rho| = 1: the covariance is singular and has no Cholesky factor; its rank-one factor makes every
        # other asset's shock the first one's times rho (the same draws are consumed as for |rho| < 1)
        chol = np.zeros((n, n))
        chol[:, 0] = correlation
        chol[0, 0] = 1.0
    else:
        raise ValueError(f"market.correlation: expected a number in [-1, 1] (-1 only with two assets), "
                         f"got {correlation!r}")
    z = rng.standard_normal((steps, n))
    if math.isfinite(tail_df):
        # Student-t with unit variance: normal / sqrt(chi2 / df), rescaled by sqrt((df - 2) / df)
        if tail_df <= 2:
            raise ValueError(f"shock_tail_df: expected a number > 2 or inf, got {tail_df!r}")
        w = np.sqrt(rng.chisquare(tail_df, (steps, 1)) / tail_df)
        z = z / w * math.sqrt((tail_df - 2.0) / tail_df)
    eps = z @ chol.T
    out = {}
    for j, a in enumerate(assets):
        sigma = vol_daily[a] / math.sqrt(1440.0)
        log_ret = sigma * eps[:, j] - 0.5 * sigma**2
        log_ret[0] = 0.0
        path = initial[a] * np.exp(np.cumsum(log_ret))
        if shock is not None:
            path = path * shock.path(a, steps)
        out[a] = path
    return out


def shock_start(cfg: ModelConfig) -> int:
    """The minute the shock starts (oct10); in a calm run, the end of the warm-up."""
    return cfg.shock.start_minute if cfg.scenario == "oct10" and cfg.shock is not None else cfg.warmup_minutes
