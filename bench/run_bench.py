"""perp-cascades benchmark (issue 13): prints a table with the date, machine and versions.

Run: make bench   (or .venv/bin/python bench/run_bench.py [--quick])
Sections: the default scenario (wall_s and whole process, median of 5); scaling per agent-step at 1,000, 10,000
and 100,000 agents and peak memory at 100,000; clearing (detection and one waterfall round) next to the numpy
floor and the reference engine; the plain-Mesa baseline; a 16-run sweep on the pool launcher (2 workers)
against the basic one, in interleaved pairs; invariant checks on against off. --quick shortens every section (a
smoke run, not the figures).
Not part of the test suite: it takes about 10 minutes in full.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

from model import CascadeModel, ModelConfig  # noqa: E402

PY = sys.executable
ROWS: list[tuple[str, str, str]] = []


def row(what: str, figure: str, target: str = "") -> None:
    ROWS.append((what, figure, target))
    print(f"  {what}: {figure}" + (f"   [target {target}]" if target else ""), flush=True)


def model_cfg(n_agents: int, steps: int, check: bool = True, seed: int = 0) -> ModelConfig:
    """The default world, as `python run.py` builds it (conf/ composed and validated), with its directional
    traders and farmers (9:1, the default's ratio) scaled so that the whole population is n_agents; makers,
    arbitrageurs, limit-order and value traders as configured (81 in all)."""
    from run import compose_config, model_config
    base = model_config(compose_config([f"steps={steps}", f"seed={seed}", f"check_invariants={str(check).lower()}"]))
    rest = max(0, n_agents - fixed_agents(base))
    return dataclasses.replace(base, n_directional=rest * 9 // 10, n_farmers=rest - rest * 9 // 10)


def fixed_agents(cfg: ModelConfig) -> int:
    """The agents whose number does not scale: makers, arbitrageurs, limit-order and value traders."""
    markets = 2 * len(cfg.venues)
    return cfg.n_market_makers + cfg.n_arbitrageurs + markets * (cfg.liquidity.per_market + cfg.value.per_market)


DEFAULT_AGENTS = 10_081   # the default world: 9,000 directional, 1,000 farmers, 9 makers, 6 arbitrageurs, 48 + 18


def time_model(cfg: ModelConfig, cls=CascadeModel) -> float:
    t0 = time.perf_counter()
    m = cls(cfg)
    m.run_for(cfg.steps)
    return time.perf_counter() - t0


def child(code: str) -> dict:
    """Run `code` in a fresh interpreter; it prints one JSON line; returns it with the child's peak RSS."""
    r = subprocess.run([PY, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    out = json.loads(r.stdout.strip().splitlines()[-1])
    return out


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {bench!r})
from run_bench import model_cfg, time_model
cfg = model_cfg({n}, {steps}, check={check})
s = time_model(cfg)
print(json.dumps({{"seconds": s, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "agents": {n}}}))
"""


def default_scenario(runs: int, steps: int) -> None:
    print(f"default scenario ({steps} steps, {DEFAULT_AGENTS:,} agents), median of {runs}:", flush=True)
    walls, procs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(runs):
            out = Path(tmp) / str(k)
            t0 = time.perf_counter()
            subprocess.run([PY, "run.py", f"hydra.run.dir={out}", "dashboard=false", "progress=false",
                            f"steps={steps}"], cwd=ROOT, check=True, capture_output=True)
            procs.append(time.perf_counter() - t0)
            walls.append(json.loads((out / "metrics.json").read_text())["wall_s"])
    row("default scenario: wall_s (model build to last step)", f"{statistics.median(walls):.1f} s "
        f"(runs {', '.join(f'{w:.1f}' for w in walls)})", "<= 5 s")
    row("default scenario: whole process (python run.py, imports and files)",
        f"{statistics.median(procs):.1f} s")


def scaling(steps: int, sizes: list[int]) -> None:
    print(f"scaling ({steps} steps):", flush=True)
    per = {}
    for n in sizes:
        r = child(CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), n=n, steps=steps, check=True))
        per[n] = r["seconds"] / (n * steps) * 1e6
        row(f"time per agent-step at {n:,} agents", f"{per[n]:.2f} us ({r['seconds']:.1f} s in all), "
            f"peak RSS {r['peak_mb']:.0f} MB", "< 2 GB at 100,000" if n == max(sizes) else "")
    if len(sizes) >= 2:
        a, b = sorted(sizes)[-2:]
        row(f"per agent-step {b:,} / {a:,}", f"{per[b] / per[a]:.2f}x", "<= 1.5x")


def clearing(quick: bool) -> None:
    print("clearing:", flush=True)
    import detection_bench as db
    import waterfall_bench as wb
    for accounts in ((1_000,) if quick else (1_000, 100_000)):
        db.N_ACCOUNTS = accounts
        ch = db.build()
        t_scan, t_floor, ratio, ratios = db.interleaved(ch)
        row(f"mark + detection over {accounts * db.N_MARKETS:,} positions",
            f"{t_scan:.2f} ms; numpy floor {t_floor:.2f} ms; {ratio:.2f}x (median of {len(ratios)} interleaved "
            f"pairs' ratios, {min(ratios):.2f}-{max(ratios):.2f})", "<= 1.3x floor at 1,000,000")
    import re
    for accounts in ((10_000,) if quick else (10_000, 100_000)):
        # in a fresh interpreter: the detection arrays above would otherwise sit in this process's memory
        r = subprocess.run([PY, "bench/waterfall_bench.py", str(accounts)], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout
        ms = float(re.search(r"one round: ([0-9.]+) ms", r).group(1))
        n = re.search(r"liquidatable at the round: ([0-9,]+)", r).group(1)
        ratio = re.search(r"ratio reference / vectorized: ([0-9]+)x median of 3 interleaved pairs \(([^)]*)\)", r)
        row(f"one waterfall round over {accounts:,} positions ({n} liquidatable)",
            f"{ms:.1f} ms; reference engine {ratio.group(1)}x slower (pairs {ratio.group(2)})", ">= 20x")


def baseline(steps: int, pairs: int) -> None:
    """This model and the plain-Mesa one on the same config, alternately (the machine's speed drifts within
    minutes): each pair's ratio and their median."""
    print(f"plain-Mesa baseline ({steps} steps, {DEFAULT_AGENTS:,} agents), {pairs} interleaved pairs:", flush=True)
    from plain_mesa import PlainMesaModel
    ours, plain = [], []
    for _ in range(pairs):
        ours.append(time_model(model_cfg(DEFAULT_AGENTS, steps)))
        plain.append(time_model(model_cfg(DEFAULT_AGENTS, steps), PlainMesaModel))
    ratios = [p / o for p, o in zip(plain, ours)]
    each = ", ".join(f"{p:.1f}/{o:.1f} s = {r:.1f}x" for p, o, r in zip(plain, ours, ratios))
    row(f"plain Mesa (shuffle_do every agent every step, margin per account in Python) vs this model, median of "
        f"{pairs} interleaved pairs", f"{statistics.median(ratios):.1f}x (pairs {each})", ">= 10x")


def sweep(jobs: int, steps: int, pairs: int) -> None:
    """The same sweep on the basic launcher (serial) and on the pool launcher (the default of `-m`) with 2
    workers, alternately (the machine's speed drifts, and on a shared machine so does its load): each pair's
    ratio and their median, with the load average before and after."""
    print(f"sweep of {jobs} runs ({steps} steps, population=small), {pairs} interleaved pairs:", flush=True)
    seeds = ",".join(str(s) for s in range(jobs))
    times: dict[str, list[float]] = {"basic": [], "pool": []}
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(pairs):
            for launcher in ("basic", "pool"):
                t0 = time.perf_counter()
                subprocess.run([PY, "run.py", "-m", f"hydra/launcher={launcher}", "population=small",
                                f"steps={steps}", "dashboard=false", f"seed={seeds}",
                                f"hydra.sweep.dir={tmp}/{launcher}-{k}"]
                               + (["hydra.launcher.n_jobs=2"] if launcher == "pool" else []),
                               cwd=ROOT, check=True, capture_output=True)
                times[launcher].append(time.perf_counter() - t0)
    load1 = os.getloadavg()
    ratios = [b / p for b, p in zip(times["basic"], times["pool"])]
    each = ", ".join(f"{b:.1f}/{p:.1f} s = {r:.2f}x" for b, p, r in zip(times["basic"], times["pool"], ratios))
    row(f"{jobs}-run sweep: basic (serial) vs pool on 2 workers, median of {pairs} interleaved pairs",
        f"{statistics.median(ratios):.2f}x (pairs {each}; load average {load0[0]:.2f} before, "
        f"{load1[0]:.2f} after)", ">= 1.7x")


def invariants(runs: int, steps: int) -> None:
    print(f"invariant checks ({steps} steps, default population, median of {runs}, each in a fresh interpreter):",
          flush=True)
    on, off = [], []
    # each run in a fresh interpreter (as the scaling rows): in this process, after the sections before it
    # (1,000,000-position arrays, the baseline's models), the runs measured the process's state as much as the
    # checks (+11.7% and +16.1% in two full runs, +4.5-4.9% alone; the checks' own share is 4.5%)
    for _ in range(runs):   # interleaved: the machine's speed drifts
        for check, out in ((True, on), (False, off)):
            out.append(child(CHILD.format(root=str(ROOT), bench=str(ROOT / "bench"), n=DEFAULT_AGENTS,
                                          steps=steps, check=check))["seconds"])
    a, b = statistics.median(on), statistics.median(off)
    pairs = statistics.median(x / y for x, y in zip(on, off))
    row("invariant checks on vs off", f"{a:.2f} s vs {b:.2f} s: {(a / b - 1) * 100:+.1f}% (median of the {runs} "
        f"pairs' own ratios {(pairs - 1) * 100:+.1f}%)", "<= 10%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short smoke run of every section")
    ap.add_argument("--only", nargs="*", help="sections: default scaling clearing baseline sweep invariants")
    a = ap.parse_args()
    q = a.quick
    import mesa
    ref = subprocess.run([PY, "-m", "timeit", "sum(range(10))"], capture_output=True, text=True).stdout.strip()
    print(f"perp-cascades bench | {time.strftime('%Y-%m-%d %H:%M')} | {platform.node()} | {platform.machine()} | "
          f"{os.cpu_count()} cores | python {platform.python_version()} | numpy {np.__version__} | "
          f"mesa {mesa.__version__} | machine speed: {ref}", flush=True)
    sections = a.only or ["default", "scaling", "clearing", "baseline", "sweep", "invariants"]
    t0 = time.perf_counter()
    if "default" in sections:
        default_scenario(1 if q else 5, 120 if q else 1440)
    if "scaling" in sections:
        scaling(60 if q else 1440, [1_000, 10_000] if q else [1_000, 10_000, 100_000])
    if "clearing" in sections:
        clearing(q)
    if "baseline" in sections:
        baseline(60 if q else 1440, 1 if q else 5)
    if "sweep" in sections:
        sweep(4 if q else 16, 60 if q else 240, 1 if q else 3)
    if "invariants" in sections:
        invariants(1 if q else 7, 60 if q else 1440)
    print(f"\n| measure | figure | target |\n|---|---|---|")
    for what, fig, target in ROWS:
        print(f"| {what} | {fig} | {target} |")
    print(f"\n(bench took {time.perf_counter() - t0:.0f} s; peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
