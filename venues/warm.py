"""Compile the numba kernels once and write them to numba's cache (`python -m venues.warm`; `make venv` runs it).

A fresh clone has no cache: the first process that uses the compiled order book would compile every kernel (about a
minute of CPU), and the first test processes would all do it at once. This runs a small world for a few minutes, so
every kernel a run calls is compiled and cached; later processes load them (about a second).
"""

from __future__ import annotations

import logging
import time

import numpy as np


def main() -> None:
    t0 = time.perf_counter()
    import agents.maker_nb  # noqa: F401  (its kernels compile on import)
    import venues.batch_nb  # noqa: F401
    import venues.ladder_nb  # noqa: F401
    import venues.orders_nb  # noqa: F401
    from run import build_model
    logging.getLogger("MESA").setLevel(logging.WARNING)
    m = build_model(["population=small", "steps=20", "check_invariants=false"])
    m.run_for(20)
    for v in m.venues.values():   # the farmers' watch may not have run yet: its compiled pass too
        v.ch.account_margins_of(np.arange(min(2, v.ch.n), dtype=np.int64))
        v.check_invariants()      # the identity's compiled sums and the open interest (the warm run skips them)
        v.margin(0)
        v.withdrawable(0)
        # the fill kernels as the Python path calls them (the waterfall's fills; the warm run liquidates nobody),
        # last: they leave this throwaway model's books unbalanced
        v.ch.apply_fill(0, 0, 1, 1.0)
        v.ch.apply_fill(0, 0, -1, 1.0, release=False)
        v.ch.settle_maker(1, 0, 1, 1, 1.0, 0.0)
    from agents.streams_nb import Streams   # a member's single draws (a coin, a depeg's wait) may not come up
    one = Streams(np.zeros((1, 4), np.uint64)).of(0)
    one.random(), one.exponential(1.0)
    print(f"numba kernels compiled and cached in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
