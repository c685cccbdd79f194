"""The default scenario's wall_s in two checkouts, run alternately in fresh interpreters (this machine drifts up
to 2x within minutes, so only a ratio measured in one interleaved run means anything).

usage: python bench/interleaved.py OLD_REPO NEW_REPO [--runs 3] [overrides...]
Prints each run's wall_s, the medians and the ratio NEW / OLD. Each checkout runs with its own code (its
directory first on sys.path) and this interpreter's packages.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def one(repo: Path, overrides: list[str]) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-"))
    cmd = [sys.executable, "run.py", "dashboard=false", "progress=false", f"hydra.run.dir={out}", *overrides]
    subprocess.run(cmd, cwd=repo, check=True, capture_output=True)
    return float(json.loads((out / "metrics.json").read_text())["wall_s"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    walls: dict[str, list[float]] = {"old": [], "new": []}
    for i in range(a.runs):
        for name in (("old", "new") if i % 2 == 0 else ("new", "old")):
            w = one(Path(getattr(a, name)), a.overrides)
            walls[name].append(w)
            print(f"run {i} {name}: wall_s {w:.2f}", flush=True)
    mo, mn = statistics.median(walls["old"]), statistics.median(walls["new"])
    print(f"median old {mo:.2f} s, new {mn:.2f} s, ratio new/old {mn / mo:.3f}")


if __name__ == "__main__":
    main()
