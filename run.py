"""The simulator's command line (Hydra). `python run.py` runs the default scenario; `-m` sweeps.

- One run writes into its folder (outputs/runs/<date>/<time>/): Hydra's .hydra/, config.yaml (the resolved
  config), metrics.json, timeseries.parquet, events.parquet and dashboard.png, each written to a temporary
  name and renamed.
- A sweep writes each job to outputs/multirun/<date>/<time>/<n>/ and, when it ends, summary.parquet and
  summary.csv at its root (one row per job: its overrides as columns, the metrics flattened with dotted
  names). `python run.py --aggregate DIR` builds them afterwards (e.g. for a sweep run on a cluster).
- Bad input is refused before anything runs: one line naming the key and what is allowed, exit status 2.

`main(cfg)` is a thin shell over `run_experiment(cfg, out_dir) -> dict`, which tests call directly; it returns
the metric named by `objective` so that optimizing sweepers work.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import sys
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from conf import schema
from model import ASSETS, CascadeModel, ModelConfig, compute_metrics
from venues import events as ev
from venues.params import ConfigError

log = logging.getLogger("perp_cascades")
CONF_DIR = Path(__file__).resolve().parent / "conf"


def model_config(cfg: DictConfig | dict) -> ModelConfig:
    """The model's plain, validated config from Hydra's composed config (conf/schema.py)."""
    return schema.load(cfg).model_config()


def _atomic_write(path: Path, write) -> None:
    """Write to a temporary name in the same folder, then rename: a killed job leaves no half-written file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


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
        def sink(cols: dict[str, np.ndarray]) -> None:
            table = pa.table({**cols, "venue": pa.array([self.venue_names[venue_id]] * len(cols["kind"])),
                              "kind": pa.array(np.array(ev.KIND_NAMES)[cols["kind"].astype(int)].tolist())})
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

    Bad input raises ConfigError (one line naming the key) before the folder gets any result in it."""
    rc = schema.load(cfg)                      # bad input is refused here, before anything runs
    logging.getLogger("MESA").setLevel(logging.WARNING)   # Mesa logs every step at INFO
    mcfg = rc.model_config().resolved()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tree = _config_tree(cfg)
    _atomic_write(out / "config.yaml", lambda p: p.write_text(OmegaConf.to_yaml(OmegaConf.create(tree))))
    show = rc.progress if progress is None else progress
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
    metrics = compute_metrics(m, wall_s)
    metrics["experiment"] = rc.experiment
    if mcfg.adl_counterfactuals:
        metrics["adl_counterfactuals"] = m.adl_counterfactual_summary()
    for v in m.venues.values():
        v.events.drain()
    events.close()
    _atomic_write(out / "timeseries.parquet", lambda p: timeseries_frame(m).to_parquet(p, index=False))
    _atomic_write(out / "metrics.json", lambda p: p.write_text(json.dumps(metrics, indent=2, allow_nan=True)))
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
    """metrics["a"]["b"]... from "a.b..." (the objective)."""
    x = metrics
    for part in dotted.split("."):
        if not isinstance(x, dict) or part not in x:
            raise ConfigError(f"objective: {dotted!r} is not a metric of metrics.json")
        x = x[part]
    return float(x)


def _config_tree(cfg: DictConfig | dict) -> dict:
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    tree.pop("hydra", None)
    return tree


def _same_run(tree: dict, saved: dict) -> bool:
    """Whether two configs describe the same run (the switches that do not change results aside)."""
    ignore = ("resume", "progress", "dashboard")
    return {k: v for k, v in tree.items() if k not in ignore} == {k: v for k, v in saved.items() if k not in ignore}


def done_before(cfg: DictConfig, out_dir: Path) -> dict | None:
    """The metrics of an earlier successful run of this same config in out_dir, or None."""
    import yaml
    try:
        metrics = json.loads((out_dir / "metrics.json").read_text())
        saved = yaml.safe_load((out_dir / "config.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return None
    if metrics.get("status") != "ok" or not isinstance(saved, dict):
        return None
    return metrics if _same_run(_config_tree(cfg), saved) else None


def write_failure(cfg: DictConfig | dict, out_dir: Path, err: BaseException, wall_s: float) -> dict:
    """metrics.json with status failed, the error's type and message and the config (written atomically)."""
    import traceback
    tree = _config_tree(cfg)
    metrics = {"status": "failed", "seed": tree.get("seed"), "steps": tree.get("steps"), "wall_s": wall_s,
               "error_type": type(err).__name__, "error": " ".join(str(err).split())[:2000],
               "traceback": traceback.format_exception(err)[-6:], "config": tree}
    out_dir.mkdir(parents=True, exist_ok=True)
    _atomic_write(out_dir / "metrics.json", lambda p: p.write_text(json.dumps(metrics, indent=2, allow_nan=True)))
    return metrics


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


# ---------------------------------------------------------------------------------------------- sweeps
def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _override_value(text: str):
    """An override's value as YAML reads it (numbers as numbers, null as None)."""
    import yaml
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def aggregate(sweep_dir: str | Path) -> pd.DataFrame:
    """summary.parquet and summary.csv at the sweep's root: one row per job folder holding a metrics.json
    (its overrides as columns, the metrics flattened with dotted names), written atomically; returned."""
    root = Path(sweep_dir)
    rows = []
    for mpath in sorted(glob.glob(str(root / "*" / "metrics.json")),
                        key=lambda p: (len(Path(p).parent.name), Path(p).parent.name)):
        job = Path(mpath).parent
        try:
            metrics = json.loads(Path(mpath).read_text())
        except (OSError, json.JSONDecodeError) as e:
            metrics = {"status": "unreadable", "error": f"{type(e).__name__}: {e}"}
        row = {"job": job.name}
        ov = job / ".hydra" / "overrides.yaml"
        if ov.exists():
            import yaml
            for item in yaml.safe_load(ov.read_text()) or []:
                key, _, val = str(item).partition("=")
                row[key.lstrip("+~")] = _override_value(val)
        row.update(_flatten({k: v for k, v in metrics.items()
                             if k not in ("adl_counterfactuals", "config", "traceback")}))
        if "adl_counterfactuals" in metrics:
            row.update(_flatten(metrics["adl_counterfactuals"], "adl_counterfactuals."))
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in df.columns:   # mixed columns (an override that is a number in one job and text in another)
        if df[col].dtype == object:
            kinds = {type(x) for x in df[col].dropna()}
            if len(kinds) > 1:
                df[col] = df[col].map(lambda x: x if x is None else str(x))
    _atomic_write(root / "summary.parquet", lambda p: df.to_parquet(p, index=False))
    _atomic_write(root / "summary.csv", lambda p: df.to_csv(p, index=False))
    return df


class SweepSummary:
    """Hydra callback (conf/config.yaml): writes the sweep's summary table when a multirun ends."""

    def __init__(self, **kwargs) -> None:
        pass

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        root = Path(config.hydra.sweep.dir)
        if root.exists():
            df = aggregate(root)
            failed = int((df["status"] != "ok").sum()) if "status" in df.columns else 0
            log.info("sweep done: %d jobs (%d failed), summary at %s", len(df), failed, root / "summary.parquet")

    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_job_start(self, config: DictConfig, **kwargs) -> None:
        pass

    def on_job_end(self, config: DictConfig, job_return, **kwargs) -> None:
        pass


# ---------------------------------------------------------------------------------------------- checks first
def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:400]


def _group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except MissingConfigException as e:
        msg = str(e)
        import re
        m = re.search(r"Could not find '([^'/]+)/([^']+)'", msg)
        if m:
            group, opt = m.groups()
            raise ConfigError(f"{group}: expected one of {', '.join(_group_options(group))}, got {opt!r}") from None
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
                raise ConfigError(f"{key}: not in the config yet; add it with a '+': +{key}=<value>") from None
            raise ConfigError(f"{key}: unknown key; allowed here: {_allowed_near(key)}") from None
        m = re.search(r"Could not append to config. An item is already at '([^']+)'", str(e))
        if m:
            raise ConfigError(f"{m.group(1)}: already in the config; set it without '+'") from None
        raise ConfigError(_one_line(e)) from None


def _allowed_near(key: str) -> str:
    """The keys allowed next to `key` (its siblings in the default config)."""
    base = _compose([])
    parent, _, _ = key.rpartition(".")
    node = OmegaConf.select(base, parent) if parent else base
    if isinstance(node, DictConfig):
        names = [k for k in node.keys() if k != "hydra"]
        return ", ".join(map(str, names))
    return "(none)"


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
    for o, text in zip(parsed, overrides):
        if o.is_sweep_override():
            if not multirun:
                raise ConfigError(f"{o.get_key_element()}: a list of values needs -m (a sweep), got {text!r}")
            sweeps[o.get_key_element()] = [str(v) for v in o.sweep_string_iterator()]
        else:
            fixed.append(text)
    firsts = [f"{k}={v[0]}" for k, v in sweeps.items()]
    cfg = _compose(fixed + firsts)
    if multirun:
        params = OmegaConf.select(cfg, "hydra.sweeper.params") or {}
        for key, val in params.items():
            if key in sweeps or any(f.split("=")[0].lstrip("+~") == key for f in fixed):
                continue
            o = parser.parse_overrides([f"{key}={val}"])[0]
            sweeps[key] = [str(v) for v in o.sweep_string_iterator()] if o.is_sweep_override() else [str(val)]
        firsts = [f"{k}={v[0]}" for k, v in sweeps.items()]
    base = _compose(fixed + firsts)
    _validate(base)
    for key, values in sweeps.items():
        # a plain value (not a group choice, not an addition or deletion) is checked by writing it into the
        # composed config, which is what Hydra's override does; a group choice is composed
        plain = not key.startswith(("+", "~")) and not (CONF_DIR / key).is_dir() and \
            OmegaConf.select(base, key, default="__missing__") != "__missing__"
        for val in values[1:]:
            if plain:
                trial = base.copy()
                OmegaConf.update(trial, key, parser.parse_overrides([f"{key}={val}"])[0].value(), merge=False)
                _validate(trial)
            else:
                trial = [f for f in firsts if not f.startswith(f"{key}=")] + [f"{key}={val}"]
                _validate(_compose(fixed + trial))


def _validate(cfg: DictConfig) -> None:
    schema.load(cfg).model_config().resolved()


def cli(argv: list[str] | None = None) -> None:
    """`python run.py [overrides]`, `python run.py -m [overrides]`, `python run.py --aggregate DIR`."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--aggregate"]:
        if len(args) != 2 or not Path(args[1]).is_dir():
            print("error: --aggregate: expected one sweep folder", file=sys.stderr)
            sys.exit(2)
        df = aggregate(args[1])
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
    main()


if __name__ == "__main__":
    cli()
