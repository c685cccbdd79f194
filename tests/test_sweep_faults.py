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
