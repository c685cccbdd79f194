"""A sweep's folder: its manifest (sweep.json, this sweep's jobs), its summary table (summary.parquet and
summary.csv: one row per job, its overrides as columns and its metrics flattened with dotted names; `aggregate`)
and its lock (one live sweep per folder). run.py's Hydra callback drives them; plot.py builds a missing summary
with `aggregate`.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from results import TEXT_METRICS, _atomic_write, _flatten, _one_line, _saved_config_hash, write_json
from venues.params import ConfigError

log = logging.getLogger("perp_cascades")


def _override_value(text: str):
    """An override's value as YAML reads it (numbers as numbers, null as None)."""
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


MANIFEST = "sweep.json"
"""The sweep's manifest at its root, written when a sweep starts: the jobs of this sweep (number and overrides)."""


def _sweep_jobs(config: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, in job-number order, as Hydra's basic sweeper will launch them; None when another
    sweeper decides the jobs, or the job folders are not named by job number."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    try:
        if not str(config.hydra.sweeper._target_).endswith("BasicSweeper"):
            return None
        if OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir") != "${hydra.job.num}":
            return None
        params = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(params, resolve=False) if params is not None else {}
        args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
        batches = BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)
        return [list(job) for batch in batches for job in batch]
    except Exception:  # noqa: BLE001  (e.g. a glob over a group: then the jobs are not known in advance)
        return None


def write_manifest(config: DictConfig) -> None:
    """sweep.json at the sweep's root: this sweep's jobs, so that its summary never counts the job folders of
    an earlier, larger sweep into the same folder."""
    root = Path(config.hydra.sweep.dir)
    root.mkdir(parents=True, exist_ok=True)
    jobs = _sweep_jobs(config)
    write_json(root / MANIFEST, {
        "format": 1, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "overrides": list(config.hydra.overrides.task), "n_jobs": None if jobs is None else len(jobs),
        "jobs": None if jobs is None else [{"job": str(i), "overrides": o} for i, o in enumerate(jobs)]})


def _read_manifest(root: Path) -> dict | None:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _job_overrides(job: Path) -> list[str] | None:
    import yaml
    try:
        items = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    return [str(x) for x in items] if isinstance(items, list) else None


def _job_row(job: Path, overrides: list[str] | None, planned: list[str] | None) -> dict:
    """One summary row: the job's overrides as columns and its metrics flattened, or a status saying why there
    are none: missing (no result of this sweep yet), stale (the result is of another config than the job's),
    unreadable."""
    row: dict = {"job": job.name}
    for item in overrides or []:
        key, _, val = str(item).partition("=")
        row[key.lstrip("+~")] = _override_value(val)
    if planned is not None and sorted(_job_overrides(job) or planned) != sorted(planned):
        return {**row, "status": "missing", "error": "the job folder holds a job of another sweep; this one has "
                "not started there"}
    mpath = job / "metrics.json"
    if not mpath.is_file() and (job.parent / ".failed" / f"{job.name}.json").is_file():
        mpath = job.parent / ".failed" / f"{job.name}.json"   # its folder could not hold its failure record
    try:
        metrics = json.loads(mpath.read_text())
    except FileNotFoundError:
        return {**row, "status": "missing", "error": "no metrics.json: the job has not finished"}
    except (OSError, ValueError) as e:
        return {**row, "status": "unreadable", "error": f"{type(e).__name__}: {_one_line(e)}"}
    if not isinstance(metrics, dict):
        return {**row, "status": "unreadable", "error": f"metrics.json holds a {type(metrics).__name__}, "
                "not a mapping"}
    saved, expected = metrics.get("config_hash"), _saved_config_hash(job)
    if saved is not None and expected is not None and saved != expected:
        return {**row, "status": "stale", "error": "metrics.json is the result of another config than the "
                "job's (config_hash differs)"}
    row.update(_flatten({k: v for k, v in metrics.items()
                         if k not in ("adl_counterfactuals", "config", "traceback")}))
    if isinstance(metrics.get("adl_counterfactuals"), dict):
        row.update(_flatten(metrics["adl_counterfactuals"], "adl_counterfactuals."))
    return row


def aggregate(sweep_dir: str | Path) -> pd.DataFrame:
    """summary.parquet and summary.csv at the sweep's root, written atomically; returned. One row per job of
    the sweep (the jobs its sweep.json lists; in a sweep folder without one, every job folder holding a
    metrics.json): its overrides as columns, the metrics flattened with dotted names (null -> NaN), status.
    Raises ConfigError (nothing written) when the folder is not a sweep."""
    root = Path(sweep_dir)
    manifest = _read_manifest(root)
    planned = manifest.get("jobs") if manifest else None
    if isinstance(planned, list):
        jobs = [(root / str(j["job"]), j.get("overrides"), j.get("overrides")) for j in planned]
    else:
        found = sorted((Path(p).parent for p in glob.glob(str(root / "*" / "metrics.json"))),
                       key=lambda d: (len(d.name), d.name))
        jobs = [(d, _job_overrides(d), None) for d in found]
        if manifest is None and not jobs:
            raise ConfigError(f"{root} is not a sweep folder: no {MANIFEST} and no <job>/metrics.json in it")
    df = pd.DataFrame([_job_row(job, ov, plan) for job, ov, plan in jobs])
    keys = {str(o).partition("=")[0].lstrip("+~") for _, ov, _ in jobs for o in ov or []}
    for col in df.columns:
        if df[col].dtype != object:
            continue
        values = df[col].dropna()
        kinds = {type(x) for x in values}
        if col not in keys and col.split(".")[0] not in TEXT_METRICS and \
                all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in values):
            df[col] = df[col].astype(float)   # a metric that is null (undefined) in some or all jobs: NaN
        elif len(kinds) > 1:   # mixed columns (an override that is a number in one job and text in another)
            df[col] = df[col].map(lambda x: x if x is None else str(x))
    _atomic_write(root / "summary.parquet", lambda p: df.to_parquet(p, index=False))
    _atomic_write(root / "summary.csv", lambda p: df.to_csv(p, index=False))
    return df


# ---------------------------------------------------------------------------------------------- the sweep's lock
SWEEP_LOCK = ".sweep.lock"
_sweep_locks: dict[str, int] = {}   # sweep folder -> its open lock file (not on the callback: jobs get copies)


def _forget_locks_in_child() -> None:
    """A forked child (the pool launcher's workers) closes its copies of the lock files: flock's lock lives while
    any copy is open, and a sweep's lock must end with the sweep's own process (its workers can outlive it by
    their grace period). Closing a copy does not release the parent's lock."""
    for fd in _sweep_locks.values():
        try:
            os.close(fd)
        except OSError:
            pass
    _sweep_locks.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_locks_in_child)


class SweepBusy(ConfigError):
    """Another live sweep holds the sweep folder's lock."""


def lock_sweep(root: str | Path) -> None:
    """Hold the sweep folder's lock (fcntl.flock on <root>/.sweep.lock) while this process runs a sweep in it;
    raise SweepBusy (one line) when another live process holds it. The kernel releases the lock when its holder
    ends, however it ends (SIGKILL included), so a dead sweep's lock never blocks. Once the lock is held,
    temporary files (`.*.tmp-<pid>`) that dead processes left in the folder and its job folders are removed."""
    import fcntl
    import socket
    root = Path(root)
    if str(root) in _sweep_locks:
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root / SWEEP_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise ConfigError(f"hydra.sweep.dir: cannot create {root}/{SWEEP_LOCK}: {_one_line(e)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = " ".join(os.pread(fd, 200, 0).decode(errors="replace").split())
        os.close(fd)
        raise SweepBusy(f"hydra.sweep.dir: {root} is in use by another sweep ({holder or 'starting'}); wait for "
                        "it to end or choose another folder") from None
    except OSError as e:   # a file system without locks (some network mounts): run unlocked, say so
        os.close(fd)
        log.warning("sweep folder %s not locked (%s): do not start a second sweep into it", root, _one_line(e))
        return
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
              .encode(), 0)
    _sweep_locks[str(root)] = fd
    for tmp in [*root.glob(".*.tmp-*"), *root.glob("*/.*.tmp-*")]:
        pid = tmp.name.rpartition(".tmp-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def unlock_sweep(root: str | Path) -> None:
    """Release the sweep folder's lock (the lock file stays: removing it would let two sweeps lock two files)."""
    fd = _sweep_locks.pop(str(Path(root)), None)
    if fd is not None:
        os.close(fd)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
