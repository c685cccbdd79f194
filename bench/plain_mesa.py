"""The plain-Mesa baseline (issue 13): the default scenario as a user would first write it. Every agent is
activated every step with `shuffle_do` and checks its own margin in Python (equity and tiered maintenance per
account, a Python loop over its positions), on top of the same venues, books and waterfall.

It is the same simulation plus that per-step, per-agent Python work (the checks' result is only counted, so the
run's results are those of the model itself): the ratio of its time to the model's is what calling every agent
every step and looping over positions in Python costs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mesa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import CascadeModel  # noqa: E402


def _accounts(agent) -> list[tuple[object, int]]:
    if hasattr(agent, "accounts"):                 # arbitrageurs: one per venue
        return [(agent.model.venues[n], a) for n, a in agent.accounts.items()]
    if hasattr(agent, "legs"):                     # farmers: one per leg
        return [(agent.model.venues[n], a) for n, a in agent.legs.items()]
    if hasattr(agent, "account"):                  # directional traders, makers
        return [(agent.venue, agent.account)]
    return []


def plain_tick(agent) -> None:
    """Activated every step: look at each own account's margin in plain Python."""
    model = agent.model
    for v, i in _accounts(agent):
        ch = v.ch
        eq = float(ch.bal[i, 0])
        mm = 0.0
        for k in range(v.M):
            q = float(ch.qty[i, k])
            if q == 0.0:
                continue
            mark = float(ch.mark[k])
            eq += q * (mark - float(ch.entry[i, k]))
            mm += ch.tiers[k].maintenance_scalar(abs(q) * mark)
        if mm > 0 and eq < mm:
            model.plain_alerts += 1


mesa.Agent.plain_tick = plain_tick


class PlainMesaModel(CascadeModel):
    """CascadeModel plus, every step, every agent activated in random order (Mesa's shuffle_do)."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.plain_alerts = 0

    def step(self) -> None:
        super().step()
        self.agents.shuffle_do("plain_tick")
