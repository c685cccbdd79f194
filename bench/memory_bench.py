"""Memory over a long run: peak RSS and live Python objects after 1, ~3, ~5 and 7 simulated days, in one process
(events spilled to a sink that drops them, as run.py spills them to Parquet).

Run: .venv/bin/python bench/memory_bench.py [directional] [farmers]   (defaults 2000 and 200; about 3 minutes)
The default world (conf/, as python run.py builds it) with its directional traders and farmers set.
"""

from __future__ import annotations

import gc
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model import CascadeModel  # noqa: E402
from run import build_model  # noqa: E402


def main() -> None:
    n_dir = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    n_farm = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    m: CascadeModel = build_model(["seed=1", "steps=10080", f"population.directional.count={n_dir}",
                                   f"population.farmers.count={n_farm}"])
    for v in m.venues.values():
        v.events.sink = lambda cols: None
    done = 0
    print(f"memory bench | {n_dir} directional, {n_farm} farmers, 10,080 one-minute steps")
    for upto in (1440, 4000, 7000, 10_080):
        m.run_for(upto - done)
        done = upto
        gc.collect()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"minute {upto:>6}: peak RSS {rss:7.1f} MB, live Python objects {len(gc.get_objects()):,}")


if __name__ == "__main__":
    main()
