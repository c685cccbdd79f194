"""The paper's ADL haircut rules as a pure function (settled rule 3; Chitra, arXiv:2512.01112).

These split a PnL budget among winners; they do not close positions (the venue's ADL, settled rule 2e, closes
positions by size). Experiments use this to compare, on a run's own ADL events, what each rule would have taken.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LOW_LEVERAGE = 2.0
"""Effective leverage at or below which an account counts as low-leverage (settled rule 11: the share of ADL
borne by accounts at 2x or less)."""


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


RULES = ("queue", "pro_rata", "capped_pro_rata")


class AdlCounterfactuals:
    """What each haircut rule would have taken on a run's own ADL events (experiment venue_designs).

    `add` is called by the waterfall for each ADL of a negative-equity unit with: the deficit (the budget), the
    opposite-side accounts in the venue's ranking order, their PnL on that market and their effective leverage.
    Per rule it keeps the total taken, the part borne by accounts at 2x leverage or less (settled rule 11), and
    the largest single take. A budget larger than the winners' PnL is clipped to it (the rest is counted as
    `uncovered_usd`)."""

    def __init__(self, cap_pct: float = 50.0):
        self.cap = cap_pct / 100.0
        self.n_events = 0
        self.budget_usd = 0.0
        self.uncovered_usd = 0.0
        self.taken = dict.fromkeys(RULES, 0.0)
        self.low_leverage = dict.fromkeys(RULES, 0.0)
        self.largest = dict.fromkeys(RULES, 0.0)
        self.largest_winner = dict.fromkeys(RULES, 0.0)   # summed over events: what the event's largest winner gave

    def add(self, deficit: float, pnl: np.ndarray, leverage: np.ndarray) -> None:
        w = np.maximum(np.asarray(pnl, dtype=float), 0.0)
        lev = np.asarray(leverage, dtype=float)
        if not deficit > 0:
            return
        self.n_events += 1
        self.budget_usd += deficit
        caps = np.full(w.size, self.cap)
        budget = min(deficit, float(w.sum()), float((w * caps).sum()))
        self.uncovered_usd += deficit - budget
        if budget <= 0:
            return
        low = lev <= LOW_LEVERAGE
        for rule in RULES:
            take = adl_haircut(w, budget, rule, order=np.arange(w.size) if rule == "queue" else None,
                               caps=caps if rule == "capped_pro_rata" else None)
            self.taken[rule] += float(take.sum())
            self.low_leverage[rule] += float(take[low].sum())
            self.largest[rule] = max(self.largest[rule], float(take.max(initial=0.0)))
            self.largest_winner[rule] += float(take[int(np.argmax(w))])

    def summary(self) -> dict:
        out = {"n_events": self.n_events, "budget_usd": self.budget_usd, "uncovered_usd": self.uncovered_usd,
               "cap_pct": 100.0 * self.cap}
        for rule in RULES:
            t = self.taken[rule]
            out[rule] = {"taken_usd": t, "largest_take_usd": self.largest[rule],
                         "largest_winner_usd": self.largest_winner[rule],
                         # what each event's largest winner gave beyond what pro-rata would have taken from it
                         "largest_winner_extra_usd": self.largest_winner[rule] - self.largest_winner["pro_rata"],
                         "low_leverage_share": self.low_leverage[rule] / t if t > 0 else 0.0}
        return out
