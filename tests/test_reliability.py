"""Fault-tolerant sweeps (issue "Reliability", first part): a job that raises records status failed with its
error and config while the others finish and the summary has every row; no half-written file is left; resume
re-runs only the jobs without a good result for the same config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FAST = ["population=small", "steps=6", "warmup_minutes=2", "dashboard=false", "hydra.launcher.n_jobs=2"]


def sweep(out: Path, *extra: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", *FAST, f"hydra.sweep.dir={out}", *extra],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_a_failing_job_is_recorded_and_the_others_survive(tmp_path):
    out = tmp_path / "sweep"
    r = sweep(out, "seed=0,1", "inject_failure_at_step=null,3")
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 4
    failed = df[df["status"] == "failed"]
    assert len(failed) == 2 and set(failed["inject_failure_at_step"]) == {3}
    assert (df[df["status"] == "ok"]["totals.conservation_error_rel"] < 1e-9).all()
    assert set(failed["error_type"]) == {"RuntimeError"}
    for job in failed["job"]:
        m = json.loads((out / job / "metrics.json").read_text())
        assert m["status"] == "failed" and "injected failure at step 3" in m["error"]
        assert m["config"]["inject_failure_at_step"] == 3 and m["config"]["seed"] in (0, 1)
    # nothing half-written anywhere: every file is complete or absent (temporary names never stay)
    assert not list(out.rglob(".*.tmp-*"))
    assert "FAILED" in r.stdout + r.stderr and "2 failed" in r.stdout + r.stderr


def test_resume_reruns_only_the_jobs_without_a_good_result(tmp_path):
    out = tmp_path / "sweep"
    sweep(out, "seed=0,1,2")
    before = {j: (out / j / "metrics.json").stat().st_mtime_ns for j in ("0", "1", "2")}
    (out / "1" / "metrics.json").unlink()                       # a job killed before it wrote its result
    m2 = json.loads((out / "2" / "metrics.json").read_text())
    (out / "2" / "metrics.json").write_text(json.dumps({**m2, "status": "failed"}))   # a job that failed
    r = sweep(out, "seed=0,1,2", "resume=true")
    assert (out / "0" / "metrics.json").stat().st_mtime_ns == before["0"]            # kept
    assert "job 0 kept" in r.stdout + r.stderr
    for j in ("1", "2"):
        assert json.loads((out / j / "metrics.json").read_text())["status"] == "ok"  # run again
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 3 and (df["status"] == "ok").all()
    # a changed config is not taken for the old result: steps=7 re-runs every job
    r = sweep(out, "seed=0,1,2", "resume=true", "steps=7")
    assert "kept" not in r.stdout + r.stderr
    assert set(pd.read_parquet(out / "summary.parquet")["steps"]) == {7}


def test_a_single_failing_run_exits_1_and_records_the_failure(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "population=small", "steps=6", "warmup_minutes=2",
                        "inject_failure_at_step=2", f"hydra.run.dir={out}"], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1 and "error: run failed: RuntimeError" in r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "failed" and not (out / "events.parquet").exists()
    assert not list(out.glob(".*.tmp-*"))
