"""Reverse stress tests of venue designs as a search (issue 24; README "Stress search").

    python stress.py                                                        conf/stress/designs.yaml as it is
    python stress.py metric=totals.broken_hedges designs=baseline,no_backstop,adl_pro_rata
    python stress.py trials=3 seeds=2 reseeds=2 top=1 -- population=small   a small search
    python stress.py out=<study folder> [the same arguments]                 resume a killed search

For each design (an option of the venue_design group), an Optuna study (search.py) over the shock space declared
in the spec (each asset's fall, its speed, the synthetic dollar's wave, makers' stress threshold, a halt
elsewhere) for the worst value of `metric`: each trial runs the shock over seeds 0 .. seeds-1 and reads the mean.
Then each design's `top` worst trials are re-run over `reseeds` fresh seeds (the worst case: the worst of those
means), and, with cross=true, every design is re-run at each design's worst point with the same seeds, so the
designs' difference there is paired seed by seed (settled rule 10).

Written into the study's folder: study.db, spec.json, <design>/runs/trial_<n>/seed_<s>/, <design>/trials.csv,
<design>/value_vs_params.*, <design>/importances.*, rerun/<design>_t<n>/<design>/seed_<s>/ (re-runs),
worst_cases.{csv,md}, cross_reruns.{csv,md}, worst_cases.{png,pdf}, summary.md.
"""

from __future__ import annotations

import difflib
import math
import sys
from pathlib import Path

import numpy as np

import search
from calibrate import importances, trials_frame
from search_figures import importances_plot, value_vs_params, worst_cases_plot, write_table
from targets import metric_value, statistic
from venues.params import ConfigError

ALLOWED = {"metric": "a metric of metrics.json", "direction": "one of maximize, minimize",
           "designs": "a list of venue_design options", "top": "an integer >= 1", "cross": "true or false"}
EXTRA_IDENTITY = ("metric", "direction", "designs")


def prepare(argv: list[str]) -> dict:
    """The spec, the metric (a number the runs write), the designs (options of venue_design), the shock
    parameters and their bounds, all checked before anything runs. Raises ConfigError (one line)."""
    import run
    keys, params, runs = search.parse_args(argv)
    keys.setdefault("spec", "designs")
    spec = search.load_spec("stress", keys, params, runs, ALLOWED)
    for o in spec["overrides"]:
        if search._key(o) == "venue_design":
            raise ConfigError(f"overrides: {o!r}: the designs are set by designs=...; remove it")
    designs = spec.get("designs") or []
    opts = run._group_options("venue_design")
    if not designs or len(set(designs)) != len(designs) or any(d not in opts for d in designs):
        bad = next((d for d in designs if d not in opts), designs)
        raise ConfigError(f"designs: expected distinct options of venue_design ({', '.join(opts)}), got {bad!r}")
    base = run.compose_config(spec["overrides"] + [f"venue_design={designs[0]}"])
    names = run.metric_names(run.model_config(base))
    metric = spec["metric"]
    if metric not in names:
        close = difflib.get_close_matches(str(metric), names, n=3, cutoff=0.6)
        hint = f"did you mean {', '.join(close)}?" if close else "the names are in README \"Metrics\""
        raise ConfigError(f"metric: expected a numeric metric of metrics.json, got {metric!r}; {hint}")
    plist = search.check_params(spec["params"], base, spec["overrides"])
    return {"spec": spec, "params": plist, "designs": designs, "metric": metric}


def main(argv: list[str] | None = None) -> None:
    search.launch(sys.argv[1:] if argv is None else argv, prepare, "stress", EXTRA_IDENTITY, _header, _search,
                  "stress.py")


def _header(job: dict, folder: Path) -> str:
    spec = job["spec"]
    return (f"stress search into {folder}: {job['metric']} ({spec['direction']}), designs "
            f"{', '.join(job['designs'])}: {spec['trials']} trials x {spec['seeds']} seeds each on "
            f"{spec['workers']} workers")


def _search(job: dict, folder: Path, pool: search.Pool) -> None:
    spec, metric = job["spec"], job["metric"]

    def evaluate(runs: list[dict]):
        values = [metric_value(r, metric) for r in runs]
        s = statistic(values)
        if not math.isfinite(s):
            raise ValueError(f"{metric} is undefined (null) in every run")
        return s, {"values": values}
    studies = {}
    for d in job["designs"]:
        studies[d] = search.open_study(folder, f"stress-{d}", spec["direction"])
        search.run_trials(studies[d], spec, job["params"], pool, folder / d / "runs",
                          spec["overrides"] + [f"venue_design={d}"], evaluate, label=f"[{d}] ")
    finish(studies, job, folder, pool)


def finish(studies: dict, job: dict, folder: Path, pool: search.Pool) -> None:
    spec, params, metric = job["spec"], job["params"], job["metric"]
    worst_first = spec["direction"] == "maximize"
    seeds = list(range(int(spec["reseed_base"]), int(spec["reseed_base"]) + int(spec["reseeds"])))
    tops: dict[str, list] = {}
    for d, study in studies.items():
        df = trials_frame(study, params, {}).rename(columns={"loss": "value"})
        write_table(df.to_dict("records"), folder / d / "trials", markdown=False)
        done = search.complete_trials(study)
        value_vs_params(df[df["state"] == "COMPLETE"].reset_index(drop=True), params, "value",
                        folder / d / "value_vs_params", f"{metric} of each trial ({d})",
                        best="max" if worst_first else "min")
        imp, note = importances(study)
        if imp:
            importances_plot(imp, folder / d / "importances", f"Parameters' importance for {metric} ({d})", note)
        ranked = sorted(done, key=lambda t: t.value, reverse=worst_first)
        seen, tops[d] = set(), []
        for t in ranked:
            key = tuple(t.user_attrs.get("overrides", []))
            if key not in seen:
                seen.add(key)
                tops[d].append(t)
            if len(tops[d]) == int(spec["top"]):
                break

    def point(d, t):
        return f"{d}_t{t.number}"

    jobs, where = [], []
    for d, ts in tops.items():
        for t in ts:
            for s in seeds:
                jobs.append((_overrides(spec, d, t, s), folder / "rerun" / point(d, t) / d / f"seed_{s}", None))
                where.append((point(d, t), d, s))
    print(f"re-running the {sum(map(len, tops.values()))} worst points over {len(seeds)} fresh seeds", flush=True)
    ran: dict = {}
    values = _run_unique(pool, jobs, where, metric, ran)
    rows, worst = [], {}
    for d, ts in tops.items():
        if not ts:
            rows.append({"design": d, "trials": len(search.complete_trials(studies[d])), "worst_trial": None})
            continue
        means = {point(d, t): statistic(list(values.get((point(d, t), d), {}).values())) for t in ts}
        pick = max if worst_first else min
        best_t = pick(ts, key=lambda t: _nan_last(means[point(d, t)], worst_first))
        worst[d] = best_t
        rows.append(_row(d, best_t, values[(point(d, best_t), d)], studies[d], metric))
    cross = []
    if spec.get("cross") and len(worst) > 1:
        jobs, where = [], []
        for p, t in worst.items():
            for d in tops:
                if d != p:
                    for s in seeds:
                        jobs.append((_overrides(spec, d, t, s), folder / "rerun" / point(p, t) / d / f"seed_{s}", None))
                        where.append((point(p, t), d, s))
        print("paired re-runs: every design at each worst point, the same seeds", flush=True)
        values.update(_run_unique(pool, jobs, where, metric, ran))
        cross = _cross_rows(worst, list(tops), values, metric, point)
        for r in rows:
            for c in cross:
                if r.get("worst_trial") is not None and c["worst_of"] == r["design"] and c["design"] != r["design"]:
                    r[f"{c['design']} here"] = c["mean"]
                    r[f"{c['design']} minus own"] = c["diff_vs_own"]
                    r[f"{c['design']} minus own 95%"] = _ci_text(c["diff_ci_low"], c["diff_ci_high"])
    write_table(rows, folder / "worst_cases")
    if cross:
        write_table(cross, folder / "cross_reruns")
    ok_rows = [r for r in rows if r.get("worst_trial") is not None]
    if ok_rows:
        worst_cases_plot(ok_rows, cross, metric, folder / "worst_cases",
                         f"Worst {metric} found per design ({spec['trials']} trials x {spec['seeds']} seeds each; "
                         f"re-runs over {len(seeds)} fresh seeds, 95% Student-t intervals)")
    _summary(folder, spec, rows, cross)
    print(f"done: {folder / 'summary.md'}")


def _overrides(spec: dict, design: str, t, seed: int) -> list[str]:
    return search.merge_overrides(spec["overrides"] + [f"venue_design={design}"],
                                  list(t.user_attrs["overrides"]) + [f"seed={seed}"])


def _run_unique(pool: search.Pool, jobs: list[tuple], where: list[tuple], metric: str, done: dict) -> dict:
    """Run the jobs whose overrides were not run before (`done`: overrides -> result; two designs' worst points
    can be the same shock), and collect every job's value."""
    todo = [j for j in dict((tuple(o), (o, d, c)) for o, d, c in jobs).values() if tuple(j[0]) not in done]
    for j, r in zip(todo, pool.run(todo)):
        done[tuple(j[0])] = r
    return _collect([done[tuple(o)] for o, _, _ in jobs], where, metric)


def _collect(results: list[dict], where: list[tuple], metric: str) -> dict:
    """{(point, design): {seed: value}} from the re-runs (a failed run: NaN, and said)."""
    out: dict = {}
    for r, (p, d, s) in zip(results, where):
        if r["status"] != "ok":
            print(f"re-run {p} on {d}, seed {s} failed: {r['error'][:200]}", flush=True)
        out.setdefault((p, d), {})[s] = metric_value(r["metrics"], metric) if r["status"] == "ok" else math.nan
    return out


def _nan_last(x: float, larger_worse: bool) -> float:
    if math.isfinite(x):
        return x
    return -math.inf if larger_worse else math.inf


def _row(d: str, t, vals: dict, study, metric: str) -> dict:
    from sweep_figures import interval, metric_range
    mean, lo, hi, method, n = interval(list(vals.values()), metric_range(metric))
    return {"design": d, "trials": len(search.complete_trials(study)), "worst_trial": t.number,
            "shock": search.short_point(t), "search_value": t.value,
            "rerun_mean": mean, "rerun_ci_low": lo, "rerun_ci_high": hi, "interval": method, "n": n}


def _cross_rows(worst: dict, designs: list[str], values: dict, metric: str, point) -> list[dict]:
    """At each design's worst point, every design's mean and its paired difference from the point's own design
    (seed by seed), with 95% intervals."""
    from sweep_figures import interval, metric_range
    lo_m, hi_m = metric_range(metric)
    rows = []
    for p, t in worst.items():
        own = values.get((point(p, t), p), {})
        for d in designs:
            v = values.get((point(p, t), d), {})
            mean, lo, hi, method, n = interval(list(v.values()), (lo_m, hi_m))
            diffs = [v[s] - own[s] for s in v if s in own]
            dm, dlo, dhi, dmethod, dn = interval(diffs, (lo_m - hi_m, hi_m - lo_m))
            rows.append({"worst_of": p, "shock": search.short_point(t), "design": d,
                         "mean": mean, "ci_low": lo, "ci_high": hi, "n": n, "diff_vs_own": dm,
                         "diff_ci_low": dlo, "diff_ci_high": dhi, "diff_interval": dmethod, "pairs": dn})
    return rows


def _ci_text(lo: float, hi: float) -> str:
    return "" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.4g}, {hi:.4g}]"


def _summary(folder: Path, spec: dict, rows: list[dict], cross: list[dict]) -> None:
    lines = [f"# Stress search {folder.name}", "",
             f"Spec `{spec['spec']}`: the worst `{spec['metric']}` ({spec['direction']}) per design; runs "
             f"`{' '.join(spec['overrides'])}`; {spec['trials']} trials x {spec['seeds']} seeds per design, sampler "
             f"seed {spec['sampler_seed']}; worst points re-run over {spec['reseeds']} fresh seeds "
             f"({spec['reseed_base']}..{int(spec['reseed_base']) + int(spec['reseeds']) - 1}).", "",
             "## Worst cases", "", (folder / "worst_cases.md").read_text()]
    if cross:
        lines += ["## Every design at each worst point (paired seeds)", "", (folder / "cross_reruns.md").read_text()]
    (folder / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
