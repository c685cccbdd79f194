"""End-to-end smoke tests of the validation study (EXPERIMENTS.md): each named experiment runs from its one
command (`python run.py -m experiment=NAME`, made small: the small population, short runs, two seeds) and
`python plot.py SWEEP_DIR --study NAME` draws every figure of it with its table of numbers."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import plot

ROOT = Path(__file__).resolve().parents[1]
# a smoke run of each experiment: fewer traders, one maker a venue and two limit-order traders a book (the
# makers' requotes are most of a small run's time), the experiment's own settings otherwise; on the default
# launcher (pool) with one worker (the test runs beside another): its jobs' configs derived, not each composed
# twice as the basic launcher does (the sobol case: 33 -> 27 s)
SMALL = ["population=small", "population.directional.count=120", "population.farmers.count=30",
         "population.market_makers.count=3", "population.liquidity.per_market=2", "hydra.launcher.n_jobs=1"]
SHORT = ["warmup_minutes=10", "shock.start_minute=20", "steps=60"]

# experiment -> the overrides that make it small (swept keys restricted to two values where the file has more)
CASES = {
    "calm_realism": ["warmup_minutes=10", "steps=150", "seed=0,1"],
    "oct10_calibration": SHORT + ["seed=0,1"],
    "adl_wick": SHORT + ["seed=0,1"],
    "farming_fuse": SHORT + ["max_leverage=3,10,50", "seed=0,1"],   # 10 and 50: the paired figures at those caps
    # the halt group's window is minutes [130, 190): the shock starts at 130 as in the full experiment
    "halt_elsewhere": ["warmup_minutes=10", "shock.start_minute=130", "steps=200", "seed=0,1"],
    "venue_designs": SHORT + ["venue_design=baseline,adl_pro_rata,no_backstop", "seed=0,1"],
    "leverage_tails": ["warmup_minutes=10", "steps=150", "max_leverage=1,20", "seed=0,1"],
    "sobol": SHORT + ["sensitivity.n_base=2", "sensitivity.index=range(0,18)"],
}


def test_every_experiment_of_the_study_is_covered():
    named = {p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml")}
    assert set(CASES) == set(plot.STUDY) and set(CASES) <= named


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_experiment_runs_from_its_command_and_plot_draws_its_figures(name, tmp_path):
    sweep = tmp_path / "sweep"
    cmd = [sys.executable, "run.py", "-m", f"experiment={name}", f"hydra.sweep.dir={sweep}", *SMALL, *CASES[name]]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = pd.read_parquet(sweep / "summary.parquet")
    assert (summary["status"] == "ok").all(), summary[["job", "status"]]
    assert (summary["totals.conservation_error_rel"] < 1e-9).all()
    figs = tmp_path / "figures"
    plot.main([str(sweep), "--study", name, "--out", str(figs)])   # in this process (the command line is
    # tested in test_plot_trust.py); a PlotError would exit 2 here
    for fig_name, kind, kw in plot.STUDY[name]:
        for ext in (".png", ".pdf", ".csv"):
            assert (figs / f"{fig_name}{ext}").stat().st_size > 0, f"{fig_name}{ext}"
        table = pd.read_csv(figs / f"{fig_name}.csv")
        n_metrics = len(kw["metric"].split(","))
        assert set(table["metric"]) == set(kw["metric"].split(",")) and len(table) >= n_metrics
        if kind == "sobol":
            assert table["base_samples"].min() == 2 and len(table) == 2 * 7
            assert math.isfinite(table.loc[table["metric"] == "totals.liquidated_notional_usd", "ST"].sum())
            # drawn again from the same sweep: the same table, bootstrap intervals included (seeded)
            plot.main([str(sweep), "--study", name, "--out", str(tmp_path / "again")])
            assert (tmp_path / "again" / f"{fig_name}.csv").read_text() == (figs / f"{fig_name}.csv").read_text()
        elif kind == "paired":
            # two seeds matched to the base (a statistic undefined in so small a run, e.g. ADL shares without
            # ADL, has no finite pair)
            assert (table["n_pairs"] <= 2).all() and (table["n_pairs"] == 2).any()
        else:
            assert (table["n"] <= 2).all()


@pytest.mark.slow
def test_statistics_of_a_calm_run_are_those_of_its_returns(tmp_path):
    """The per-run statistics against a direct computation from the run's own time series."""
    import numpy as np

    import run
    from tests.test_experiments import compose_cfg
    cfg = compose_cfg("scenario=calm", *SMALL[:-1], "warmup_minutes=10", "steps=200", "dashboard=false",
                      "progress=false")
    m = run.run_experiment(cfg, tmp_path)
    ts = pd.read_parquet(tmp_path / "timeseries.parquet")
    btc = ts[(ts["asset"] == "BTC") & (ts["step"] >= 10)].pivot(index="step", columns="venue", values="mid")
    r = np.diff(np.log(btc.to_numpy()), axis=0)
    from scipy import stats
    kurt = np.mean([stats.kurtosis(r[:, j], fisher=True, bias=True) for j in range(r.shape[1])])
    assert m["stats"]["returns"]["BTC"]["kurtosis_venue"] == pytest.approx(kurt, rel=1e-9, abs=1e-12)
    acf1 = np.mean([np.corrcoef(r[:-1, j] - r[:, j].mean(), r[1:, j] - r[:, j].mean())[0, 1]
                    for j in range(r.shape[1])])
    assert m["stats"]["returns"]["BTC"]["acf1_venue"] == pytest.approx(acf1, abs=0.02)   # same up to end terms
    assert m["stats"]["arb_band_pct"] > 0 and 0 <= m["stats"]["venue_gap_p95_pct"] < 5
    # no liquidation in calm with the small world: no long share, nothing ADL'd
    assert m["totals"]["adl_notional_usd"] == 0.0
    assert math.isnan(m["stats"]["adl_by_leverage"]["ALT"]["le2"])


@pytest.mark.slow
def test_paired_bars_and_line_tables_by_hand(tmp_path):
    """plot.py's numbers on a synthetic sweep whose answers are known: metric = 1e6 x lev x (1 + pv) + seed."""
    import json
    sweep = tmp_path / "sweep"
    for job, (lev, pv, seed) in enumerate((lv, p, s) for lv in (5, 10) for p in (0.0, 0.05) for s in (0, 1, 2)):
        d = sweep / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(
            f"- max_leverage={lev}\n- incentives.point_value_usd={pv}\n- seed={seed}\n")
        (d / "metrics.json").write_text(json.dumps({"status": "ok", "seed": seed, "totals": {
            "liq": 1e6 * lev * (1 + pv) + seed, "other": float(seed)}}))
    # paired: matched on max_leverage and seed, the difference is exactly 1e6 x lev x 0.05 (no spread)
    plot.paired_plot(sweep, "incentives.point_value_usd", "0", "totals.liq", tmp_path / "paired")
    t = pd.read_csv(tmp_path / "paired.csv")
    assert len(t) == 1 and t["n_pairs"].iloc[0] == 6
    assert t["diff_mean"].iloc[0] == pytest.approx(1e6 * 7.5 * 0.05)   # mean over lev 5 and 10
    # bars per x: the seed mean 1e6 x lev x (1 + pv) + 1 averaged over pv, its median, 6 runs each
    plot.bars_plot(sweep, "totals.liq,totals.liq-totals.other", "max_leverage", tmp_path / "bars")
    b = pd.read_csv(tmp_path / "bars.csv")
    row = b[(b["metric"] == "totals.liq") & (b["max_leverage"] == 5)].iloc[0]
    assert row["mean"] == pytest.approx(1e6 * 5 * 1.025 + 1) and row["n"] == 6
    diff = b[(b["metric"] == "totals.liq-totals.other") & (b["max_leverage"] == 10)].iloc[0]
    assert diff["mean"] == pytest.approx(1e6 * 10 * 1.025) and diff["ci_high"] - diff["ci_low"] > 0
    # a line per point value: three seeds a point, interval t(0.975, 2) x sd / sqrt(3) with sd = 1
    plot.sweep_plot(sweep, "max_leverage", "totals.liq", out=tmp_path / "line", by="incentives.point_value_usd")
    line = pd.read_csv(tmp_path / "line.csv")
    assert len(line) == 4 and (line["n"] == 3).all()
    assert (line["ci_high"] - line["mean"]).to_numpy() == pytest.approx(4.302653 / 3 ** 0.5, rel=1e-5)
    with pytest.raises(plot.PlotError, match="not a value"):
        plot.paired_plot(sweep, "incentives.point_value_usd", "0.5", "totals.liq", tmp_path / "bad")
