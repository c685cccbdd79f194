"""The agents' own events: a heap of (time, sequence number, callable), in place of Mesa's event list for them.

Mesa 3.5's `schedule_event` makes an Event object, a weak reference to the callable and a heap entry ordered by
Python comparisons of Event objects: about 40 us an event, and a default day has over 100,000 of them. Here an
event is a tuple, so heap comparisons run in C. The order is Mesa's: by time, then by creation (Mesa breaks a tie
of time and priority by the event's creation number; every agent event has the default priority). The model's
own step stays a Mesa event: the events due before a step are run just before it (`AgendaModel._do_step`), with
`model.time` set to each event's time as Mesa sets it; an event at exactly a step's time runs after that step,
as Mesa's higher priority of the step has it.
"""

from __future__ import annotations

from heapq import heappop, heappush
from itertools import count
from typing import Callable


class Agenda:
    """Scheduled calls of the agents' methods, run in time order."""

    __slots__ = ("heap", "_seq")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = count()

    def push(self, time: float, fn: Callable[[], None]) -> None:
        heappush(self.heap, (time, next(self._seq), fn))

    def run_before(self, model, until: float) -> None:
        """Run every event due strictly before `until` (including those the events themselves schedule), each
        with model.time at its own time; model.time is `until` afterwards."""
        heap = self.heap
        while heap and heap[0][0] < until:
            time, _, fn = heappop(heap)
            model.time = time
            fn()
        model.time = until

    def __len__(self) -> int:
        return len(self.heap)


class AgendaModel:
    """A mixin for a mesa.Model (`class M(AgendaModel, mesa.Model)`): `schedule_event` puts the event on the
    model's agenda instead of Mesa's event list; each step first runs the events due before it."""

    agenda: Agenda

    def schedule_event(self, function: Callable[[], None], *, at: float | None = None, after: float | None = None,
                       priority=None) -> None:
        """An agent's one-off event (Mesa's signature; every event has the default priority): run in Mesa's order
        (time, then creation) before the next step. Returns None (nothing here cancels an event)."""
        if (at is None) == (after is None):
            raise ValueError("Specify exactly one of 'at' or 'after'")
        time = at if at is not None else self.time + after
        if time < self.time:
            raise ValueError(f"Cannot schedule event in the past: {time} < {self.time}")
        if "agenda" not in self.__dict__:
            self.agenda = Agenda()
        self.agenda.push(time, function)

    def _do_step(self) -> None:
        # Mesa's step event at integer time t: first the agents' events due before t (model.steps still t - 1)
        if "agenda" in self.__dict__:
            self.agenda.run_before(self, self.time)
        super()._do_step()
