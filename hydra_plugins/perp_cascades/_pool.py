"""The `pool` launcher (`hydra/launcher=pool`, the default of `python run.py -m`): a sweep's jobs on a pool of
worker processes that survives its faults. (Registered by pool_launcher.py; the code lives here, in a module
Hydra's plugin scan does not execute a second time, so its classes stay the ones pickle finds by name.)

- Up to `n_jobs` workers (-1: every core, -2: all but one, as joblib counts), each a process that runs jobs one
  after another; a worker that dies is replaced while jobs remain. On Linux a worker is forked from the
  sweep's process while that runs no other thread (at launcher setup it runs none): it starts at once, with
  everything imported; it closes its copies of the parent's pipes and of the sweep folder's lock, and its
  signal handlers are its own. Otherwise (another thread running, another system) it is a fresh interpreter
  (multiprocessing's spawn), which imports everything again (about 2.5 s of CPU).
- A job that fails in any way is recorded and the sweep goes on. A job that raises is recorded by the task
  itself (run.py's `main`). A failure outside it (the job folder cannot be created or written, a rename fails,
  the disk is full, the record itself cannot be written) is recorded by the worker, else by the parent; a job
  whose worker died (killed, out of memory, crashed) is recorded by the parent: metrics.json with status failed,
  the error's type and message, and the job's config, written by the task module's `write_failure(cfg,
  out_dir, err, wall_s)` (run.py's, from results.py; results.py's when the task module has none). When the
  job's own folder cannot hold the record, the same record (results.failure_record) with the job's name and
  overrides is written to `<sweep dir>/.failed/<job>.json`. Temporary files (`.*.tmp-<pid>`) of a failed job
  are removed.
- Workers end with their parent: PR_SET_PDEATHSIG (Linux) and a thread watching the parent send them SIGTERM
  when it dies, SIGKILL included; a worker's SIGTERM ends its job at once, its temporary files removed, and the
  worker is killed `term_grace_s` later if it has not ended.
- SIGTERM, SIGINT or SIGHUP of the parent stop every worker (SIGTERM, SIGKILL after `term_grace_s`), record the
  jobs in flight as failed (`Interrupted`) and end the sweep with exit status 128 + the signal; the jobs not
  started have no record (`resume=true` runs them and the stopped ones).

Start-up is amortised over the sweep: the workers are started when the launcher is set up (forked: nothing
to import; spawned: they import while the sweeper composes), the sweeper composes every job's config to check
it (Hydra's `validate_batch_is_legal`) and those configs are kept (pickled) and sent to the workers with their
jobs, so that no job is composed twice; and a job that differs from an already composed one only in plain
values (`seed=3`) is derived from it rather than composed by Hydra again (0.015 s against 0.25 s; see
_KeepComposed). Measured on a 2-core machine, 16 jobs of 240 steps (population=small): the first job starts
about 3.5 s after the command, 0.4-0.7 s after the launcher's setup (about 7.8 s after the command with
spawned workers and every job composed by Hydra).

Each job returns what the task returns; a failed job returns NaN (never an exception, so Hydra's sweepers go
on to the next batch and the summary callback runs).
"""


import atexit
import copy
import json
import logging
import math
import os
import pickle
import signal
import sys
import threading
import time
import traceback
import warnings
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

log = logging.getLogger(__name__)

FALLBACK_DIR = ".failed"
"""Under the sweep folder: the records of failed jobs whose own folder could not hold one (<job>.json)."""


@dataclass
class PoolLauncherConf:
    _target_: str = "hydra_plugins.perp_cascades._pool.PoolLauncher"
    # workers at once: -1 every core, -2 all but one (joblib's count), n >= 1 exactly n
    n_jobs: int = -1
    # seconds a stopped worker has to end its job cleanly before it is killed (SIGKILL)
    term_grace_s: float = 5.0


class WorkerDied(RuntimeError):
    """The process running a job ended before the job did."""


class Interrupted(RuntimeError):
    """The sweep was stopped (SIGTERM, SIGINT, SIGHUP of its parent) while the job ran."""


class _Stop(BaseException):
    """Raised in the parent's main loop by its SIGTERM / SIGINT / SIGHUP handler."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Terminated(BaseException):
    """Raised in a worker by SIGTERM: unwinds the job (each writer removes its temporary file), not caught by
    the job's `except Exception`."""


def _bad_input(key: str, allowed: str, got: Any) -> None:
    print(f"error: hydra.launcher.{key}: expected {allowed}, got {got!r}", file=sys.stderr)
    sys.exit(2)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class PoolLauncher(Launcher):
    def __init__(self, n_jobs: int = -1, term_grace_s: float = 5.0, **_: Any) -> None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
            _bad_input("n_jobs", "an integer >= 1, or -1 (every core), -2 (all but one), ...", n_jobs)
        if isinstance(term_grace_s, bool) or not isinstance(term_grace_s, (int, float)) or \
                not (0 < term_grace_s < math.inf):
            _bad_input("term_grace_s", "a number of seconds > 0", term_grace_s)
        self.n_jobs = int(n_jobs)
        self.term_grace_s = float(term_grace_s)
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None
        self._early: Optional[_Pool] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context
        if not isinstance(hydra_context.config_loader, _KeepComposed):
            hydra_context.config_loader = _KeepComposed(hydra_context.config_loader)
        jobs = _first_batch_size(config, hydra_context)
        if jobs:   # started now, they import while the sweeper composes every job's config to check it
            self._early = _Pool(self, min(self.workers(), jobs))
            self._early.start_workers()
            atexit.register(self._end_early)

    def _end_early(self) -> None:
        """End the workers started by setup when no launch took them (the sweep ended before its first batch)."""
        if self._early is not None:
            self._early, early = None, self._early
            early._shutdown()

    def workers(self) -> int:
        return self.n_jobs if self.n_jobs > 0 else max(1, cores() + 1 + self.n_jobs)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        jobs = [(initial_job_idx + i, list(o)) for i, o in enumerate(job_overrides)]
        size = min(self.workers(), len(jobs))
        started = sorted({w.start_method for w in self._early.workers}) if self._early is not None else []
        how = f", workers {' and '.join(started)}" if started else ""
        log.info(f"Pool launcher: {len(jobs)} jobs on {size} workers (n_jobs={self.n_jobs}{how})")
        log.info(f"Launching jobs, sweep output dir : {sweep_dir}")
        for idx, overrides in jobs:
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        pool, self._early = self._early, None
        if pool is not None:
            atexit.unregister(self._end_early)
        if not jobs:
            if pool is not None:
                pool._shutdown()
            return []
        if pool is None:
            pool = _Pool(self, size)
        pool.size = size   # (run() ends the workers setup started beyond it)
        loader = self.hydra_context.config_loader
        composed = loader.take(self.config, jobs) if isinstance(loader, _KeepComposed) else {}
        return pool.run(jobs, composed)


class _KeepComposed:
    """The sweep's config loader, keeping (pickled, at most KEEP of them) the job configs it composes: the
    sweeper composes every job of a batch to check it (`validate_batch_is_legal`), and the launcher hands
    those to the workers instead of having each job composed a second time. Everything else is the loader's.

    Composing a job costs about 0.3 s of CPU (Hydra reads and merges every config file of its defaults list
    again). A job whose overrides differ from an already composed job's only in the values of plain keys
    (`seed=3` after `seed=0`; the same config group choices, the same keys in the same order, each value a
    number, string, bool or null) is derived from that job's config instead, as Hydra's composition itself
    would end (`_derive`): the same overrides applied, by Hydra's own function, to a copy, and the Hydra node's
    record of them (hydra.overrides.task, hydra.job.override_dirname) rewritten. Anything else, and any
    override the derivation refuses, is composed by Hydra (whose error is then the one raised)."""

    KEEP = 2000   # about 30 kB each: a larger batch's other jobs are composed by their workers

    def __init__(self, loader) -> None:
        self.loader = loader
        self.kept: dict[tuple[int, tuple[str, ...]], bytes] = {}
        self._bases: dict[tuple, bytes] = {}   # (id(master), shape) -> a composed job config with that shape
        self._repo: Optional[tuple[int, Any]] = None   # (id(master), the config repository its jobs compose from)

    def __getattr__(self, name: str) -> Any:
        if name in ("loader", "_bases", "_repo"):   # (not set yet: a copy being made)
            raise AttributeError(name)
        return getattr(self.loader, name)

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        shape = self._shape(master_config, sweep_overrides)
        sweep_config = self._derive(master_config, shape) if shape is not None else None
        blob = None
        if sweep_config is None:
            sweep_config = self.loader.load_sweep_config(master_config, sweep_overrides)
            if shape is not None and (id(master_config), shape[0]) not in self._bases:
                blob = self._dumps(sweep_config)
                if blob is not None:
                    self._bases[(id(master_config), shape[0])] = blob
        if len(self.kept) < self.KEEP:
            blob = blob or self._dumps(sweep_config)
            if blob is not None:   # (a config that does not pickle: its worker composes it)
                self.kept[(id(master_config), tuple(sweep_overrides))] = blob
        return sweep_config

    @staticmethod
    def _dumps(config: DictConfig) -> Optional[bytes]:
        import cloudpickle
        try:
            return cloudpickle.dumps(config)
        except Exception:  # noqa: BLE001
            return None

    def _shape(self, master_config: DictConfig, sweep_overrides: list[str]) -> Optional[tuple[tuple, list]]:
        """(shape, parsed overrides) when the job can be derived from another of the same shape (the config group
        overrides whole, the keys of the value overrides), else None."""
        try:
            from hydra.core.override_parser.overrides_parser import OverridesParser
            from hydra.core.override_parser.types import OverrideType
            parsed = OverridesParser.create().parse_overrides(list(sweep_overrides))
            repo = self._repository(master_config)
            shape = []
            for o in parsed:
                if o.is_hydra_override() or o.type != OverrideType.CHANGE or o.package is not None or \
                        o.is_sweep_override():
                    return None
                if repo.group_exists(o.key_or_group):
                    shape.append(("group", o.input_line))
                    continue
                value = o.value()
                if value is not None and type(value) not in (str, int, float, bool):
                    return None
                shape.append(("value", o.key_or_group))
            return tuple(shape), parsed
        except Exception:  # noqa: BLE001  (Hydra's composition decides)
            return None

    def _repository(self, master_config: DictConfig):
        """The config repository the jobs compose from (the primary config's search path included), as Hydra's
        composition builds it: it tells a config group override from a value override."""
        if self._repo is None or self._repo[0] != id(master_config):
            hydra_overrides = list(OmegaConf.to_container(master_config.hydra.overrides.hydra))
            _, repo = self.loader._parse_overrides_and_create_caching_repo(
                master_config.hydra.job.config_name, hydra_overrides)
            self._repo = (id(master_config), repo)
        return self._repo[1]

    def _derive(self, master_config: DictConfig, shape: tuple[tuple, list]) -> Optional[DictConfig]:
        """The job's config from the kept one of its shape, as Hydra's load_sweep_config would compose it; None
        when there is none yet or the overrides do not apply (Hydra's composition then reports why)."""
        base = self._bases.get((id(master_config), shape[0]))
        if base is None:
            return None
        try:
            from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
            parsed = shape[1]
            cfg = pickle.loads(base)
            # as _load_configuration_impl: the value overrides applied in order (each replaces a plain value,
            # whatever the kept config's was), the overrides' record kept in the Hydra node
            ConfigLoaderImpl._apply_overrides_to_config(
                [o for o, (kind, _) in zip(parsed, shape[0]) if kind == "value"], cfg)
            task = cfg.hydra.overrides.task
            if len(task) != len(parsed):
                return None
            for i, o in enumerate(parsed):
                task[i] = o.input_line
            dirname = cfg.hydra.job.config.override_dirname
            cfg.hydra.job.override_dirname = get_overrides_dirname(
                overrides=parsed, kv_sep=dirname.kv_sep, item_sep=dirname.item_sep,
                exclude_keys=dirname.exclude_keys)
            OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
            return cfg
        except Exception:  # noqa: BLE001
            return None

    def take(self, master_config: DictConfig, jobs: list[tuple[int, list[str]]]) -> dict[int, bytes]:
        """The kept configs of these jobs (by job index), no longer kept; the others are dropped."""
        out = {}
        for idx, overrides in jobs:
            blob = self.kept.pop((id(master_config), tuple(overrides)), None)
            if blob is not None:
                out[idx] = blob
        self.kept.clear()
        return out


def _first_batch_size(config: DictConfig, hydra_context: HydraContext) -> int:
    """The number of jobs of the sweep's first batch, when Hydra's basic sweeper decides them (as its `sweep`
    does); 0 when it cannot be known here."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser
        sweeper = config.hydra.sweeper
        if not str(sweeper._target_).endswith(".BasicSweeper"):
            return 0
        params = sweeper.get("params") or {}
        args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
        parser = OverridesParser.create(config_loader=hydra_context.config_loader)
        batches = BasicSweeper.split_arguments(parser.parse_overrides(args), sweeper.get("max_batch_size"))
        return len(batches[0]) if batches else 0
    except Exception:  # noqa: BLE001  (the workers are then started by the launch, as they would be anyway)
        return 0


# ---------------------------------------------------------------------------------------------- job records
@contextmanager
def _hydra_config(sweep_config: DictConfig):
    """HydraConfig set to this job's config (its `${hydra:...}` resolve), restored afterwards."""
    orig = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(sweep_config)
    try:
        yield
    finally:
        HydraConfig.instance().cfg = orig


def _sweep_config(hydra_context: HydraContext, config: DictConfig, idx: int, overrides: Sequence[str],
                  composed: Optional[bytes] = None) -> DictConfig:
    """A job's composed config, as Hydra's launchers build it (`composed`: the one the sweeper composed, pickled)."""
    if composed is not None:
        sweep_config = pickle.loads(composed)
    else:
        sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    return sweep_config


def _job_dir(sweep_config: DictConfig) -> tuple[Path, str]:
    """The job's folder and its name under the sweep folder (call inside _hydra_config)."""
    sub = str(OmegaConf.select(sweep_config, "hydra.sweep.subdir"))
    root = str(OmegaConf.select(sweep_config, "hydra.sweep.dir"))
    return Path(os.path.abspath(os.path.join(root, sub))), sub


def _task_cfg(sweep_config: DictConfig) -> DictConfig:
    task_cfg = copy.deepcopy(sweep_config)
    with read_write(task_cfg):
        with open_dict(task_cfg):
            del task_cfg["hydra"]
    return task_cfg


def failure_writer(task_function: Callable) -> Callable:
    """The task module's write_failure(cfg, out_dir, err, wall_s), else results.py's (run.py's is that one)."""
    module = sys.modules.get(getattr(task_function, "__module__", "") or "")
    writer = getattr(module, "write_failure", None)
    if callable(writer):
        return writer
    from results import write_failure
    return write_failure


def _remote_error(error_type: str, message: str) -> Exception:
    """An exception of the worker's error's type name and message (its class need not exist here)."""
    return type(error_type, (Exception,), {"__module__": "builtins"})(message)


def describe(err: BaseException) -> str:
    """The error's message on one line, with its direct cause (e.g. logging's "Unable to configure handler
    'file'" caused by "No space left on device")."""
    text = " ".join(str(err).split())
    cause = err.__cause__
    if cause is not None and str(cause) and str(cause) not in text:
        text += f" (caused by {type(cause).__name__}: {' '.join(str(cause).split())})"
    return text[:2000]


def _with_cause_in_message(err: BaseException) -> BaseException:
    """err itself, or (when its cause would be lost from its message) the same type and name with the cause
    in the message, chained to err so the traceback still shows where it came from."""
    if err.__cause__ is None or describe(err) == " ".join(str(err).split())[:2000]:
        return err
    wrapped = _remote_error(type(err).__name__, describe(err))
    wrapped.__cause__ = err
    return wrapped


def record_failure(writer: Callable, sweep_config: DictConfig, err: BaseException, wall_s: float,
                   tb: Optional[list[str]] = None, fallback: bool = True) -> str:
    """Record a failed job: metrics.json in its folder, else (`fallback`) <sweep>/.failed/<job>.json. Returns
    where it went; raises OSError (or what the writers raised) when nowhere."""
    with _hydra_config(sweep_config):
        job_dir, name = _job_dir(sweep_config)
        task_cfg = _task_cfg(sweep_config)
        try:
            writer(task_cfg, job_dir, err, wall_s)
            _save_overrides(sweep_config, job_dir)
            return str(job_dir / "metrics.json")
        except Exception:
            if not fallback:
                raise
            from results import failure_record, write_json
            record = failure_record(task_cfg, err, wall_s, tb)
            record["job"] = name
            record["overrides"] = " ".join(str(o) for o in sweep_config.hydra.overrides.task)
            where = Path(str(sweep_config.hydra.sweep.dir)) / FALLBACK_DIR / f"{name.replace(os.sep, '_')}.json"
            where.parent.mkdir(parents=True, exist_ok=True)
            write_json(where, record)
            return str(where)


def _save_overrides(sweep_config: DictConfig, job_dir: Path) -> None:
    """.hydra/overrides.yaml of a job that died before Hydra wrote it (the summary's override columns)."""
    path = job_dir / str(sweep_config.hydra.output_subdir or ".hydra") / "overrides.yaml"
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(OmegaConf.to_yaml(sweep_config.hydra.overrides.task))
        except OSError:
            pass


def remove_temporaries(job_dir: Path, pid: int) -> None:
    """Remove the temporary files (`.<name>.tmp-<pid>`) a process left in a job's folder."""
    try:
        for p in job_dir.rglob(f".*.tmp-{pid}"):
            p.unlink(missing_ok=True)
    except OSError:
        pass


def _finished_since(job_dir: Path, since: float) -> bool:
    """Whether the job's folder holds a successful metrics.json written since `since` (time.time())."""
    path = job_dir / "metrics.json"
    try:
        if path.stat().st_mtime < since - 1.0:
            return False
        return json.loads(path.read_text()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def _failed_return(overrides: Sequence[str], task_cfg: Optional[DictConfig] = None) -> JobReturn:
    ret = JobReturn(overrides=list(overrides), cfg=task_cfg, working_dir=os.getcwd(), status=JobStatus.COMPLETED)
    ret.return_value = float("nan")
    return ret


def _exit_text(code: Optional[int]) -> str:
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with status {code}"


# ---------------------------------------------------------------------------------------------- the parent
class _Worker:
    def __init__(self, proc, conn) -> None:
        self.proc = proc
        self.conn = conn
        self.job: Optional[tuple[int, list[str], float]] = None   # (index, overrides, start time)
        self.fresh = True                                         # the payload is still to be sent
        self.start_method = "spawned"                             # or "forked"

    @property
    def pid(self) -> int:
        return self.proc.pid


class _Pool:
    SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGHUP")) if s)

    def __init__(self, launcher: PoolLauncher, size: int) -> None:
        import multiprocessing
        self.launcher = launcher
        self.size = size
        self.spawn = multiprocessing.get_context("spawn")
        self.workers: list[_Worker] = []
        self.results: dict[int, JobReturn] = {}
        self.writer = failure_writer(launcher.task_function)
        self.stopping = False
        self.payload: Optional[bytes] = None
        self.composed: dict[int, bytes] = {}

    def start_workers(self) -> None:
        """Start `size` workers now (each imports, then waits for the sweep's context with its first job)."""
        for _ in range(self.size):
            try:
                self._start_worker()
            except OSError:   # no process can be started now: run() tries again
                break

    # -- the loop
    def run(self, jobs: list[tuple[int, list[str]]], composed: Optional[dict[int, bytes]] = None) -> list[JobReturn]:
        from multiprocessing.connection import wait
        import cloudpickle
        from hydra.core.singleton import Singleton
        from hydra.types import HydraContext as _Context
        lc = self.launcher
        context = lc.hydra_context
        if isinstance(context.config_loader, _KeepComposed):   # the workers get the loader itself
            context = _Context(config_loader=context.config_loader.loader, callbacks=context.callbacks)
        self.payload = cloudpickle.dumps((context, lc.config, lc.task_function, Singleton.get_state()))
        self.composed = composed or {}
        for w in [w for w in self.workers if not w.proc.is_alive()]:   # started early, ended since
            log.warning("a sweep worker (pid %s) %s before its first job; a new one takes it", w.pid,
                        _exit_text(w.proc.exitcode))
            self.workers.remove(w)
            w.conn.close()
        while len(self.workers) > self.size:   # started early for a larger batch than this one
            w = self.workers.pop()
            w.conn.close()   # (a worker still waiting for its first message ends at EOF)
            w.proc.join(self.launcher.term_grace_s)
        pending = deque(jobs)
        previous = self._install_handlers()
        try:
            while pending or any(w.job for w in self.workers):
                while pending:
                    idle = [w for w in self.workers if w.job is None]
                    if not idle and len(self.workers) >= self.size:
                        break
                    if idle:
                        w = idle[0]
                    else:
                        try:
                            w = self._start_worker()
                        except OSError as e:   # no process can be started now (a limit, memory)
                            if self.workers:
                                break          # the running workers take the queue
                            idx, overrides = pending.popleft()
                            self._record_in_parent(idx, overrides, WorkerDied(f"no worker could be started: {e}"),
                                                   0.0, None, None, "")
                            continue
                    self._dispatch(w, *pending.popleft())
                ready = wait([w.conn for w in self.workers] + [w.proc.sentinel for w in self.workers])
                for w in [w for w in list(self.workers) if w.conn in ready or w.proc.sentinel in ready]:
                    self._service(w)
        except _Stop as stop:
            self._stop(stop.signum, len(pending))
        finally:
            self._restore_handlers(previous)
            self._shutdown()
        return [self.results.get(idx) or _failed_return(ov) for idx, ov in jobs]

    def _start_worker(self) -> _Worker:
        ctx = _fork_context() or self.spawn
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        # a forked worker closes its copies of the parent's ends of the pipes (its own and the other workers'):
        # held open there, they would hide the parent's closing them (the EOF that ends a worker not yet given a job)
        close = (parent_conn, *(w.conn for w in self.workers)) if ctx is not self.spawn else ()
        proc = ctx.Process(target=_worker_main, args=(child_conn, os.getpid(), self.launcher.term_grace_s, close),
                           name=f"sweep-worker-{len(self.workers)}", daemon=False)
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        with warnings.catch_warnings():
            # Python warns of a fork with any thread running: the only ones here are native and idle (OpenBLAS's
            # pools of numpy and scipy, pyarrow's jemalloc background thread), and those libraries prepare for a
            # fork themselves (pthread_atfork); with a Python thread running the worker is spawned instead
            warnings.filterwarnings("ignore", message=r".*multi-threaded, use of fork\(\)", category=DeprecationWarning)
            proc.start()
        child_conn.close()
        w = _Worker(proc, parent_conn)
        w.start_method = "spawned" if ctx is self.spawn else "forked"
        self.workers.append(w)
        return w

    def _dispatch(self, w: _Worker, idx: int, overrides: list[str]) -> None:
        w.job = (idx, overrides, time.perf_counter())
        job = (idx, overrides, self.composed.pop(idx, None))
        if w.fresh:   # the sweep's context, then the job, from a thread: the worker may still be starting
            w.fresh = False
            threading.Thread(target=_send_quietly, args=(w.conn, self.payload, job), daemon=True).start()
        else:
            _send_quietly(w.conn, None, job)

    def _service(self, w: _Worker) -> None:
        """A worker's message, or its end (recorded as lost when it had a job)."""
        try:
            msg = pickle.loads(w.conn.recv_bytes()) if w.conn.poll() else None
        except Exception:  # noqa: BLE001  (EOF, or a message cut short: the worker has ended or is ending)
            msg = None
        else:
            if msg is None and w.proc.sentinel not in _ready([w.proc.sentinel]):
                return
        if msg is not None:
            self._on_message(w, msg)
            return
        w.proc.join(self.launcher.term_grace_s)
        if w.proc.is_alive():
            w.proc.kill()
            w.proc.join()
        self._lost(w)

    def _on_message(self, w: _Worker, msg: tuple) -> None:
        kind, idx, body = msg
        job = w.job
        w.job = None
        if kind == "done":
            self.results[idx] = body
            return
        # "failed": the worker could not record the failure in the job's folder
        assert job is not None
        self._record_in_parent(idx, job[1], _remote_error(body["error_type"], body["error"]), body["wall_s"],
                               body["traceback"], w.pid, f"not recorded by the worker: {body['why']}")

    def _lost(self, w: _Worker) -> None:
        self.workers.remove(w)
        w.conn.close()
        if w.job is None:
            if not self.stopping:
                log.warning("a sweep worker (pid %s) %s between jobs; a new one takes the next job",
                            w.pid, _exit_text(w.proc.exitcode))
            return
        idx, overrides, t0 = w.job
        wall = time.perf_counter() - t0
        err = WorkerDied(f"the worker process running this job (pid {w.pid}) {_exit_text(w.proc.exitcode)} "
                         f"after {wall:.1f} s")
        self._record_in_parent(idx, overrides, err, wall, None, w.pid, "", since=time.time() - wall)

    def _record_in_parent(self, idx: int, overrides: list[str], err: BaseException, wall: float,
                          tb: Optional[list[str]], pid: Optional[int], note: str,
                          since: Optional[float] = None) -> None:
        """Record a job's failure from here (its worker could not, or died); `since`: when the job started (a
        job whose worker died after it wrote a successful result keeps it)."""
        lc = self.launcher
        task_cfg = None
        try:
            sweep_config = _sweep_config(lc.hydra_context, lc.config, idx, overrides)
            task_cfg = _task_cfg(sweep_config)
            with _hydra_config(sweep_config):
                job_dir, _ = _job_dir(sweep_config)
            if pid is not None:
                remove_temporaries(job_dir, pid)
            if since is not None and _finished_since(job_dir, since):
                log.warning("job %s: its worker %s after the job wrote its result (status ok): result kept",
                            idx, str(err).partition(") ")[2] or "ended")
                self.results[idx] = _failed_return(overrides, task_cfg)
                return
            where = record_failure(self.writer, sweep_config, err, wall, tb)
            outcome = f"recorded in {where}"
        except Exception as e:  # noqa: BLE001  (nowhere to write: the log line is the record)
            outcome = f"NOT RECORDED ({type(e).__name__}: {' '.join(str(e).split())[:300]})"
        log.error("job %s FAILED after %.1f s: %s: %s (%s); %s%s", idx, wall, type(err).__name__,
                  " ".join(str(err).split())[:300], " ".join(filter_overrides(overrides)), outcome,
                  f"; {note}" if note else "")
        self.results[idx] = _failed_return(overrides, task_cfg)

    # -- stopping
    def _install_handlers(self) -> dict:
        previous = {}
        if threading.current_thread() is not threading.main_thread():
            return previous

        def handler(signum, frame):
            if self.stopping:
                return
            self.stopping = True
            raise _Stop(signum)
        for s in self.SIGNALS:
            try:
                previous[s] = signal.signal(s, handler)
            except (OSError, ValueError):
                pass
        return previous

    @staticmethod
    def _restore_handlers(previous: dict) -> None:
        for s, h in previous.items():
            try:
                signal.signal(s, h)
            except (OSError, ValueError, TypeError):
                pass

    def _stop(self, signum: int, not_started: int) -> None:
        name = signal.Signals(signum).name
        in_flight = [w for w in self.workers if w.job is not None]
        log.error("sweep stopped by %s: ending %d workers", name, len(self.workers))
        self._end_workers(graceful=False)
        for w in in_flight:
            try:   # a job that finished just before its worker ended keeps its result
                while w.job is not None and w.conn.poll():
                    self._on_message(w, pickle.loads(w.conn.recv_bytes()))
            except Exception:  # noqa: BLE001
                pass
        in_flight = [w for w in in_flight if w.job is not None]
        for w in in_flight:
            idx, overrides, t0 = w.job
            wall = time.perf_counter() - t0
            self._record_in_parent(idx, overrides, Interrupted(f"the sweep was stopped by {name} while this job "
                                                               f"ran ({wall:.1f} s in)"), wall, None, w.pid, "")
        log.error("sweep stopped by %s: %d jobs finished, %d stopped (recorded as failed), %d not started; "
                  "resume=true runs the rest", name, len(self.results) - len(in_flight), len(in_flight),
                  not_started)
        raise SystemExit(128 + signum)

    def _end_workers(self, graceful: bool) -> None:
        """Idle workers are asked to end (graceful), the others sent SIGTERM; any worker alive after
        term_grace_s is killed."""
        for w in self.workers:
            try:
                if graceful and w.job is None:
                    if w.fresh:
                        w.conn.close()   # still waiting for the sweep's context: it ends at EOF
                    else:
                        w.conn.send(None)
                else:
                    w.proc.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + self.launcher.term_grace_s
        for w in self.workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()

    def _shutdown(self) -> None:
        self._end_workers(graceful=True)
        for w in self.workers:
            w.conn.close()
        self.workers.clear()


def _fork_context():
    """multiprocessing's fork context when a worker can be forked from this process safely: on Linux, with no
    other thread running (a thread holding a lock at the fork would leave it held in the child for ever);
    else None (the worker is spawned: a fresh interpreter that imports everything again, about 2.5 s of CPU)."""
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    import multiprocessing
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


def _ready(objs: list) -> list:
    from multiprocessing.connection import wait
    return wait(objs, timeout=0)


def _send_quietly(conn, payload: Optional[bytes], job: tuple) -> None:
    """Send (the payload and) a job; a worker that has died is found by its sentinel."""
    try:
        if payload is not None:
            conn.send_bytes(payload)
        conn.send(job)
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------------------------- the worker
def _die_with_parent(parent_pid: int) -> None:
    """SIGTERM to this worker when its parent dies (SIGKILL included): PR_SET_PDEATHSIG on Linux, and a thread
    watching the parent's sentinel everywhere."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    import multiprocessing
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    if sentinel is not None:
        def watch() -> None:   # (a forked worker's sentinel can also be held open by a sibling: the pid too)
            from multiprocessing.connection import wait
            while not wait([sentinel], timeout=1.0) and os.getppid() == parent_pid:
                pass
            os.kill(os.getpid(), signal.SIGTERM)
        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    if os.getppid() != parent_pid:   # the parent died before the watch began
        os.kill(os.getpid(), signal.SIGTERM)


def _worker_main(conn, parent_pid: int, grace_s: float, close: Sequence = ()) -> None:
    """A worker: the sweep's context, then jobs one at a time until told to stop (None) or the parent is gone.
    `close`: the parent's connections a forked worker inherited, closed here."""
    for c in close:
        try:
            c.close()
        except OSError:
            pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent decides what a Ctrl-C stops
    if hasattr(signal, "SIGHUP"):   # (a worker forked while the parent's handlers are set inherits them)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)

    def on_term(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.alarm(max(1, math.ceil(grace_s)))   # SIGALRM's default action ends the worker if unwinding hangs
        raise _Terminated(signum)
    signal.signal(signal.SIGTERM, on_term)
    try:
        _die_with_parent(parent_pid)
        import cloudpickle
        from hydra.core.singleton import Singleton
        hydra_context, config, task_function, singleton_state = cloudpickle.loads(conn.recv_bytes())
        setup_globals()
        Singleton.set_state(singleton_state)
        writer = failure_writer(task_function)
        while True:
            msg = conn.recv()
            if msg is None:
                break
            idx, overrides, composed = msg
            reply = _run_one(hydra_context, config, task_function, writer, idx, overrides, composed)
            try:   # cloudpickle: Hydra's plugin scan re-creates config classes, which plain pickle refuses
                data = cloudpickle.dumps(reply)
            except Exception as e:  # noqa: BLE001  (a result that cannot be pickled: its return value only)
                value = getattr(reply[2], "_return_value", None)
                log.warning("job %s: its result could not be sent whole to the sweep (%s): its return value only",
                            idx, e)
                ret = _failed_return(overrides)
                if isinstance(value, (int, float)):
                    ret.return_value = value
                data = cloudpickle.dumps(("done", idx, ret))
            conn.send_bytes(data)
    except (_Terminated, EOFError, OSError):
        pass
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass


def _run_one(hydra_context: HydraContext, config: DictConfig, task_function: TaskFunction, writer: Callable,
             idx: int, overrides: list[str], composed: Optional[bytes] = None) -> tuple:
    """One job: ("done", idx, JobReturn) or, when it failed and the failure could not be recorded in the
    job's folder here, ("failed", idx, info) for the parent to record it."""
    t0 = time.perf_counter()
    sweep_config = None
    try:
        sweep_config = _sweep_config(hydra_context, config, idx, overrides, composed)
        with _hydra_config(sweep_config):
            _, name = _job_dir(sweep_config)
        stale = Path(str(sweep_config.hydra.sweep.dir)) / FALLBACK_DIR / f"{name.replace(os.sep, '_')}.json"
        stale.unlink(missing_ok=True)   # a record of an earlier failure of this job, outside its folder
        HydraConfig.instance().set_config(sweep_config)
        ret = run_job(hydra_context=hydra_context, config=sweep_config, task_function=task_function,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        if ret.status != JobStatus.FAILED:
            return "done", idx, ret
        err = ret._return_value
        if not isinstance(err, BaseException):
            err = RuntimeError(f"the job failed: {err!r}")
    except _Terminated:
        raise
    except BaseException as e:  # noqa: BLE001  (anything else ends this job only)
        err = e
    wall = time.perf_counter() - t0
    tb = traceback.format_exception(err)[-6:]
    why = ""
    if sweep_config is not None:
        try:
            where = record_failure(writer, sweep_config, _with_cause_in_message(err), wall, tb, fallback=False)
            job_dir = Path(where).parent
            remove_temporaries(job_dir, os.getpid())
            log.error("job %s FAILED after %.1f s: %s: %s (%s); recorded in %s", idx, wall, type(err).__name__,
                      " ".join(str(err).split())[:300], " ".join(filter_overrides(overrides)), where)
            return "done", idx, _failed_return(overrides)
        except _Terminated:
            raise
        except BaseException as e:  # noqa: BLE001
            why = f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
    else:
        why = "the job's config could not be composed"
    return "failed", idx, {"error_type": type(err).__name__, "error": describe(err),
                           "traceback": [str(x) for x in tb], "wall_s": wall, "why": why}
