"""The default scenario's wall_s in two checkouts, run alternately in fresh interpreters (this machine drifts up
to 2x within minutes, so only a ratio measured in one interleaved run means anything).

usage: python bench/interleaved.py OLD_REPO NEW_REPO [--runs 3] [overrides...]
Prints each run's wall_s and whole-process time, their medians and ratios NEW / OLD, and the median of the pairs'
own wall_s ratios (15 pairs or more give a usable figure on this VM; 5-7 often do not). Each checkout runs with its own code (its
directory first on sys.path) and this interpreter's packages.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(repo: Path, overrides: list[str]) -> tuple[float, float]:
    """(wall_s, the whole process's seconds: interpreter, imports, run and files) of one fresh run."""
    out = Path(tempfile.mkdtemp(prefix="bench-"))
    cmd = [sys.executable, "run.py", "dashboard=false", "progress=false", f"hydra.run.dir={out}", *overrides]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=repo, check=True, capture_output=True)
    elapsed = time.perf_counter() - t0
    return float(json.loads((out / "metrics.json").read_text())["wall_s"]), elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    walls: dict[str, list[float]] = {"old": [], "new": []}
    procs: dict[str, list[float]] = {"old": [], "new": []}
    for i in range(a.runs):
        for name in (("old", "new") if i % 2 == 0 else ("new", "old")):
            w, p = one(Path(getattr(a, name)), a.overrides)
            walls[name].append(w)
            procs[name].append(p)
            print(f"run {i} {name}: wall_s {w:.2f}, process {p:.2f} s", flush=True)
    mo, mn = statistics.median(walls["old"]), statistics.median(walls["new"])
    po, pn = statistics.median(procs["old"]), statistics.median(procs["new"])
    pairs = statistics.median([n / o for o, n in zip(walls["old"], walls["new"])])
    print(f"median old {mo:.2f} s, new {mn:.2f} s, ratio new/old {mn / mo:.3f} (median of the pairs' own ratios "
          f"{pairs:.3f}); whole process old {po:.2f} s, new {pn:.2f} s, ratio {pn / po:.3f}")


if __name__ == "__main__":
    main()
