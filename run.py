"""The simulator's command line (Hydra). `python run.py` runs the default scenario; `-m` sweeps.

- One run writes into its folder (outputs/runs/<date>/<time>/): Hydra's .hydra/, config.yaml (the resolved
  config), metrics.json, timeseries.parquet, events.parquet and dashboard.png, each written to a temporary
  name and renamed.
- A sweep writes each job to outputs/multirun/<date>/<time>/<n>/ and, when it ends, summary.parquet and
  summary.csv at its root (one row per job: its overrides as columns, the metrics flattened with dotted
  names; sweeps.py). `python run.py --aggregate DIR` builds them afterwards (e.g. for a sweep run on a cluster).
- Bad input is refused before anything runs: one line naming the key and what is allowed, exit status 2.

`main(cfg)` is a thin shell over `run_experiment(cfg, out_dir) -> dict`, which tests call directly; it returns
the metric named by `objective` so that optimizing sweepers work. The result files' helpers are in results.py,
the sweep folder's (manifest, summary, lock) in sweeps.py; the metrics themselves in metrics.py.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import hydra
from hydra.core.plugins import Plugins
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf, open_dict

from conf import schema
from hydra_plugins.perp_cascades.pool_launcher import PoolLauncher
from metrics import compute_metrics
# (MANIFEST, read_metrics, _saved_config_hash: re-exported, for the tests and scripts that read them from here)
from results import (TEXT_METRICS, _atomic_write, _config_tree, _flatten, _one_line, _saved_config_hash,  # noqa: F401
                     config_hash, done_before, read_metrics, remove_results, write_failure, write_json)
from sweeps import MANIFEST, aggregate, lock_sweep, unlock_sweep, write_manifest  # noqa: F401
from venues import events as ev
from venues.params import ASSETS, ConfigError

if TYPE_CHECKING:
    from model import CascadeModel, ModelConfig

log = logging.getLogger("perp_cascades")
# the sweeps' launcher, hydra/launcher=pool: registered here too, for where Hydra's plugin scan cannot list
# hydra_plugins/perp_cascades (an editable install run from another folder)
Plugins.instance().register(PoolLauncher)
CONF_DIR = Path(__file__).resolve().parent / "conf"


def model_config(cfg: DictConfig | dict) -> ModelConfig:
    """The model's plain, validated config from Hydra's composed config (conf/schema.py)."""
    return schema.load(cfg).model_config()


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The run config `python run.py OVERRIDES...` would run: conf/ composed with the same override syntax
    (`population=small`, `seed=3`, `+venues.lighter.overrides.max_leverage=20`, `+key=value`), then validated
    like the command line (a bad value raises ConfigError naming the key)."""
    cfg = _compose(list(overrides or []))
    _validate(cfg)
    with open_dict(cfg):
        del cfg["hydra"]                       # Hydra's own settings: a run's folder, the launcher
    return cfg


def build_model(overrides: list[str] | None = None) -> CascadeModel:
    """The Python entry point: the model `python run.py OVERRIDES...` builds, from the same composed and
    validated config, not yet run. Step it with `m.step()` or `m.run_for(n)` (at most `steps` minutes in
    all), read its series with `timeseries_frame(m)` and its metrics with `compute_metrics(m)`.

        m = build_model(["population=small", "steps=300", "seed=1"])
        m.run_for(300)
        df = timeseries_frame(m)
    """
    from model import CascadeModel   # (imported when a model is built: a refused command line starts without Mesa)
    logging.getLogger("MESA").setLevel(logging.WARNING)   # Mesa logs every step at INFO
    return CascadeModel(model_config(compose_config(overrides)))


def timeseries_frame(m: CascadeModel) -> pd.DataFrame:
    """One row per (step, venue, asset): prices, open interest, funding, depth, fund, vault, fundamental."""
    T1, V, A = m.ts_mid.shape
    step, venue, asset = np.meshgrid(np.arange(T1), np.arange(V), np.arange(A), indexing="ij")
    df = pd.DataFrame({
        "step": step.ravel(), "venue": np.array(m.venue_names)[venue.ravel()],
        "asset": np.array(ASSETS)[asset.ravel()],
        "mid": m.ts_mid.ravel(), "mark": m.ts_mark.ravel(), "index": m.ts_index.ravel(),
        "mid_quote": m.ts_mid_quote.ravel(), "open": m.ts_open.ravel(), "high": m.ts_high.ravel(),
        "low": m.ts_low.ravel(), "close": m.ts_close.ravel(),
        "volume_usd": np.diff(m.ts_volume_cum, axis=0, prepend=0.0).ravel(),
        "oi_usd": m.ts_oi_usd.ravel(), "funding_per_hour": m.ts_funding_hour.ravel(),
        "depth_1pct_usd": m.ts_depth1.ravel(), "depth_5pct_usd": m.ts_depth5.ravel(),
        "insurance_fund_usd": np.repeat(m.ts_insurance[:, :, None], A, axis=2).ravel(),
        "vault_equity_usd": np.repeat(m.ts_vault_equity[:, :, None], A, axis=2).ravel(),
        "venue_liquidated_usd": np.repeat(m.ts_liquidated_usd[:, :, None], A, axis=2).ravel(),
        "venue_adl_usd": np.repeat(m.ts_adl_usd[:, :, None], A, axis=2).ravel(),
        "synth_mid": np.repeat(m.ts_synth_mid[:, None, None], V * A).ravel(),
        "fundamental": np.repeat(m.ts_fundamental[:, None, :], V, axis=1).ravel(),
        "naked_notional_usd": np.repeat(m.ts_naked_usd[:, None, None], V * A).ravel(),
        "transfers_in_flight": np.repeat(m.ts_in_flight[:, None, None], V * A).ravel(),
    })
    return df[df["step"] <= m.steps]


class EventsParquet:
    """The run's events, spilled to one Parquet file in blocks as the venues' logs fill (memory stays flat);
    written under a temporary name and renamed when complete."""

    def __init__(self, path: Path, venue_names: list[str]):
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.venue_names = venue_names
        self.writer: pq.ParquetWriter | None = None

    def sink_for(self, venue_id: int):
        venue = pa.array([self.venue_names[venue_id]])
        kinds = pa.array(list(ev.KIND_NAMES))

        def sink(cols: dict[str, np.ndarray]) -> None:   # the names taken in Arrow, not as Python strings
            n = len(cols["kind"])
            table = pa.table({**cols, "venue": venue.take(pa.array(np.zeros(n, np.int64))),
                              "kind": kinds.take(pa.array(cols["kind"].astype(np.int64)))})
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.tmp, table.schema)
            self.writer.write_table(table)
        return sink

    def abort(self) -> None:
        """Drop the partial file (a failed run)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.tmp.unlink(missing_ok=True)

    def close(self) -> None:
        if self.writer is None:   # no event at all: still an (empty) file with the columns
            empty = {name: np.zeros(0) for name in ("step", "venue", "kind")}
            pd.DataFrame(empty).to_parquet(self.tmp, index=False)
        else:
            self.writer.close()
        os.replace(self.tmp, self.path)


def run_experiment(cfg: DictConfig | dict, out_dir: str | Path, progress: bool | None = None) -> dict:
    """Validate `cfg`, build the model, run it, and write config.yaml, metrics.json, timeseries.parquet,
    events.parquet (and dashboard.png when `cfg.dashboard`) into `out_dir`; return the metrics.

    Bad input raises ConfigError (one line naming the key) before the folder gets any result in it.
    A result is bound to its config: the results of an earlier run in `out_dir` are removed before config.yaml
    is written, and metrics.json carries `config_hash` (config_hash(cfg)). metrics.json is strict JSON (an
    undefined statistic is null); the returned dict holds NaN there."""
    rc = schema.load(cfg)                      # bad input is refused here, before anything runs
    logging.getLogger("MESA").setLevel(logging.WARNING)   # Mesa logs every step at INFO
    mcfg = rc.model_config()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tree = _config_tree(cfg)
    chash = config_hash(tree)
    remove_results(out)                        # no result of another config stays beside the new config.yaml
    _atomic_write(out / "config.yaml", lambda p: p.write_text(OmegaConf.to_yaml(OmegaConf.create(tree))))
    show = rc.progress if progress is None else progress
    from model import CascadeModel
    t0 = time.perf_counter()
    m = CascadeModel(mcfg)
    events = EventsParquet(out / "events.parquet", m.venue_names)
    for vid, v in enumerate(m.venues.values()):
        v.events.sink = events.sink_for(vid)
    try:
        if rc.inject_failure_at_step is not None:
            _run_with_progress(m, min(rc.inject_failure_at_step, mcfg.steps), False)
            raise RuntimeError(f"injected failure at step {m.steps} (inject_failure_at_step)")
        _run_with_progress(m, mcfg.steps, show)
    except BaseException:
        events.abort()   # no half-written events file is left behind
        raise
    wall_s = time.perf_counter() - t0           # settled rule 12: model build to the end of its last step
    metrics = _run_metrics(m, wall_s, rc.experiment, chash)
    for v in m.venues.values():
        v.events.drain()
    events.close()
    _atomic_write(out / "timeseries.parquet", lambda p: timeseries_frame(m).to_parquet(p, index=False))
    write_json(out / "metrics.json", metrics)
    if rc.dashboard:
        import plot
        plot.dashboard(out)
    return metrics


def _run_with_progress(m: CascadeModel, steps: int, show: bool) -> None:
    """Run `steps` steps; with `show`, a progress bar with the current worst venue drawdown (percent from
    the pre-shock level, over every venue and market)."""
    if not show:
        m.run_for(steps)
        return
    from tqdm import tqdm
    chunk = max(1, steps // 100)
    base = None
    with tqdm(total=steps, unit="min", desc="simulating", file=sys.stderr, leave=True, mininterval=0.5,
              dynamic_ncols=True, disable=not sys.stderr.isatty()) as bar:
        done = 0
        while done < steps:
            n = min(chunk, steps - done)
            m.run_for(n)
            done += n
            mids = m.ts_mid[: m.steps + 1]
            if base is None:
                base = np.nanmax(mids[:1], axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                dd = float(np.nanmax(1.0 - np.nanmin(mids, axis=0) / base)) * 100.0
            bar.set_postfix_str(f"worst drawdown {dd:.1f}%")
            bar.update(n)


def get_metric(metrics: dict, dotted: str) -> float:
    """metrics["a"]["b"]... from "a.b..." (the objective); NaN where the metric is undefined (null)."""
    x = metrics
    for part in dotted.split("."):
        if not isinstance(x, dict) or part not in x:
            raise ConfigError(f"objective: {dotted!r} is not a metric of metrics.json")
        x = x[part]
    if x is None:
        return float("nan")
    if isinstance(x, dict) or not isinstance(x, (int, float)):
        raise ConfigError(f"objective: {dotted!r} is not a number of metrics.json")
    return float(x)


# ---------------------------------------------------------------------------------------------- the run's metrics
def _run_metrics(m: CascadeModel, wall_s: float, experiment: str | None, chash: str) -> dict:
    """compute_metrics and what run_experiment adds to them (the names documented in README "Metrics")."""
    metrics = compute_metrics(m, wall_s)
    metrics["experiment"] = experiment
    if m.cfg.adl_counterfactuals:
        metrics["adl_counterfactuals"] = m.adl_counterfactual_summary()
    metrics["config_hash"] = chash
    return metrics


_METRIC_NAMES: dict[tuple, list[str]] = {}


def metric_names(mcfg: ModelConfig) -> list[str]:
    """The numeric metric names (dotted) a run of this config writes to metrics.json: the metrics of the same
    world (venues, scenario, analysis switches) shrunk to one minute and one trader, so they never drift from
    compute_metrics. Cached by what shapes the tree."""
    key = (tuple(mcfg.venues or ()), mcfg.scenario, bool(mcfg.adl_counterfactuals), bool(mcfg.check_invariants))
    if key not in _METRIC_NAMES:
        from model import CascadeModel
        tiny = dataclasses.replace(mcfg, steps=1, warmup_minutes=0, n_directional=1, n_farmers=0,
                                   n_arbitrageurs=0, halts=None)
        m = CascadeModel(tiny)
        m.run_for(1)
        flat = _flatten(_run_metrics(m, 0.0, None, ""))
        _METRIC_NAMES[key] = [k for k, v in flat.items() if k.split(".")[0] not in TEXT_METRICS
                              and (v is None or isinstance(v, (int, float)))]
    return _METRIC_NAMES[key]


def check_objective(objective: str, mcfg: ModelConfig) -> None:
    """ConfigError (one line, with the closest names) unless `objective` is a numeric metric of this run."""
    try:
        names = metric_names(mcfg)
    except Exception:  # noqa: BLE001  (a world that cannot be shrunk: the run itself reports a bad objective)
        return
    if objective in names:
        return
    close = difflib.get_close_matches(objective, names, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else \
        "e.g. totals.liquidated_notional_usd (the names are in README \"Metrics\")"
    raise ConfigError(f"objective: expected a numeric metric of metrics.json, got {_show(objective)}; {hint}")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> float:
    """One job. In a sweep a job that fails writes metrics.json with status failed and returns nan, so the
    other jobs and the summary go on; a single run that fails exits with status 1 after writing it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    sweep = hc.mode == RunMode.MULTIRUN
    t = time.perf_counter()
    if sweep and cfg.get("resume", False):
        earlier = done_before(cfg, out_dir)
        if earlier is not None:
            log.info("job %s kept: a successful result for the same config is already in %s", hc.job.num, out_dir)
            return get_metric(earlier, cfg.objective)
    try:
        metrics = run_experiment(cfg, out_dir, progress=False if sweep else None)
    except Exception as e:  # noqa: BLE001  (any failure is recorded with the run, then reported)
        write_failure(cfg, out_dir, e, time.perf_counter() - t)
        if not sweep:
            print(f"error: run failed: {type(e).__name__}: {' '.join(str(e).split())[:300]} "
                  f"(details in {out_dir / 'metrics.json'})", file=sys.stderr)
            sys.exit(1)
        log.error("job %s FAILED after %.1f s: %s: %s (%s)", hc.job.num, time.perf_counter() - t,
                  type(e).__name__, " ".join(str(e).split())[:300], " ".join(hc.overrides.task))
        return float("nan")
    value = get_metric(metrics, cfg.objective)
    if sweep:
        log.info("job %s done in %.1f s: status %s, %s = %.6g (%s)", hc.job.num, time.perf_counter() - t,
                 metrics["status"], cfg.objective, value, " ".join(hc.overrides.task))
    else:
        print(f"metrics:   {out_dir / 'metrics.json'}")
        if cfg.dashboard:
            print(f"dashboard: {out_dir / 'dashboard.png'}")
    return value


# ---------------------------------------------------------------------------------------------- the sweep's callback
class SweepSummary:
    """Hydra callback (conf/config.yaml): locks the sweep folder when a multirun starts (a second sweep into it
    is refused: one line, exit status 2), writes the sweep's summary table when it ends, then unlocks."""

    def __init__(self, **kwargs) -> None:
        pass

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            lock_sweep(config.hydra.sweep.dir)   # before anything is written into the folder
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        write_manifest(config)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        root = Path(config.hydra.sweep.dir)
        try:
            if root.exists():
                df = aggregate(root)
                failed = int((df["status"] != "ok").sum()) if "status" in df.columns else 0
                log.info("sweep done: %d jobs (%d failed), summary at %s", len(df), failed, root / "summary.parquet")
        finally:
            unlock_sweep(root)

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        pass


# ---------------------------------------------------------------------------------------------- checks first
def _show(value, limit: int = 60) -> str:
    """A value for an error message: its repr, cut short when long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


def _group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _compose(overrides: list[str]):
    import re

    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, \
        OverrideParseException
    from omegaconf.errors import OmegaConfBaseException
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except MissingConfigException as e:
        msg = str(e)
        m = re.search(r"Could not find '([^']+)/([^'/]+)'", msg)
        if m:
            group, opt = m.groups()
            avail = re.search(r"Available options in '[^']*':\n((?:\t[^\n]*\n?)+)", msg)
            opts = [x.strip() for x in avail.group(1).splitlines() if x.strip()] if avail else _group_options(group)
            raise ConfigError(f"{group}: expected one of {', '.join(opts)}, got {_show(opt)}") from None
        raise ConfigError(_one_line(e)) from None
    except OverrideParseException as e:
        raise ConfigError(f"override: {_one_line(e)}") from None
    except ConfigCompositionException as e:
        import re
        m = re.search(r"Could not override '([^']+)'", str(e))
        if m:
            key = m.group(1)
            if OmegaConf.select(_compose([]), key, default="__missing__") != "__missing__":
                raise ConfigError(f"{key}: a mapping cannot be replaced whole here; set its keys one by one, "
                                  f"e.g. +{key}.<key>=<value>") from None
            parent = key.rpartition(".")[0]
            if parent.endswith("overrides"):
                raise ConfigError(f"{key}: not in the config yet; add it with a '+': +{key}=<value> "
                                  f"(allowed keys: {_override_keys(parent)})") from None
            raise ConfigError(f"{key}: unknown key; allowed here: {_allowed_near(key)}") from None
        m = re.search(r"Could not append to config. An item is already at '([^']+)'", str(e))
        if m:
            raise ConfigError(f"{m.group(1)}: already in the config; set it without '+'") from None
        cause = e.__cause__
        if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
            raise ConfigError(f"{cause.full_key}: {_one_line(Exception(str(cause).splitlines()[0]))}") from None
        raise ConfigError(_one_line(e)) from None
    except ConfigError:
        raise
    except (HydraException, OmegaConfBaseException, OSError, ValueError) as e:   # Hydra's own errors: one line
        raise ConfigError(f"config: {type(e).__name__}: {_one_line(e)}") from None


def _allowed_near(key: str) -> str:
    """The keys allowed next to `key` (its siblings in the default config); where its parent is not in the
    config either (`venues.binanse.max_leverage`), those of its nearest ancestor that is, named."""
    base = _compose([])
    parent, _, _ = key.rpartition(".")
    node = OmegaConf.select(base, parent) if parent else base
    if isinstance(node, DictConfig):
        names = [k for k in node.keys() if k != "hydra"]
        return ", ".join(map(str, names)) or "(none)"
    while parent:
        parent, _, child = parent.rpartition(".")
        node = OmegaConf.select(base, parent) if parent else base
        if isinstance(node, DictConfig):
            names = ", ".join(str(k) for k in node.keys() if k != "hydra")
            return f"(none: {parent or 'the config'} has no {child!r}; it has {names})"
    return "(none)"


def _override_keys(parent: str) -> str:
    """The keys a venue's `overrides` mapping takes (VenueParams' fields)."""
    import dataclasses

    from venues.params import VenueParams
    if parent.startswith("venues."):
        return ", ".join(f.name for f in dataclasses.fields(VenueParams))
    return "see the config's schema (conf/schema.py)"


def preflight(args: list[str]) -> None:
    """Check a command line's config before Hydra runs anything: every override, and in a sweep every
    value of every swept key (from the command line and the experiment's `hydra.sweeper.params`), composed
    and validated against conf/schema.py. Raises ConfigError with one line."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    overrides = [a for a in args if not a.startswith("-")]
    multirun = any(a in ("-m", "--multirun") for a in args)
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except Exception as e:  # hydra's OverrideParseException and friends
        raise ConfigError(f"override: {_one_line(e)}") from None
    fixed, sweeps = [], {}
    for o in parsed:
        _check_group_choice(o)
    for o, text in zip(parsed, overrides):
        if o.is_sweep_override():
            if not multirun:
                raise ConfigError(f"{o.get_key_element()}: a list of values needs -m (a sweep), got {text!r}")
            sweeps[o.get_key_element()] = [str(v) for v in o.sweep_string_iterator()]
        else:
            fixed.append(text)
    firsts = [f"{k}={v[0]}" for k, v in sweeps.items()]
    base = _compose(fixed + firsts)
    if multirun:
        params = OmegaConf.select(base, "hydra.sweeper.params") or {}
        added = False
        for key, val in params.items():
            if key in sweeps or any(f.split("=")[0].lstrip("+~") == key for f in fixed):
                continue
            o = parser.parse_overrides([f"{key}={val}"])[0]
            sweeps[key] = [str(v) for v in o.sweep_string_iterator()] if o.is_sweep_override() else [str(val)]
            added = True
        if added:   # composed again with the first value of each key the experiment sweeps (once, not always)
            firsts = [f"{k}={v[0]}" for k, v in sweeps.items()]
            base = _compose(fixed + firsts)
    _validate(base)
    _check_out_dir(base, "hydra.sweep.dir" if multirun else "hydra.run.dir")
    batch = OmegaConf.select(base, "hydra.sweeper.max_batch_size", default=None)
    if multirun and batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ConfigError(f"hydra.sweeper.max_batch_size: expected null or an integer >= 1, got {batch!r}")
    for key, values in sweeps.items():
        # a plain value (not a group choice, not an addition or deletion) is checked by writing it into the
        # composed config, which is what Hydra's override does; a group choice is composed
        plain = not key.startswith(("+", "~")) and not (CONF_DIR / key).is_dir() and \
            OmegaConf.select(base, key, default="__missing__") != "__missing__"
        # (hydra's section is left out of a plain value's copy: _validate does not read it, and it is most of
        # the config's nodes)
        mask = [k for k in base if k != "hydra"] if plain and not key.startswith("hydra.") else None
        for val in values[1:]:
            if plain:
                trial = OmegaConf.masked_copy(base, mask) if mask is not None else base.copy()
                OmegaConf.update(trial, key, parser.parse_overrides([f"{key}={val}"])[0].value(), merge=False)
                _validate(trial)
            else:
                trial = [f for f in firsts if not f.startswith(f"{key}=")] + [f"{key}={val}"]
                _validate(_compose(fixed + trial))


def _check_group_choice(o) -> None:
    """A config group's option must be one of its files (checked before Hydra looks for a file by that name)."""
    key = o.key_or_group
    if o.is_delete() or "/" in key or not (CONF_DIR / key).is_dir():
        return
    if o.is_sweep_override():
        if not o.is_discrete_sweep():
            return
        values = list(o.sweep_string_iterator())
    else:
        values = [o.value()]
    options = _group_options(key)
    for v in values:
        if v is None or (isinstance(v, str) and v not in options):
            raise ConfigError(f"{key}: expected one of {', '.join(options)}, got {'null' if v is None else _show(v)}")


def _check_out_dir(cfg: DictConfig, key: str) -> None:
    """The run's (or sweep's) folder can be created: no name longer than the file system allows, and the
    deepest part of the path that exists is a writable folder."""
    try:
        value = OmegaConf.select(cfg, key)
    except Exception as e:  # noqa: BLE001  (an interpolation that does not resolve)
        raise ConfigError(f"{key}: {_one_line(e)}") from None
    if value is None:
        return
    path = Path(str(value))
    for part in path.parts:
        if len(os.fsencode(part)) > 255:
            raise ConfigError(f"{key}: a folder name is at most 255 bytes, got {_show(part)}")
    there = path
    while not (there.exists() or there.is_symlink()) and there != there.parent:
        there = there.parent
    if not there.is_dir():
        raise ConfigError(f"{key}: cannot create {_show(str(path))}: {there} is not a folder")
    if not os.access(there, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}: cannot create {_show(str(path))}: {there} is not writable")


def _validate(cfg: DictConfig) -> None:
    from omegaconf.errors import OmegaConfBaseException
    for key in cfg:
        if key == "hydra":
            continue
        try:
            node = cfg[key]   # a scalar's interpolation resolves here, a mapping's or list's below
            if isinstance(node, DictConfig) or OmegaConf.is_list(node):
                OmegaConf.to_container(node, resolve=True)
        except OmegaConfBaseException as e:
            where = getattr(e, "full_key", None) or key
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise ConfigError(f"{where}: cannot be resolved: {_one_line(Exception(msg))}") from None
    rc = schema.load(cfg)
    check_objective(rc.objective, rc.model_config())


def cli(argv: list[str] | None = None) -> None:
    """`python run.py [overrides]`, `python run.py -m [overrides]`, `python run.py --aggregate DIR`."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--aggregate"]:
        if len(args) != 2 or not Path(args[1]).is_dir():
            got = f"{len(args) - 1} arguments" if len(args) != 2 else f"{_show(args[1])} (not a folder)"
            print(f"error: --aggregate: expected one sweep folder, got {got}", file=sys.stderr)
            sys.exit(2)
        try:
            df = aggregate(args[1])
        except ConfigError as e:
            print(f"error: --aggregate: {e}", file=sys.stderr)
            sys.exit(2)
        print(f"{len(df)} jobs -> {Path(args[1]) / 'summary.parquet'} and summary.csv")
        return
    passthrough = {"--help", "-h", "--hydra-help", "--info", "-i", "--cfg", "-c", "--config-name", "-cn",
                   "--config-path", "-cp", "--config-dir", "-cd", "--shell-completion", "-sc", "--version"}
    if not any(a.split("=")[0] in passthrough for a in args):
        try:
            preflight(args)
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except Exception as e:  # noqa: BLE001  (whatever else stops the check: one line, not a traceback)
            print(f"error: the config could not be checked: {type(e).__name__}: {_one_line(e)}", file=sys.stderr)
            sys.exit(2)
    main()


if __name__ == "__main__":
    cli()
