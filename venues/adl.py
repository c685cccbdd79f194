"""The paper's ADL haircut rules as a pure function (settled rule 3; Chitra, arXiv:2512.01112).

These split a PnL budget among winners; they do not close positions (the venue's ADL, settled rule 2e, closes
positions by size). Experiments use this to compare, on a run's own ADL events, what each rule would have taken.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def adl_haircut(pnl: Sequence[float], budget: float, rule: str, order: Sequence[int] | None = None,
                caps: Sequence[float] | None = None) -> np.ndarray:
    """Each account's haircut (USD) when `budget` is taken from winners' positive PnL.

    pnl: each account's PnL; only the positive part w_i = max(pnl_i, 0) is haircuttable (principal protected).
    rule: `queue` (close winners fully in `order`, default largest w first, until the budget is met),
    `pro_rata` (one uniform share h = budget / sum w), or `capped_pro_rata` (h_i = min(eta, caps_i), eta by
    water-filling so that sum w_i min(eta, caps_i) = budget; caps default 1).
    Raises ValueError for a negative budget or one the rule cannot meet.
    """
    w = np.maximum(np.asarray(pnl, dtype=float), 0.0)
    budget = float(budget)
    if budget < 0 or not np.isfinite(budget):
        raise ValueError(f"budget must be a finite amount >= 0, got {budget!r}")
    total = w.sum()
    if rule == "queue":
        if budget > total * (1 + 1e-12):
            raise ValueError(f"budget {budget:g} exceeds the winners' total {total:g}")
        idx = np.argsort(-w, kind="stable") if order is None else np.asarray(order, dtype=int)
        out = np.zeros_like(w)
        left = budget
        for i in idx:
            if left <= 0:
                break
            take = min(w[i], left)
            out[i] = take
            left -= take
        return out
    if rule == "pro_rata":
        if budget > total * (1 + 1e-12):
            raise ValueError(f"budget {budget:g} exceeds the winners' total {total:g}")
        return w * (budget / total) if total > 0 else np.zeros_like(w)
    if rule == "capped_pro_rata":
        beta = np.ones_like(w) if caps is None else np.clip(np.asarray(caps, dtype=float), 0.0, 1.0)
        room = float((w * beta).sum())
        if budget > room * (1 + 1e-12):
            raise ValueError(f"budget {budget:g} is infeasible: the caps allow at most {room:g}")
        if budget == 0 or room == 0:
            return np.zeros_like(w)
        # water-filling: f(eta) = sum w_i min(eta, beta_i), piecewise linear and increasing in eta
        order_b = np.argsort(beta, kind="stable")
        b_sorted, w_sorted = beta[order_b], w[order_b]
        below = 0.0                       # sum of w_i beta_i over accounts already capped
        above = float(w_sorted.sum())     # sum of w_i over accounts not yet capped
        eta = b_sorted[-1]
        for j in range(len(b_sorted)):
            if above > 0 and below + b_sorted[j] * above >= budget:
                eta = (budget - below) / above
                break
            below += w_sorted[j] * b_sorted[j]
            above -= w_sorted[j]
        return w * np.minimum(eta, beta)
    raise ValueError(f"rule: expected one of queue, pro_rata, capped_pro_rata, got {rule!r}")
