"""Sweeps that survive their faults, and a locked sweep folder (issue 20, items 2 and 4).

The reproductions: a second sweep into a running sweep's folder mixed its files with the first's (no lock); a
killed worker, an unwritable job folder, a failed rename or a full disk ended the whole sweep with a traceback
(the job beside it lost, the queued jobs never run, no summary, no failure record, temporary files left); and
the workers outlived a killed sweep. Here: the folder is locked (flock, released by the kernel when its holder
dies), every failure is recorded and the sweep goes on to its summary, and workers end with their parent."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
FAST = ["population=small", "warmup_minutes=2", "dashboard=false"]

pytestmark = pytest.mark.slow   # every test here runs sweeps in subprocesses
linux_only = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc to find the workers")


def _cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "-m", *FAST, f"hydra.sweep.dir={out}", *extra]


def _sweep(out: Path, *extra: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(_cmd(out, *extra), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def _start(out: Path, *extra: str, log: Path) -> subprocess.Popen:
    f = open(log, "w")
    return subprocess.Popen(_cmd(out, *extra), cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)


def _metrics(job: Path) -> dict:
    return json.loads((job / "metrics.json").read_text())


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _children(pid: int) -> set[int]:
    kids = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int(p.joinpath("stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    kids.add(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def _holder_of(path: Path, pids: set[int]) -> int | None:
    """The process among `pids` that has `path` open (the worker running a job holds its run.log)."""
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == str(path):
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


def _wait_for(cond, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _temporaries(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if ".tmp-" in p.name]


# ---------------------------------------------------------------------------------------------- the lock
def test_a_locked_sweep_folder_refuses_a_second_sweep_in_one_line_and_writes_nothing(tmp_path):
    """Reproduction 2, the rule itself: while another process holds the folder's lock, a sweep into it exits 2
    with one line and leaves the folder as it was; once the lock is released, the same command runs."""
    out = tmp_path / "sweep"
    out.mkdir()
    fd = os.open(out / ".sweep.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.write(fd, b"pid 4242 on elsewhere since 12:00\n")
    try:
        r = _sweep(out, "steps=6", "seed=0,1", "hydra.launcher.n_jobs=2")
        assert r.returncode == 2, r.stderr[-2000:]
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: hydra.sweep.dir: ") and \
            "in use by another sweep (pid 4242 on elsewhere since 12:00)" in lines[0], r.stderr
        assert sorted(p.name for p in out.iterdir()) == [".sweep.lock"]
    finally:
        os.close(fd)   # the holder ends: the kernel releases its lock
    r = _sweep(out, "steps=6", "seed=0,1", "hydra.launcher.n_jobs=2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(pd.read_parquet(out / "summary.parquet")) == 2


@linux_only
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_second_sweep_is_refused_while_one_runs_and_a_stopped_sweeps_workers_end_with_it(tmp_path, sig):
    """Reproductions 2 and 4 (the workers outlived their parent): sweep A runs; sweep B into the same folder is
    refused and A's files are untouched; A's parent is killed (SIGKILL) or stopped (SIGTERM): its workers end
    within seconds, write nothing more, leave no temporary file, and the folder's lock is free again (a dead
    sweep's lock does not block: the next sweep into it runs)."""
    out = tmp_path / "sweep"
    # jobs far longer than the test (they are stopped): at 4,000 steps (about 6 s a job) a job could end while the
    # refused sweep B started on the busy machine, before A was stopped
    a = _start(out, "steps=40000", "seed=0,1,2", "hydra.launcher.n_jobs=2", log=tmp_path / "a.log")
    try:
        workers = _wait_for(lambda: len(_children(a.pid)) >= 2 and all(
            _holder_of(out / j / "run.log", _children(a.pid)) for j in ("0", "1")) and _children(a.pid),
            240, "both workers running a job")
        before = {n: (out / n).read_bytes() for n in ("multirun.yaml", "sweep.json") if (out / n).exists()}
        b = _sweep(out, "steps=7", "seed=5,6", "hydra.launcher.n_jobs=2", timeout=120)
        assert b.returncode == 2 and len(b.stderr.strip().splitlines()) == 1, b.stderr[-2000:]
        assert b.stderr.startswith(f"error: hydra.sweep.dir: {out} is in use by another sweep (pid {a.pid} ")
        assert {n: (out / n).read_bytes() for n in before} == before
        assert not (out / "2").exists() and not list(out.glob("*/metrics.json"))
        time.sleep(1.0)
        stopped = time.time()
        a.send_signal(sig)
        a.wait(timeout=60)
        _wait_for(lambda: not any(_alive(p) for p in workers), 20, f"the workers to end after {sig.name}")
        assert time.time() - stopped < 20
    finally:
        if a.poll() is None:
            a.kill()
            a.wait()
    time.sleep(2.0)   # nothing is written after the workers ended
    assert not _temporaries(out), _temporaries(out)
    assert not (out / "2" / "config.yaml").exists()   # the queued job never started
    if sig == signal.SIGTERM:
        assert a.returncode == 128 + signal.SIGTERM
        for j in ("0", "1"):   # the jobs in flight are recorded as stopped
            m = _metrics(out / j)
            assert m["status"] == "failed" and m["error_type"] == "Interrupted" and "SIGTERM" in m["error"]
            assert m["config"]["steps"] == 40000
    else:
        assert a.returncode == -signal.SIGKILL
        assert not list(out.glob("*/metrics.json"))
    c = _sweep(out, "steps=6", "seed=0,1,2", "hydra.launcher.n_jobs=2", "resume=true")
    assert c.returncode == 0, c.stderr[-3000:]
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 3 and (df["status"] == "ok").all()


# ---------------------------------------------------------------------------------------------- faults
INJECT = '''
# Faults for the sweep's workers (not its parent): every rename into a job folder marked "rename" fails; every
# file opened for writing in a job folder marked "full" finds the disk full. Loaded by every process started with
# this folder on PYTHONPATH; the first (the sweep's parent) leaves its pid to its children.
import builtins, errno, io, json, os
os.environ.setdefault("FAULT_PARENT_PID", str(os.getpid()))
SWEEP = os.path.abspath(os.environ["FAULT_SWEEP"])
FAULTS = json.loads(os.environ["FAULTS"])


def _fault(path):
    if str(os.getpid()) == os.environ["FAULT_PARENT_PID"]:
        return None
    rel = os.path.relpath(os.path.abspath(os.fsdecode(path)), SWEEP)
    return FAULTS.get(rel.split(os.sep)[0])


_replace = os.replace


def replace(src, dst, *a, **k):
    if _fault(dst) == "rename":
        raise OSError(errno.EIO, "Input/output error (injected: the rename failed)")
    return _replace(src, dst, *a, **k)


_open = io.open


def fopen(file, mode="r", *a, **k):
    if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and _fault(file) == "full":
        raise OSError(errno.ENOSPC, "No space left on device", os.fsdecode(file))
    return _open(file, mode, *a, **k)


os.replace = replace
io.open = builtins.open = fopen
'''


def _faulty_env(tmp_path: Path, sweep: Path, faults: dict) -> dict:
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(INJECT)
    env = {k: v for k, v in os.environ.items() if k != "FAULT_PARENT_PID"}
    return {**env, "PYTHONPATH": os.pathsep.join([str(inject), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "FAULT_SWEEP": str(sweep), "FAULTS": json.dumps(faults)}


def test_an_unwritable_job_folder_a_failed_rename_and_a_full_disk_fail_only_their_job(tmp_path):
    """Reproduction 4 (faults other than a killed worker): job 1's folder cannot be created (a file is in its
    place), every rename into job 2's folder fails, every write into job 3's folder finds the disk full. Each
    of them is recorded as failed with its error and config (by the worker, or by the parent when the worker
    cannot; outside the job's folder when that cannot hold it), the other jobs finish, the sweep ends with
    status 0 and its summary, and no temporary file is left."""
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "1").write_text("not a folder\n")
    env = _faulty_env(tmp_path, out, {"2": "rename", "3": "full"})
    r = _sweep(out, "steps=6", "seed=0,1,2,3,4", "hydra.launcher.n_jobs=2", env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    log = r.stdout + r.stderr
    assert "Traceback" not in log, log[-3000:]
    for j in ("0", "4"):
        assert _metrics(out / j)["status"] == "ok"
    assert (out / "1").read_text() == "not a folder\n"   # left as it was
    rec = json.loads((out / ".failed" / "1.json").read_text())
    assert rec["status"] == "failed" and rec["error_type"] in ("FileExistsError", "NotADirectoryError")
    assert rec["config"]["seed"] == 1 and rec["job"] == "1" and "seed=1" in rec["overrides"].split()
    m2, m3 = _metrics(out / "2"), _metrics(out / "3")
    assert m2["status"] == "failed" and m2["error_type"] == "OSError" and "rename failed" in m2["error"]
    assert m3["status"] == "failed" and "No space left" in m3["error"]   # (its run.log first: logging's ValueError)
    assert m2["config"]["seed"] == 2 and m3["config"]["seed"] == 3
    assert log.count("FAILED") >= 3
    df = pd.read_parquet(out / "summary.parquet").set_index("job")
    assert len(df) == 5 and set(df.loc[["0", "4"], "status"]) == {"ok"}
    assert set(df.loc[["1", "2", "3"], "status"]) == {"failed"}
    assert df.loc["1", "error_type"] in ("FileExistsError", "NotADirectoryError")
    assert not _temporaries(out), _temporaries(out)
    # the fault gone, resume runs only the failed jobs and clears the record kept outside job 1's folder
    (out / "1").unlink()
    kept = {j: (out / j / "metrics.json").stat().st_mtime_ns for j in ("0", "4")}
    r = _sweep(out, "steps=6", "seed=0,1,2,3,4", "hydra.launcher.n_jobs=2", "resume=true")
    assert r.returncode == 0, r.stderr[-3000:]
    assert {j: (out / j / "metrics.json").stat().st_mtime_ns for j in ("0", "4")} == kept
    assert all(_metrics(out / j)["status"] == "ok" for j in "01234")
    assert not (out / ".failed" / "1.json").exists()


@linux_only
def test_a_worker_killed_mid_job_fails_only_its_job_and_resume_reruns_only_it(tmp_path):
    """The issue's "done when": a sweep with one worker SIGKILLed mid-job ends with every other job's result, a
    failed record for the killed one (written by the parent, with the job's config), a summary, and no worker
    left running; resume then re-runs only that job."""
    out = tmp_path / "sweep"
    args = ("steps=3000", "seed=0,1,2,3", "hydra.launcher.n_jobs=2")   # a job: about 4 s (1,500: 2 s; 300: 0.5 s)
    p = _start(out, *args, log=tmp_path / "sweep.log")
    seen: set[int] = set()
    try:
        def worker_of_job_1():
            kids = _children(p.pid)
            seen.update(kids)
            return _holder_of(out / "1" / "run.log", kids)
        victim = _wait_for(worker_of_job_1, 240, "a worker running job 1")
        time.sleep(0.5)
        assert not (out / "1" / "metrics.json").exists()   # mid-job
        os.kill(victim, signal.SIGKILL)
        while p.poll() is None:
            seen.update(_children(p.pid))
            time.sleep(0.2)
        assert p.wait(timeout=600) == 0, (tmp_path / "sweep.log").read_text()[-3000:]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert len(seen) >= 3   # two workers, and the one that replaced the killed one
    assert not any(_alive(pid) for pid in seen)
    m = _metrics(out / "1")
    assert m["status"] == "failed" and m["error_type"] == "WorkerDied" and "SIGKILL" in m["error"]
    assert m["config"]["seed"] == 1 and m["config"]["steps"] == 3000
    for j in ("0", "2", "3"):
        assert _metrics(out / j)["status"] == "ok"
    df = pd.read_parquet(out / "summary.parquet").set_index("job")
    assert len(df) == 4 and df.loc["1", "status"] == "failed" and (df.drop(index="1")["status"] == "ok").all()
    assert not _temporaries(out), _temporaries(out)
    kept = {j: (out / j / "metrics.json").stat().st_mtime_ns for j in ("0", "2", "3")}
    r = _sweep(out, *args, "resume=true")
    assert r.returncode == 0, r.stderr[-3000:]
    assert {j: (out / j / "metrics.json").stat().st_mtime_ns for j in ("0", "2", "3")} == kept
    assert _metrics(out / "1")["status"] == "ok"
    df = pd.read_parquet(out / "summary.parquet")
    assert len(df) == 4 and (df["status"] == "ok").all()


def test_a_bad_worker_count_is_refused_in_one_line(tmp_path):
    out = tmp_path / "sweep"
    r = _sweep(out, "steps=6", "seed=0", "hydra.launcher.n_jobs=0")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: hydra.launcher.n_jobs: expected an integer >= 1, or -1 (every core), -2 (all but one), ..., got 0"]
    assert not list(out.glob("*/config.yaml"))
