"""The model's agenda (agenda.py) runs the agents' events in Mesa's own order: a model that schedules through
Mesa's event list and the same model on the agenda make the same calls, at the same model.time and model.steps,
ties of time and events scheduled by events included."""

from __future__ import annotations

import mesa
import numpy as np

from agenda import AgendaModel


class Toy(mesa.Model):
    """Agents that act at random times (some on the same instant), each act scheduling the next one."""

    def __init__(self, seed: int):
        super().__init__(rng=seed)
        self.log: list[tuple] = []
        self.draw = np.random.default_rng(seed)   # the test's own seeded stream
        for k in range(30):
            self.schedule_event(self._actor(k), at=float(self.draw.choice([0.75, 1.5, 2.0, self.draw.uniform(0, 5)])))

    def _actor(self, k: int):
        def act() -> None:
            self.log.append(("act", k, self.time, self.steps))
            gap = float(self.draw.choice([1.0, 0.25, 0.5 + self.draw.exponential(1.0), 3.0]))
            self.schedule_event(act, after=gap)
        self._keep = getattr(self, "_keep", []) + [act]   # Mesa holds weak references: keep the callables alive
        return act

    def step(self) -> None:
        self.log.append(("step", self.time, self.steps))


class ToyOnAgenda(AgendaModel, Toy):
    pass


def test_agenda_runs_events_in_mesas_order():
    for seed in range(5):
        plain, ours = Toy(seed), ToyOnAgenda(seed)
        plain.run_for(20)
        ours.run_for(20)
        assert len(plain.log) > 200
        assert ours.log == plain.log
        assert ours.time == plain.time == 20
