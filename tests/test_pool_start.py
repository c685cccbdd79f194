"""The pool launcher's start-up (issue "Engine", item 5: sweeps that amortise start-up): a job whose overrides
differ from an already composed job's only in plain values is derived from that job's config, and must be the
config Hydra itself composes; workers forked from the sweep's process must not hold its folder's lock."""

from __future__ import annotations

import fcntl
import os
import signal
import time
import warnings

import cloudpickle
import pytest
from omegaconf import OmegaConf

import run
from sweeps import lock_sweep, unlock_sweep

# (overrides, derived from an earlier job of the list): the same keys in the same order, the same group choices
CASES = [
    (["population=small", "steps=240", "dashboard=False", "seed=0"], False),
    (["population=small", "steps=240", "dashboard=False", "seed=1"], True),
    (["population=small", "steps=60", "dashboard=True", "seed=null"], True),
    (["population=small", "steps=60", "dashboard=True", "seed='3'"], True),
    (["population=small", "steps=60", "dashboard=True", "seed=${steps}"], True),
    (["max_leverage=5", "seed=0"], False),
    (["max_leverage=20.5", "seed=1"], True),
    (["max_leverage=null", "seed=2"], True),
    (["scenario=calm", "market.correlation=0.5"], False),
    (["scenario=calm", "market.correlation=true"], True),
    (["scenario=oct10", "market.correlation=0.25"], False),      # another group choice: composed
    (["scenario=calm", "shock_tail_df=inf"], False),
    (["scenario=calm", "shock_tail_df=3"], True),
    (["scenario=calm", 'objective="a b"'], False),
    (["steps=5", "steps=6"], False),
    (["steps=7", "steps=8"], True),                              # the same key twice: the last one wins
    (["+foo=1"], False),                                         # an addition: always composed
    (["+foo=2"], False),
    (["market.vol_daily={BTC: 1}"], False),                      # a mapping: always composed
    (["market.vol_daily={BTC: 2}"], False),
    (["experiment=leverage_x_incentive", "seed=0"], False),
    (["experiment=leverage_x_incentive", "seed=1"], True),
]


@pytest.mark.slow
def test_a_job_derived_from_another_is_exactly_the_config_hydra_composes():
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from hydra_plugins.perp_cascades._pool import _KeepComposed
    with initialize_config_dir(config_dir=str(run.CONF_DIR), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "config", overrides=["hydra/launcher=pool", "hydra.sweep.dir=/nonexistent", "hydra.launcher.n_jobs=2",
                                 "population=small", "seed=0,1"], run_mode=RunMode.MULTIRUN)
        keep = _KeepComposed(loader)
        for overrides, derived in CASES:
            shape = keep._shape(master, overrides)
            assert (shape is not None and (id(master), shape[0]) in keep._bases) == derived, overrides
            got = keep.load_sweep_config(master, list(overrides))
            want = loader.load_sweep_config(master, list(overrides))
            assert OmegaConf.to_yaml(got) == OmegaConf.to_yaml(want), overrides
            assert cloudpickle.dumps(got) == cloudpickle.dumps(want), overrides   # flags, types, metadata too
            assert keep.take(master, [(0, overrides)])[0] == cloudpickle.dumps(want)


def test_a_forked_child_does_not_hold_the_sweep_folders_lock(tmp_path):
    """flock's lock lives while any copy of its file descriptor is open: a worker forked from the sweep closes
    its copy, so the lock ends with the sweep's own process (the next sweep into the folder is not refused
    while a stopped sweep's workers are still ending)."""
    lock_sweep(tmp_path)
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # (pytest's own threads)
        pid = os.fork()
    if pid == 0:   # the child: forked (its fork handlers have run), it says so and lives on
        os.write(w, b"x")
        time.sleep(30)
        os._exit(0)
    try:
        assert os.read(r, 1) == b"x"
        unlock_sweep(tmp_path)
        fd = os.open(tmp_path / ".sweep.lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # free, though the child lives
        finally:
            os.close(fd)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(r)
        os.close(w)


@pytest.mark.slow
def test_workers_spawned_because_a_thread_runs_give_the_forked_workers_results(tmp_path):
    """A worker is forked only while the sweep's process runs no other Python thread; with one running (here a
    sleeping thread started before the sweep) the workers are spawned, as before, and the results are the same."""
    import json
    import subprocess
    import sys
    from pathlib import Path
    root = Path(run.__file__).resolve().parent
    threaded = ("import sys, threading, time; threading.Thread(target=time.sleep, args=(3600,), daemon=True).start(); "
                "sys.argv = ['run.py'] + sys.argv[1:]; import run; run.cli()")
    args = ["-m", "population=small", "steps=30", "warmup_minutes=2", "dashboard=false", "seed=0,1",
            "hydra.launcher.n_jobs=2"]
    for name, cmd in (("forked", [sys.executable, "run.py"]), ("spawned", [sys.executable, "-c", threaded])):
        r = subprocess.run([*cmd, *args, f"hydra.sweep.dir={tmp_path / name}"], cwd=root, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        assert f"jobs on 2 workers (n_jobs=2, workers {name})" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
    for job in ("0", "1"):
        a, b = (json.loads((tmp_path / n / job / "metrics.json").read_text()) for n in ("forked", "spawned"))
        assert a["status"] == b["status"] == "ok"
        assert {**a, "wall_s": None} == {**b, "wall_s": None}
        assert (tmp_path / "forked" / job / "timeseries.parquet").read_bytes() == \
            (tmp_path / "spawned" / job / "timeseries.parquet").read_bytes()
