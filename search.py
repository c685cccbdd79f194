"""The search under calibrate.py and stress.py: a study's spec (a file in conf/calibration/ or conf/stress/,
changed on the command line), its parameters' bounds checked before anything runs, an Optuna study stored in
SQLite inside the study's folder (a killed study resumes), trials asked in batches and their runs done on a pool
of worker processes, each run composed as `python run.py OVERRIDES` composes it and written as a normal run folder.

Command line (both tools):  python calibrate.py|stress.py [spec=NAME] [KEY=VALUE ...] [param.KEY=LOW,HIGH[,log]
| param.KEY=choice:A,B,... | param.KEY=off (not searched)] [-- RUN OVERRIDES ...]

Reproducibility: each run is deterministic given its overrides and seed. Before each batch the sampler is made
afresh (TPE, constant liar) with a seed drawn from (sampler_seed, number of trials done), and the batch's trials are
asked one after another and told in order once all their runs are done, so a study re-run from scratch with the
same spec and `batch` proposes and finds exactly the same, whatever `workers` is; and a study resumed after a
kill proposes again what the killed batch had been asked (the killed trials are marked failed, and left out).
Parallelism: a batch's trials x seeds runs spread over `workers` processes; `batch` > 1 asks several trials
before any is told (more parallel, a different sequence of proposals than batch=1, itself reproducible).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from results import _flatten, _one_line, done_before, json_safe, write_failure, write_json
from venues.params import ConfigError

ROOT = Path(__file__).resolve().parent
CONF_DIR = ROOT / "conf"
COMMON = {   # key -> (what it must be, checker)
    "trials": "an integer >= 1", "seeds": "an integer >= 1", "reseeds": "an integer >= 2",
    "reseed_base": "an integer >= 0", "workers": "an integer >= 1", "batch": "an integer >= 1",
    "sampler_seed": "an integer >= 0", "startup_trials": "an integer >= 0", "out": "a folder or null",
    "overrides": "a list of run overrides (key=value)", "params": "a mapping of config keys to bounds",
}
IDENTITY = ("params", "overrides", "seeds", "sampler_seed", "batch", "startup_trials")
"""Spec keys a resumed study must share with the study in its folder (trials, workers, reseeds may change)."""


class Stop(BaseException):
    """SIGTERM, SIGINT or SIGHUP of the study's process."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# ---------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Param:
    key: str                       # a dotted config key, or a config group (halt, venue_design)
    kind: str                      # float | int | choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial):
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def override(self, value) -> str:
        """The run override for a value: floats written exactly (repr), so the run is the trial's point."""
        return f"{self.key}={value!r}" if isinstance(value, float) else f"{self.key}={value}"

    def describe(self) -> str:
        if self.kind == "choice":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return f"[{_fmt(self.low)}, {_fmt(self.high)}]" + (" log" if self.log else "") + \
            (" int" if self.kind == "int" else "")


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) < 1e15 else repr(v)
    return str(v)


def short_point(trial) -> str:
    """A trial's point for people: each param's short name and value to 6 digits (the exact overrides are in the
    trial's user attribute `overrides` and its runs' folders)."""
    return " ".join(f"{_short(k)}={_fmt(v)}" for k, v in trial.params.items())


def _short(key: str) -> str:
    """A param's name in progress lines: its last part (three when the last is an asset:
    market_makers.depth_usd.ALT)."""
    parts = key.split(".")
    return ".".join(parts[-3:]) if parts[-1] in ("BTC", "ALT", "SYNTH") else parts[-1]


def _raw_bounds(key: str, spec) -> dict:
    """A param's bounds as written (YAML [low, high], {low, high, log}, {choices}, or the command line's
    'LOW,HIGH[,log]' / 'choice:A,B'), as a mapping; ConfigError when the form is wrong."""
    where = f"param.{key}"
    if isinstance(spec, str):
        if spec.startswith("choice:"):
            return {"choices": [_yaml(x) for x in spec[7:].split(",") if x]}
        parts = spec.split(",")
        log = parts[-1].strip() == "log"
        parts = parts[:-1] if log else parts
        if len(parts) != 2:
            raise ConfigError(f"{where}: expected LOW,HIGH[,log] or choice:A,B,..., got {spec!r}")
        return {"low": _yaml(parts[0]), "high": _yaml(parts[1]), "log": log}
    if isinstance(spec, list):
        if len(spec) != 2:
            raise ConfigError(f"{where}: expected [low, high], got {spec!r}")
        return {"low": spec[0], "high": spec[1], "log": False}
    if isinstance(spec, dict) and set(spec) <= {"low", "high", "log", "choices"}:
        return dict(spec)
    raise ConfigError(f"{where}: expected [low, high], {{low, high, log}} or {{choices: [...]}}, got {spec!r}")


def _number(x):
    """A bound as a number: YAML reads 1e9 (no dot) as text; int or float when it is one, else as given."""
    if isinstance(x, str):
        for kind in (int, float):
            try:
                return kind(x)
            except ValueError:
                pass
    return x


def _yaml(text: str):
    import yaml
    try:
        return yaml.safe_load(text.strip())
    except yaml.YAMLError:
        return text.strip()


def check_params(raw: dict, base, overrides: list[str]) -> list[Param]:
    """The params, each checked against the composed base config before anything runs: a key of the config (or
    a config group for choices), bounds [low, high] with low < high, finite, > 0 with log, whole numbers for an
    integer key, and a config that validates at each end (or with each choice). ConfigError in one line."""
    import run
    if not isinstance(raw, dict) or not raw:
        raise ConfigError("params: expected a mapping of config keys to bounds, at least one")
    out = []
    for key, spec in raw.items():
        key = str(key)
        where = f"param.{key}"
        b = _raw_bounds(key, spec)
        group = (CONF_DIR / key).is_dir()
        if "choices" in b:
            ch = b["choices"]
            if not (isinstance(ch, list) and len(ch) >= 2 and len(set(map(str, ch))) == len(ch)):
                raise ConfigError(f"{where}: expected at least two distinct choices, got {ch!r}")
            if group:
                opts = run._group_options(key)
                bad = [c for c in ch if str(c) not in opts]
                if bad:
                    raise ConfigError(f"{where}: expected options of the {key} group ({', '.join(opts)}), got {bad[0]!r}")
            elif OmegaConf.select(base, key, default="__missing__") == "__missing__":
                raise ConfigError(f"{where}: not a key of the run's config{_near(key, base)}")
            p = Param(key, "choice", choices=tuple(ch))
            for c in ch:
                _check_at(p, c, base, overrides, "the choice")
            out.append(p)
            continue
        if group:
            raise ConfigError(f"{where}: {key} is a config group: give its options as choice:A,B,...")
        now = OmegaConf.select(base, key, default="__missing__")
        if now == "__missing__" or OmegaConf.is_config(now):
            raise ConfigError(f"{where}: not a number of the run's config{_near(key, base)}")
        low, high, log = _number(b.get("low")), _number(b.get("high")), bool(b.get("log", False))
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in (low, high)) \
                or not low < high:
            raise ConfigError(f"{where}: expected [low, high], finite, with low < high, got [{low!r}, {high!r}]")
        if log and low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0, got [{low!r}, {high!r}]")
        kind = "int" if isinstance(now, int) and not isinstance(now, bool) else "float"
        if kind == "int" and not (float(low).is_integer() and float(high).is_integer()):
            raise ConfigError(f"{where}: {key} is an integer: expected whole bounds, got [{low!r}, {high!r}]")
        p = Param(key, kind, float(low), float(high), log)
        for end, x in (("low", p.low), ("high", p.high)):
            _check_at(p, int(x) if kind == "int" else x, base, overrides, f"its {end} end")
        out.append(p)
    return out


def _check_at(p: Param, value, base, overrides: list[str], what: str) -> None:
    """The base config with the param at `value` validates (conf/schema.py), else ConfigError naming both."""
    import run
    from conf import schema
    try:
        if p.kind == "choice" and (CONF_DIR / p.key).is_dir():
            run.compose_config(merge_overrides(overrides, [p.override(value)]))
            return
        cfg = base.copy()
        OmegaConf.update(cfg, p.key, value, merge=False)
        schema.load(cfg)
    except ConfigError as e:
        raise ConfigError(f"param.{p.key}: {what} {_fmt(value)} is refused: {e}") from None


def _near(key: str, base) -> str:
    flat = _flatten(OmegaConf.to_container(base, resolve=True))
    close = difflib.get_close_matches(key, list(flat), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


# ---------------------------------------------------------------------------------------------- the spec
def parse_args(argv: list[str]) -> tuple[dict, dict, list[str]]:
    """(spec keys, param bounds, run overrides) from the command line: KEY=VALUE and param.KEY=... before `--`,
    run overrides after it."""
    if "--" in argv:
        i = argv.index("--")
        mine, runs = argv[:i], argv[i + 1:]
    else:
        mine, runs = argv, []
    keys, params = {}, {}
    for a in mine:
        k, eq, v = a.partition("=")
        if not eq or not k:
            raise ConfigError(f"{a}: expected KEY=VALUE (run overrides go after --)")
        if k.startswith("param."):
            params[k[6:]] = v
        else:
            keys[k] = _yaml(v) if v != "" else None
    return keys, params, runs


def load_spec(kind: str, keys: dict, params: dict, runs: list[str], allowed: dict) -> dict:
    """The study's spec: conf/<kind>/<spec>.yaml, with the command line's keys over it, its params with the
    command line's added or replaced, and its run overrides followed by the command line's (a later override of
    the same key replaces an earlier one). ConfigError on an unknown key or a value of the wrong kind."""
    import yaml
    name = keys.pop("spec", None) or "default"
    path = Path(str(name)) if str(name).endswith(".yaml") else CONF_DIR / kind / f"{name}.yaml"
    if not path.is_file():
        opts = sorted(p.stem for p in (CONF_DIR / kind).glob("*.yaml"))
        raise ConfigError(f"spec: expected one of {', '.join(opts)} (conf/{kind}/) or a .yaml file, got {name!r}")
    spec = yaml.safe_load(path.read_text()) or {}
    spec["spec"] = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    known = {**COMMON, **allowed}
    for k in list(spec) + list(keys):
        if k not in known and k != "spec":
            close = difflib.get_close_matches(k, list(known), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(f"{k}: unknown key; {hint}the keys are {', '.join(known)}")
    for k in ("overrides", "params"):
        if k in keys:
            raise ConfigError(f"{k}: not set on the command line: " + (
                "run overrides go after --" if k == "overrides" else "use param.KEY=LOW,HIGH"))
    spec.update(keys)
    spec["params"] = {k: v for k, v in {**(spec.get("params") or {}), **params}.items() if v != "off"}
    spec["overrides"] = merge_overrides(list(spec.get("overrides") or []), runs)
    for k, what in known.items():
        v = spec.get(k)
        if what.startswith("an integer"):
            lo = int(what.split(">=")[1])
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= lo):
                raise ConfigError(f"{k}: expected {what}, got {v!r}")
        elif what.startswith("true or false") and not isinstance(v, bool):
            raise ConfigError(f"{k}: expected {what}, got {v!r}")
        elif what.startswith("a list") and isinstance(v, str):
            spec[k] = [x for x in v.split(",") if x]
        elif what.startswith("one of"):
            opts = what[7:].split(", ")
            if v not in opts:
                raise ConfigError(f"{k}: expected {what}, got {v!r}")
    if not all(isinstance(o, str) and "=" in o for o in spec["overrides"]):
        raise ConfigError(f"overrides: expected a list of run overrides KEY=VALUE, got {spec['overrides']!r}")
    for o in spec["overrides"]:
        if _key(o) == "seed":
            raise ConfigError(f"overrides: {o!r}: the study sets each run's seed (seeds=N runs 0 .. N-1); remove it")
        if _key(o) in spec["params"]:
            raise ConfigError(f"overrides: {o!r}: {_key(o)} is also a searched parameter (param.{_key(o)}); "
                              f"remove one")
    return spec


def _key(override: str) -> str:
    return override.partition("=")[0].lstrip("+~")


def merge_overrides(first: list[str], then: list[str]) -> list[str]:
    """`first` then `then`, a later override of a key replacing an earlier one (in its place)."""
    out: dict[str, str] = {}
    for o in [*first, *then]:
        out[_key(o)] = o
    return list(out.values())


def identity(spec: dict, extra: tuple[str, ...]) -> dict:
    return json.loads(json.dumps(json_safe({k: spec.get(k) for k in IDENTITY + extra}, nonfinite=str)))


def open_folder(spec: dict, kind: str, extra: tuple[str, ...]) -> Path:
    """The study's folder (spec `out`, else outputs/<kind>/<date>/<time>), locked for this process (a second
    study into it is refused in one line); a folder holding a study of another spec is refused."""
    from sweeps import lock_sweep
    now = time.time()
    out = Path(spec["out"]) if spec.get("out") else ROOT / "outputs" / kind / time.strftime("%Y-%m-%d") / \
        (time.strftime("%H-%M-%S", time.localtime(now)) + f"-{int(now * 1e6) % 10**6:06d}")   # as run.py's folders
    saved = out / "spec.json"
    if saved.is_file():
        old = json.loads(saved.read_text())
        now = identity(spec, extra)
        diff = [k for k in now if old.get("identity", {}).get(k) != now[k]]
        if diff:
            raise ConfigError(f"out: {out} holds a study of another spec ({diff[0]} differs); resume it with the same "
                              f"{', '.join(diff)}, or choose another folder")
    try:
        lock_sweep(out)
    except ConfigError as e:
        raise ConfigError(str(e).replace("hydra.sweep.dir", "out").replace("another sweep", "another study")) from None
    write_json(saved, {"identity": identity(spec, extra), "spec": json_safe(spec, nonfinite=str)})
    _remove_dead_temporaries(out)
    return out


def _remove_dead_temporaries(root: Path) -> None:
    """Temporary files (.*.tmp-<pid>) that killed workers left in the study's run folders."""
    from sweeps import _alive
    for tmp in root.rglob(".*.tmp-*"):
        pid = tmp.name.rpartition(".tmp-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------- the workers
def _init_worker(parent_pid: int) -> None:
    """A worker ends with the study's process, however it ends (SIGKILL included); Ctrl-C is the parent's."""
    import logging
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for s in (signal.SIGTERM, signal.SIGHUP):   # (a forked worker inherits the study's Stop handlers)
        signal.signal(s, signal.SIG_DFL)
    from hydra_plugins.perp_cascades._pool import _die_with_parent
    _die_with_parent(parent_pid)
    logging.getLogger("MESA").setLevel(logging.WARNING)


def run_job(overrides: list[str], out_dir: str, conf_dir: str | None = None) -> dict:
    """One run, composed as `python run.py OVERRIDES` composes it (with conf_dir searched too, for an option the
    study wrote), into out_dir as a normal run folder; a folder already holding this config's successful result
    is kept. Returns {status, metrics (flattened), wall_s, error}."""
    import yaml

    import run
    t0 = time.perf_counter()
    out = Path(out_dir)
    cfg = None
    try:
        extra = [f"hydra.searchpath=[file://{conf_dir}]"] if conf_dir else []
        cfg = run.compose_config(extra + list(overrides))
        earlier = done_before(cfg, out)
        if earlier is not None:
            return {"status": "ok", "metrics": _flatten(earlier), "wall_s": 0.0, "kept": True}
        (out / ".hydra").mkdir(parents=True, exist_ok=True)
        (out / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
        metrics = run.run_experiment(cfg, out, progress=False)
        return {"status": "ok", "metrics": _flatten(metrics), "wall_s": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001  (a run that fails fails alone; its record is in its folder)
        wall = time.perf_counter() - t0
        if cfg is not None:
            try:
                write_failure(cfg, out, e, wall)
            except Exception:  # noqa: BLE001
                pass
        return {"status": "failed", "error": f"{type(e).__name__}: {_one_line(e)}", "wall_s": wall}


class Pool:
    """Worker processes that run jobs; a pool broken by a dead worker is replaced and the jobs it lost are
    recorded as failed. On Linux, with no other thread running, the workers are forked from this process after
    it has imported the model (as the pool launcher's are: nothing to import again, about 2.5 s of CPU a worker
    saved); otherwise spawned (fresh interpreters). A forked worker holds no lock of the study's folder
    (sweeps.py closes it in forked children), restores the default SIGTERM and SIGHUP, and never touches the
    study's storage (a worker ends by os._exit, so nothing it inherited is finalised)."""

    def __init__(self, workers: int):
        self.workers = workers
        self._ex: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._ex is None:
            import multiprocessing
            import warnings

            from hydra_plugins.perp_cascades._pool import _fork_context
            ctx = _fork_context()
            if ctx is not None:
                import model  # noqa: F401  (imported once here, before the fork, not by every worker)
                import run  # noqa: F401
            with warnings.catch_warnings():
                # (the threads then running are native and idle: OpenBLAS's, pyarrow's; see _pool._fork_context)
                warnings.filterwarnings("ignore", message=r".*multi-threaded, use of fork\(\)",
                                        category=DeprecationWarning)
                self._ex = ProcessPoolExecutor(self.workers, mp_context=ctx or multiprocessing.get_context("spawn"),
                                               initializer=_init_worker, initargs=(os.getpid(),))
                if ctx is not None:   # fork the workers now, before the executor's own thread starts
                    self._ex.submit(int).result()
        return self._ex

    def run(self, jobs: list[tuple[list[str], Path, Path | None]]) -> list[dict]:
        futures = [self._executor().submit(run_job, list(o), str(d), None if c is None else str(c))
                   for o, d, c in jobs]
        out = []
        for f in futures:
            try:
                out.append(f.result())
            except BrokenProcessPool:   # a worker died (killed, out of memory): its jobs fail, a new pool follows
                out.append({"status": "failed", "error": "WorkerDied: the worker process running it ended",
                            "wall_s": 0.0})
                if self._ex is not None:
                    self._ex.shutdown(wait=False, cancel_futures=True)
                    self._ex = None
        return out

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None


def install_stop_handlers() -> None:
    def handler(signum, frame):
        raise Stop(signum)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, handler)


# ---------------------------------------------------------------------------------------------- the study
def open_study(folder: Path, name: str, direction: str):
    """The Optuna study `name` in <folder>/study.db (created, or loaded to resume); trials a killed process left
    running are marked failed (user attribute interrupted), so they are asked again and never counted."""
    import optuna
    from optuna.trial import TrialState
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(storage=f"sqlite:///{folder / 'study.db'}", study_name=name, direction=direction,
                                load_if_exists=True)
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    return study


def counted(study) -> list:
    """The trials that count towards `trials`: completed, or failed by their runs (not interrupted)."""
    from optuna.trial import TrialState
    return [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
            if not t.user_attrs.get("interrupted")]


def sampler_for(spec: dict, n_done: int):
    """TPE seeded from (sampler_seed, trials done): the same proposals from scratch and after a resume."""
    import numpy as np
    import optuna
    seed = int(np.random.SeedSequence([int(spec["sampler_seed"]), n_done]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=int(spec["startup_trials"]), constant_liar=True)


def run_trials(study, spec: dict, params: list[Param], pool: Pool, run_root: Path, overrides: list[str],
               evaluate, label: str = "") -> None:
    """Ask, run and tell trials until `trials` count: batches of `batch` trials, each run over seeds 0 ..
    seeds-1 into <run_root>/trial_<n>/seed_<s>; evaluate(runs) -> (value, user attributes) or raises ValueError
    (the trial fails). One line a trial: its value and the best so far. A stop marks the batch interrupted."""
    from optuna.trial import TrialState
    total = int(spec["trials"])
    while (n := len(counted(study))) < total:
        study.sampler = sampler_for(spec, n)
        asked = []
        for _ in range(min(int(spec["batch"]), total - n)):
            trial = study.ask()
            values = {p.key: p.suggest(trial) for p in params}
            ovs = [p.override(values[p.key]) for p in params]
            trial.set_user_attr("overrides", ovs)
            asked.append((trial, ovs))
        jobs = [(merge_overrides(overrides, ovs + [f"seed={s}"]), run_root / f"trial_{t.number:04d}" / f"seed_{s}", None)
                for t, ovs in asked for s in range(int(spec["seeds"]))]
        t0 = time.perf_counter()
        try:
            results = pool.run(jobs)
        except Stop:
            for t, _ in asked:
                t.set_user_attr("interrupted", True)
                study.tell(t, state=TrialState.FAIL, skip_if_finished=True)
            raise
        per = int(spec["seeds"])
        for i, (t, ovs) in enumerate(asked):
            runs = results[i * per:(i + 1) * per]
            t.set_user_attr("runs", [str(d.relative_to(run_root.parent)) for _, d, _ in jobs[i * per:(i + 1) * per]])
            failed = [r["error"] for r in runs if r["status"] != "ok"]
            try:
                if failed:
                    raise ValueError(f"{len(failed)} of {per} runs failed: {failed[0]}")
                value, attrs = evaluate([r["metrics"] for r in runs])
                for k, v in attrs.items():
                    t.set_user_attr(k, json_safe(v, nonfinite=None))
                study.tell(t, value)
                state = f"{value:.4g}"
            except ValueError as e:
                t.set_user_attr("error", str(e)[:500])
                study.tell(t, state=TrialState.FAIL)
                state = f"FAILED ({str(e)[:160]})"
            best = _best(study)
            short = short_point(t)
            print(f"{label}trial {len(counted(study))}/{total} (#{t.number}): {state}; best {best} "
                  f"[{len(runs)} runs, {time.perf_counter() - t0:.0f} s] {short}", flush=True)


def _best(study) -> str:
    try:
        b = study.best_trial
    except ValueError:
        return "none yet"
    return f"{b.value:.4g} (#{b.number})"


def complete_trials(study) -> list:
    from optuna.trial import TrialState
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def launch(argv: list[str], prepare, kind: str, extra_identity: tuple[str, ...], header, body, tool: str) -> None:
    """The shell of both tools: prepare(argv) checks everything (a ConfigError is refused in one line, exit 2,
    before the study's folder is touched), the folder is opened and locked, header(job, folder) is printed, and
    body(job, folder, pool) runs on a pool of `workers` processes; a stop (SIGTERM, SIGINT, SIGHUP) says how
    to resume and exits with 128 + the signal. -h or --help prints the tool's docstring."""
    if argv[:1] in (["-h"], ["--help"]):
        print(sys.modules["__main__"].__doc__ or f"python {tool} [KEY=VALUE ...] [-- RUN OVERRIDES ...]")
        return
    try:
        job = prepare(argv)
        folder = open_folder(job["spec"], kind, extra_identity)
    except ConfigError as e:
        refuse(e)
    print(header(job, folder), flush=True)
    install_stop_handlers()
    pool = Pool(int(job["spec"]["workers"]))
    try:
        body(job, folder, pool)
    except Stop as e:
        stopped(e, folder, tool)
    finally:
        pool.close()


def refuse(e: Exception) -> None:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def stopped(e: Stop, folder: Path, tool: str) -> None:
    name = signal.Signals(e.signum).name
    print(f"stopped by {name}: the study in {folder} resumes with the same command and out={folder} "
          f"(python {tool} ... out={folder})", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os._exit(128 + e.signum)   # the workers end with this process (PR_SET_PDEATHSIG and their watch thread)
