"""Calibration to the event as a reproducible search (issue 24; README "Calibration").

    python calibrate.py                                                   conf/calibration/oct10.yaml as it is
    python calibrate.py trials=4 seeds=2 reseeds=2 -- population=small     a small study
    python calibrate.py out=<study folder> [the same arguments]           resume a killed study
    python calibrate.py ... param.population.directional.stop_share=0.1,0.9 targets=oi_drop_btc,oi_drop_alt

An Optuna study (search.py) over the spec's parameter ranges: each trial runs the spec's config (composed as
`python run.py OVERRIDES` composes it) with the trial's values over seeds 0 .. seeds-1; its loss is the mean over
the chosen targets of ((statistic - range centre) / half-range)^2 (targets.py). Then the best point is written as
a population option (<study>/conf/population/<population_name>.yaml; conf/population/ too with publish=true),
re-run from that option over `reseeds` fresh seeds, and compared with every target of the file.

Written into the study's folder: study.db (Optuna, SQLite), spec.json, runs/trial_<n>/seed_<s>/ and
best/seed_<s>/ (run folders), trials.csv, targets_table.{csv,md,png,pdf}, params.{csv,md},
loss_vs_params.{csv,png,pdf}, importances.{csv,png,pdf}, summary.md. Bad input (an unknown key, target or
parameter, bad bounds) is refused in one line with exit status 2 before anything runs.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

import search
from results import config_hash
from search_figures import importances_plot, targets_plot, value_vs_params, write_table
from targets import choose, load_targets, loss, metric_value, point_stats
from venues.params import ConfigError

ALLOWED = {"targets_file": "a targets file (conf/targets/)", "targets": "a list of target names, or null (all)",
           "population_name": "a name", "publish": "true or false"}
EXTRA_IDENTITY = ("targets_file", "targets")


def prepare(argv: list[str]) -> dict:
    """Everything checked before anything runs: the spec, the runs' base config, the targets (each a metric the
    runs write), the parameters and their bounds. Raises ConfigError (one line)."""
    import re

    import run
    keys, params, runs = search.parse_args(argv)
    keys.setdefault("spec", "oct10")
    spec = search.load_spec("calibration", keys, params, runs, ALLOWED)
    name = str(spec.get("population_name") or "")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in run._group_options("population"):
        raise ConfigError(f"population_name: expected a new option name (letters, digits, _), not one of "
                          f"{', '.join(run._group_options('population'))}, got {name!r}")
    base = run.compose_config(spec["overrides"])
    tg_file = load_targets(spec["targets_file"])
    chosen = choose(tg_file, spec.get("targets"))
    names = set(run.metric_names(run.model_config(base)))
    for t in tg_file.values():
        missing = [m for m in t.metrics() if m not in names]
        if missing:
            raise ConfigError(f"targets: {t.name} reads {missing[0]}, which runs of this config do not write")
    plist = search.check_params(spec["params"], base, spec["overrides"])
    return {"spec": spec, "base": base, "targets": chosen, "all_targets": tg_file, "params": plist}


def main(argv: list[str] | None = None) -> None:
    search.launch(sys.argv[1:] if argv is None else argv, prepare, "calibration", EXTRA_IDENTITY, _header, _search,
                  "calibrate.py")


def _header(job: dict, folder: Path) -> str:
    spec = job["spec"]
    return (f"calibration into {folder}: {spec['trials']} trials x {spec['seeds']} seeds on {spec['workers']} "
            f"workers, {len(job['params'])} parameters, {len(job['targets'])} targets")


def _search(job: dict, folder: Path, pool: search.Pool) -> None:
    spec, chosen = job["spec"], job["targets"]
    study = search.open_study(folder, "calibration", "minimize")

    def evaluate(runs: list[dict]):
        stats = point_stats(runs, chosen)
        value, zs = loss(stats, chosen)
        return value, {"stats": stats, "z": zs}
    search.run_trials(study, spec, job["params"], pool, folder / "runs", spec["overrides"], evaluate)
    finish(study, job, folder, pool)


# ---------------------------------------------------------------------------------------------- the best point
def finish(study, job: dict, folder: Path, pool: search.Pool) -> None:
    spec, params = job["spec"], job["params"]
    trials = trials_frame(study, params, job["targets"])
    write_table(trials.to_dict("records"), folder / "trials", markdown=False)
    if not search.complete_trials(study):
        print("error: no trial completed: no best point (see trials.csv)", file=sys.stderr)
        sys.exit(1)
    best = study.best_trial
    option = write_option(folder, spec, best)
    reseed_ovs = [o for o in spec["overrides"] if search._key(o) != "population"] + [f"population={spec['population_name']}"]
    _check_option_reproduces(spec, best, reseed_ovs, folder / "conf")
    seeds = range(int(spec["reseed_base"]), int(spec["reseed_base"]) + int(spec["reseeds"]))
    print(f"best point: trial #{best.number}, loss {best.value:.4g}; re-running it from {option.relative_to(folder)} "
          f"over {len(seeds)} fresh seeds", flush=True)
    t0 = time.perf_counter()
    results = pool.run([(reseed_ovs + [f"seed={s}"], folder / "best" / f"seed_{s}", folder / "conf") for s in seeds])
    ok = [r["metrics"] for r in results if r["status"] == "ok"]
    print(f"{len(ok)} of {len(results)} runs ok in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = target_rows(ok, job["all_targets"], job["targets"])
    write_table(rows, folder / "targets_table")
    targets_plot(rows, folder / "targets_table", f"The event's targets against the model at the best point "
                 f"(trial #{best.number}; {len(ok)} seeds; 95% Student-t intervals)")
    imp, note = importances(study)
    prow = param_rows(trials, params, best, imp)
    write_table(prow, folder / "params")
    value_vs_params(trials[trials["state"] == "COMPLETE"].reset_index(drop=True), params, "loss",
                    folder / "loss_vs_params", "Loss of each trial against each parameter")
    if imp:
        importances_plot(imp, folder / "importances", "Parameters' importance for the loss", note)
    if spec.get("publish"):
        dest = search.CONF_DIR / "population" / option.name
        dest.write_text(option.read_text())
        print(f"published: {dest} (python run.py population={spec['population_name']})")
    write_summary(folder, spec, best, rows, prow, len(ok), note)
    print(f"done: {folder / 'summary.md'}")


def trials_frame(study, params: list, chosen: dict) -> pd.DataFrame:
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {"trial": t.number, "state": t.state.name, "loss": t.value if t.value is not None else math.nan}
        row.update({p.key: t.params.get(p.key) for p in params})
        for k, v in (t.user_attrs.get("stats") or {}).items():
            row[f"stat.{k}"] = math.nan if v is None else v
        for k, v in (t.user_attrs.get("z") or {}).items():
            row[f"z.{k}"] = v
        row["error"] = t.user_attrs.get("error", "interrupted" if t.user_attrs.get("interrupted") else "")
        row["runs"] = " ".join(t.user_attrs.get("runs", []))
        rows.append(row)
    return pd.DataFrame(rows)


def write_option(folder: Path, spec: dict, best) -> Path:
    """<study>/conf/population/<name>.yaml: the base config's population with the best point's values, and the
    best values of parameters outside the population (the outside market's depth, a venue's scale), as one
    config option (package _global_: `python run.py population=<name>`)."""
    import run
    cfg = run.compose_config(search.merge_overrides(spec["overrides"], best.user_attrs["overrides"]))
    tree = OmegaConf.to_container(cfg, resolve=True)
    out: dict = {"population": tree["population"]}
    for ov in best.user_attrs["overrides"]:
        key = search._key(ov)
        if key.startswith("population."):
            continue
        node, parts = out, key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = OmegaConf.select(cfg, key)
    base_pop = next((o.partition("=")[2] for o in spec["overrides"] if search._key(o) == "population"), "default")
    head = (f"# @package _global_\n# population={spec['population_name']}: the best point of the calibration in "
            f"{folder} (calibrate.py, {time.strftime('%Y-%m-%d')}):\n# trial #{best.number}, loss {best.value:.6g} "
            f"over {spec['seeds']} seeds; population {base_pop} with\n"
            + "".join(f"#   {o}\n" for o in best.user_attrs["overrides"])
            + "# the run's other overrides: " + " ".join(o for o in spec["overrides"] if search._key(o) != "population")
            + "\n")
    path = folder / "conf" / "population" / f"{spec['population_name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    import yaml
    path.write_text(head + yaml.safe_dump(out, sort_keys=False, default_flow_style=False))
    return path


def _check_option_reproduces(spec: dict, best, reseed_ovs: list[str], conf_dir: Path) -> None:
    """The written option composes to exactly the best trial's config (seed aside): else a bug, said loudly."""
    import run
    a = run.compose_config(search.merge_overrides(spec["overrides"], best.user_attrs["overrides"] + ["seed=0"]))
    b = run.compose_config([f"hydra.searchpath=[file://{conf_dir}]"] + reseed_ovs + ["seed=0"])
    if config_hash(a) != config_hash(b):
        raise RuntimeError(f"population={spec['population_name']} does not compose to the best trial's config")


def target_rows(runs: list[dict], all_targets: dict, chosen: dict) -> list[dict]:
    """Every target of the file against the model over the best point's runs: statistic, mean with its 95%
    interval (Student-t, clipped to what the metric can take), inside the range or not, z."""
    from sweep_figures import interval, metric_range
    rows = []
    for name, t in all_targets.items():
        vals = [metric_value(r, t.metric) for r in runs]
        mean, lo, hi, method, n = interval(vals, metric_range(t.metric))
        s = point_stats(runs, {name: t})[name]
        z = (s - t.centre) / t.half_width if math.isfinite(s) else math.nan
        rows.append({"target": name, "metric": t.metric, "statistic": t.statistic,
                     "value": t.value if t.value is not None else math.nan, "low": t.low, "high": t.high,
                     "model_mean": mean, "ci_low": lo, "ci_high": hi, "interval": method, "n": n,
                     "model_statistic": s, "inside": bool(math.isfinite(s) and t.low <= s <= t.high),
                     "z": z, "in_loss": name in chosen, "source": t.source})
    return rows


def importances(study) -> tuple[dict, str]:
    """PED-ANOVA importances (Optuna's; fANOVA, its default, needs scikit-learn, which the project does not
    depend on) of the parameters for reaching the best 10% of trials; empty with too few completed trials."""
    import optuna
    n = len(search.complete_trials(study))
    if n < 4:
        return {}, f"too few completed trials ({n}) for importances"
    try:
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    except (RuntimeError, ValueError) as e:
        return {}, f"importances not computed: {e}"
    return dict(imp), f"PED-ANOVA (Optuna): which parameters set the best 10% of the {n} completed trials"


def param_rows(trials: pd.DataFrame, params: list, best, imp: dict) -> list[dict]:
    """Per parameter: bounds, best value, importance, and how much of its range the best 10% of trials (at least
    3) span (on its search scale): near 1 it is not pinned down by the targets, small it is."""
    done = trials[trials["state"] == "COMPLETE"].sort_values("loss")
    top = done.head(max(3, int(math.ceil(0.1 * len(done)))))
    rows = []
    for p in params:
        row = {"param": p.key, "search": p.describe(), "best": best.params.get(p.key),
               "importance": imp.get(p.key, math.nan)}
        if p.kind != "choice" and len(top) >= 3:
            f = np.log if p.log else (lambda x: np.asarray(x, dtype=float))
            x = f(top[p.key].astype(float).to_numpy())
            row["top_min"], row["top_max"] = float(top[p.key].min()), float(top[p.key].max())
            row["top_span_share"] = float((x.max() - x.min()) / (f(p.high) - f(p.low)))
        rows.append(row)
    return rows


def write_summary(folder: Path, spec: dict, best, rows: list[dict], prow: list[dict], n: int, note: str) -> None:
    inside = sum(r["inside"] for r in rows)
    lines = [f"# Calibration {folder.name}", "",
             f"Spec `{spec['spec']}`; runs: `{' '.join(spec['overrides'])}`; {spec['trials']} trials x "
             f"{spec['seeds']} seeds, sampler seed {spec['sampler_seed']}, batch {spec['batch']}.", "",
             f"Best point: trial #{best.number}, loss {best.value:.4g} (mean of z^2 over {len(spec.get('targets') or rows)} "
             f"targets): `python run.py population={spec['population_name']}` once published "
             f"(`{folder / 'conf' / 'population' / (spec['population_name'] + '.yaml')}`).", "",
             f"## Targets at the best point ({n} fresh seeds; {inside} of {len(rows)} inside their range)", "",
             (folder / "targets_table.md").read_text(), "## Parameters", "", note, "",
             (folder / "params.md").read_text()]
    (folder / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
