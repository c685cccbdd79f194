"""Issue 24: the calibration (calibrate.py) and the stress search (stress.py). Bad input is refused in one line with
exit status 2 before anything is written; the search proposes the same points from scratch and after a resume; a
small calibration and a small stress search run end to end (slow), write their tables and figures, and the
calibration and the stress search resume after their process is killed outright mid-study."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import calibrate
import search
import stress
from search import Param, Stop
from worlds import LEAN

ROOT = Path(__file__).resolve().parents[1]
# a short world: the small population, a one-hour warm-up, the shock at minute 70 falling for 20 minutes
SHORT = ["population=small", *LEAN, "steps=120", "warmup_minutes=60", "shock.start_minute=70", "shock.fall_minutes=20"]


SLOW = pytest.mark.slow   # about a second each: the quick tier keeps the three the issue names


@pytest.mark.parametrize("tool,args,message", [
    (calibrate, ["param.population.directional.leverage_tail=4,2"],
     "error: param.population.directional.leverage_tail: expected [low, high], finite, with low < high, got [4, 2]"),
    (calibrate, ["targets=long_share_liquidated,oi_drop_eth"],
     "error: targets: unknown target 'oi_drop_eth'; did you mean oi_drop_btc? the targets are long_share_liquidated,"),
    (calibrate, ["param.population.directional.levrage_tail=1,2"],
     "error: param.population.directional.levrage_tail: not a number of the run's config; did you mean "
     "population.directional.leverage_tail?"),
    pytest.param(calibrate, ["param.population.directional.stop_share=0.5,1.5"],
                 "error: param.population.directional.stop_share: its high end 1.5 is refused: "
                 "population.directional.stop_share:", marks=SLOW),
    pytest.param(calibrate, ["param.market.outside_depth_usd.ALT=0,1e9,log"],
                 "error: param.market.outside_depth_usd.ALT: a log scale needs low > 0, got [0, 1000000000.0]",
                 marks=SLOW),
    pytest.param(calibrate, ["trails=3"], "error: trails: unknown key; did you mean trials?", marks=SLOW),
    pytest.param(calibrate, ["--", "seed=3"], "error: overrides: 'seed=3': the study sets each run's seed", marks=SLOW),
    pytest.param(stress, ["metric=totals.bad_dept_usd"], "error: metric: expected a numeric metric of metrics.json, "
                 "got 'totals.bad_dept_usd'; did you mean totals.bad_debt_usd", marks=SLOW),
    pytest.param(stress, ["designs=baseline,no_vault"], "error: designs: expected distinct options of venue_design",
                 marks=SLOW),
    pytest.param(stress, ["param.halt=choice:none,lighter"], "error: param.halt: expected options of the halt group",
                 marks=SLOW),
])
def test_bad_input_is_refused_in_one_line_before_anything_runs(tool, args, message, tmp_path, capsys):
    out = tmp_path / "study"
    with pytest.raises(SystemExit) as e:
        tool.main([f"out={out}", *args])
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert err.startswith(message), err
    assert err.count("\n") == 1
    assert not out.exists()


class FakePool:
    """Runs nothing: a run's metrics are a closed form of its overrides; raises Stop at the `stop_at`-th batch."""

    def __init__(self, stop_at: int | None = None):
        self.calls, self.stop_at = 0, stop_at

    def run(self, jobs):
        self.calls += 1
        if self.calls == self.stop_at:
            raise Stop(signal.SIGTERM)
        out = []
        for overrides, _, _ in jobs:
            v = {o.partition("=")[0]: o.partition("=")[2] for o in overrides}
            y = (float(v["x"]) - 0.3) ** 2 + int(v["n"]) / 10 + (v["c"] == "b") + int(v["seed"]) / 100
            out.append({"status": "ok", "metrics": {"y": y}})
        return out


PARAMS = [Param("x", "float", 0.0, 1.0), Param("n", "int", 1.0, 9.0), Param("c", "choice", choices=("a", "b"))]
SPEC = {"sampler_seed": 3, "startup_trials": 3, "batch": 2, "trials": 8, "seeds": 2}


def _search(folder: Path, pool: FakePool) -> list:
    study = search.open_study(folder, "toy", "minimize")
    search.run_trials(study, SPEC, PARAMS, pool, folder / "runs", [], lambda runs: (
        sum(r["y"] for r in runs) / len(runs), {}))
    return [(t.params, t.value) for t in search.complete_trials(study)]


@pytest.mark.slow
def test_a_study_is_the_same_from_scratch_and_after_a_stop_or_a_kill(tmp_path, capsys):
    first = _search(tmp_path / "a", FakePool())
    assert len(first) == 8 and first == _search(tmp_path / "b", FakePool())   # from scratch: identical
    with pytest.raises(Stop):                                   # stopped in its third batch: marked interrupted
        _search(tmp_path / "c", FakePool(stop_at=3))
    assert _search(tmp_path / "c", FakePool()) == first
    # killed outright in its second batch: its trials stay RUNNING in the file, and the next open fails them
    study = search.open_study(tmp_path / "d", "toy", "minimize")
    search.run_trials(study, {**SPEC, "trials": 2}, PARAMS, FakePool(), tmp_path / "d" / "runs", [],
                      lambda runs: (sum(r["y"] for r in runs) / len(runs), {}))
    study.sampler = search.sampler_for(SPEC, 2)
    for _ in range(2):
        t = study.ask()
        for p in PARAMS:
            p.suggest(t)
    assert _search(tmp_path / "d", FakePool()) == first
    reopened = search.open_study(tmp_path / "d", "toy", "minimize")
    failed = [t for t in reopened.get_trials() if t.state.name == "FAIL"]
    assert len(failed) == 2 and all(t.user_attrs["interrupted"] for t in failed)
    assert "trial 8/8" in capsys.readouterr().out
    imp, note = calibrate.importances(search.open_study(tmp_path / "a", "toy", "minimize"))   # PED-ANOVA
    assert set(imp) == {"x", "n", "c"} and sum(imp.values()) == pytest.approx(1.0) and "8 completed" in note


def _children(pid: int) -> set[int]:
    kids = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return kids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_a_small_calibration_runs_resumes_after_a_kill_and_writes_its_results(tmp_path):
    out = tmp_path / "cal"
    cmd = [sys.executable, str(ROOT / "calibrate.py"), "trials=3", "seeds=2", "reseeds=2", "workers=2",
           "startup_trials=2", f"out={out}", "--", *SHORT]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in p.stdout:            # killed (SIGKILL) once the first trial is told and the second one's runs began
        lines.append(line)
        if line.startswith("trial 1/3"):
            break
    deadline = time.monotonic() + 600   # generous: a loaded machine (a nice 19 run beside others) is slow
    while not (out / "runs" / "trial_0001" / "seed_0" / "config.yaml").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = _children(p.pid)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "".join(lines)
    deadline = time.monotonic() + 120
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and not any(_alive(w) for w in workers), "the workers outlived their killed parent"
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "trial 3/3" in r.stdout and "done:" in r.stdout
    trials = pd.read_csv(out / "trials.csv")
    assert (trials["state"] == "COMPLETE").sum() == 3
    assert (trials["error"] == "interrupted").sum() >= 1         # the trial the kill cut short: asked again
    for name in ("targets_table.csv", "targets_table.md", "targets_table.png", "targets_table.pdf", "params.csv",
                 "loss_vs_params.png", "loss_vs_params.csv", "summary.md", "conf/population/calibrated.yaml"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "targets_table.csv")
    assert len(table) == 14 and (table["n"] == 2).sum() >= 12   # funding an hour after the shock: past 120 min
    # every seed of every trial is a normal run folder bound to its config; the best point's re-runs come from
    # the written option (population=calibrated) and carry the best trial's config, seed aside
    best = trials.loc[trials["loss"].idxmin()]
    for run_dir in best["runs"].split():
        assert (out / run_dir / "metrics.json").is_file() and (out / run_dir / "config.yaml").is_file()
    assert sorted(p.name for p in (out / "best").iterdir()) == ["seed_1000", "seed_1001"]
    assert "population=calibrated" in (out / "best" / "seed_1000" / ".hydra" / "overrides.yaml").read_text()
    assert math.isfinite(best["loss"])


@pytest.mark.slow
def test_a_small_stress_search_resumes_after_a_kill_and_compares_the_worst_cases_of_designs(tmp_path):
    out = tmp_path / "stress"
    cmd = [sys.executable, str(ROOT / "stress.py"), "trials=2", "seeds=1", "reseeds=2", "top=1", "workers=1",
           "startup_trials=1", "designs=baseline,no_backstop", "metric=totals.liquidated_notional_usd",
           "param.halt=off", f"out={out}", "--", *SHORT[:-1]]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in p.stdout:            # killed (SIGKILL) once the first design's first trial is told
        lines.append(line)
        if line.startswith("[baseline] trial 1/2"):
            break
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL, "".join(lines)
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[baseline] trial 1/2" not in r.stdout, r.stdout   # the told trial is kept, not run again
    assert "[baseline] trial 2/2" in r.stdout and "[no_backstop] trial 2/2" in r.stdout and "done:" in r.stdout
    assert (pd.read_csv(out / "baseline" / "trials.csv")["state"] == "COMPLETE").sum() == 2
    worst = pd.read_csv(out / "worst_cases.csv")
    assert list(worst["design"]) == ["baseline", "no_backstop"] and (worst["n"] == 2).all()
    assert (worst["rerun_mean"] > 0).all() and "no_backstop minus own" in worst.columns
    cross = pd.read_csv(out / "cross_reruns.csv")
    assert len(cross) == 4 and (cross["pairs"] == 2).all()
    own = cross[cross["worst_of"].str.split("_t").str[0] == cross["design"]]
    assert (own["diff_vs_own"] == 0).all()
    for name in ("worst_cases.md", "worst_cases.png", "summary.md", "baseline/trials.csv",
                 "no_backstop/value_vs_params.png"):
        assert (out / name).is_file(), name
