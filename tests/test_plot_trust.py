"""Plots that do not mislead and plot.py's errors (issue 20, items 6-8): each reproduction of the issue is a test
here. Sweeps are synthetic (job folders with .hydra/overrides.yaml and metrics.json, as run.py writes them),
so the numbers are known."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import plot

ROOT = Path(__file__).resolve().parents[1]


def make_sweep(root: Path, jobs: list[tuple[dict, dict]]) -> Path:
    """A sweep folder: one job folder per (overrides, metrics) pair."""
    for i, (ov, metrics) in enumerate(jobs):
        d = root / str(i)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {k}={v}\n" for k, v in ov.items()))
        (d / "metrics.json").write_text(json.dumps({"status": "ok", "seed": ov.get("seed", 0), **metrics}))
    return root


def grid_sweep(root: Path, seeds=(0, 1), levs=(5, 10), pvs=(0.0, 0.05)) -> Path:
    """totals.liq = 1e6 x lev x (1 + pv) + seed; totals.adl is 0 on even seeds and 7.8e6 on odd ones (ADL
    happens in some runs only); OI drops as percent; a vault PnL of either sign."""
    jobs = []
    for lev in levs:
        for pv in pvs:
            for s in seeds:
                jobs.append(({"max_leverage": lev, "incentives.point_value_usd": pv, "seed": s}, {
                    "totals": {"liq": 1e6 * lev * (1 + pv) + s, "other": float(s), "adl_notional_usd": 7.8e6 * (s % 2),
                               "adl_low_leverage_share": 0.9 * (s % 2)},
                    "venues": {"hyperliquid": {"oi_drop_pct": 3.0 + 80.0 * (s % 2), "vault_pnl_usd": 1e5 * (s - 1.5)},
                               "binance": {"oi_drop_pct": 2.0 + 40.0 * (s % 2)}}}))
    return make_sweep(root, jobs)


@pytest.fixture
def figures(monkeypatch):
    """The figures plot.py saves (kept for inspection after they are written): every figure module's _save."""
    import dashboard
    import sweep_figures
    seen = []
    orig = sweep_figures._save

    def save(fig, path):
        seen.append(fig)
        return orig(fig, path)
    for module in (sweep_figures, dashboard):
        monkeypatch.setattr(module, "_save", save)
    return seen


def texts(fig) -> str:
    out = [fig._suptitle.get_text() if fig._suptitle else ""]
    for ax in fig.axes:
        out += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        if ax.get_legend():
            out += [t.get_text() for t in ax.get_legend().get_texts()]
    return "\n".join(out)


def cli(*args: str) -> tuple[int, str, str]:
    """plot.main in this process: (exit status, stdout, stderr)."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            plot.main([str(a) for a in args])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def listing(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


# ------------------------------------------------------------------------------------ item 6: crashes, writes
def test_bars_without_out_are_written_next_to_the_sweep(tmp_path):
    sweep = grid_sweep(tmp_path / "sweep")
    code, out, err = cli(sweep, "--bars", "--metric", "totals.liq")
    assert code == 0, err
    assert {p.name for p in sweep.glob("bars_*")} == {"bars_liq.png", "bars_liq.pdf", "bars_liq.csv"}
    code, out, err = cli(sweep, "--bars", "--x", "max_leverage", "--metric", "totals.liq,totals.other")
    assert code == 0, err
    assert (sweep / "bars_liq_and_1_more_by_max_leverage.csv").exists()


@pytest.mark.parametrize("kind", ["empty", "stray_file", "run_folder"])
@pytest.mark.parametrize("args", [["--x", "max_leverage"], ["--bars"], ["--x", "max_leverage", "--paired", "5"]])
def test_a_folder_that_is_not_a_sweep_is_refused_in_one_line_and_nothing_is_written(tmp_path, kind, args):
    folder = tmp_path / "not_a_sweep"
    folder.mkdir()
    if kind == "stray_file":
        (folder / "notes.txt").write_text("hello")
    elif kind == "run_folder":   # a single run's folder (metrics.json at its root, no job folders)
        (folder / "metrics.json").write_text(json.dumps({"status": "ok", "totals": {"liq": 1.0}}))
    before = listing(folder)
    code, out, err = cli(folder, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "sweep" in lines[0], err
    assert listing(folder) == before   # no summary.csv / summary.parquet, no figure


@pytest.mark.slow
def test_the_command_line_exits_2_with_one_line(tmp_path):
    """The same through a real interpreter: a folder that is not a sweep, a misspelt metric."""
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run([sys.executable, "plot.py", str(empty), "--x", "max_leverage"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list(empty.iterdir()) == []
    sweep = grid_sweep(tmp_path / "sweep")
    r = subprocess.run([sys.executable, "plot.py", str(sweep), "--x", "max_leverage", "--metric",
                        "totals.liquidated_notionl_usd"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


# ---------------------------------------------------------------------------- item 7: misspelt names, exit 2
@pytest.mark.parametrize("args, wrong, right", [
    (["--x", "max_leverage", "--metric", "totals.liqq"], "totals.liqq", "totals.liq"),
    (["--x", "max_leverage", "--metric", "totals.liq,venues.hyperliquid.oi_drop_pc"],
     "venues.hyperliquid.oi_drop_pc", "venues.hyperliquid.oi_drop_pct"),
    (["--x", "max_leverage", "--metric", "totals.liq-totals.othr"], "totals.othr", "totals.other"),
    (["--x", "max_leveage", "--metric", "totals.liq"], "max_leveage", "max_leverage"),
    (["--x", "max_leverage", "--y", "incentives.point_value", "--metric", "totals.liq"],
     "incentives.point_value",
     "incentives.point_value_usd"),
    (["--x", "max_leverage", "--by", "incentive.point_value_usd", "--metric", "totals.liq"],
     "incentive.point_value_usd",
     "incentives.point_value_usd"),
    (["--bars", "--x", "maxleverage", "--metric", "totals.liq"], "maxleverage", "max_leverage"),
    (["--x", "max_leverage", "--paired", "5", "--metric", "totals.adl_notional"], "totals.adl_notional",
     "totals.adl_notional_usd"),
])
def test_a_misspelt_metric_or_key_gets_one_line_with_the_closest_columns(tmp_path, args, wrong, right):
    sweep = grid_sweep(tmp_path / "sweep")
    before = listing(sweep)
    code, out, err = cli(sweep, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 300, err
    option = next(a for a in args if a in ("--x", "--y", "--by", "--metric") and wrong in args[args.index(a) + 1])
    assert lines[0].startswith(f"error: {option} ") and repr(wrong) in lines[0]
    assert "closest: " in lines[0] and right in lines[0].partition("closest: ")[2].split(", ")
    assert listing(sweep) - before <= {"summary.parquet", "summary.csv"}   # the summary of a real sweep only


def test_other_bad_input_exits_2_in_one_line(tmp_path):
    sweep = grid_sweep(tmp_path / "sweep")
    for args in (["--x", "max_leverage", "--paired", "7"], ["--study", "no_such_study"], [],
                 ["--x", "max_leverage", "--metric", "totals.nothing_like_any_column_at_all_xyz"]):
        code, out, err = cli(sweep, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), (args, err)
    code, out, err = cli(tmp_path / "missing")
    assert code == 2 and "not a folder" in err


# --------------------------------------------------------------------------------- item 8: honest intervals
@pytest.mark.slow
def test_non_negative_metrics_never_get_an_interval_below_zero(tmp_path, figures):
    """ADL notional is 0 in two seeds of three and 7.8M in one: a t-interval goes far below 0 unclipped."""
    sweep = grid_sweep(tmp_path / "sweep", seeds=(0, 1, 2))
    metrics = "totals.adl_notional_usd,venues.hyperliquid.oi_drop_pct,totals.adl_low_leverage_share"
    plot.bars_plot(sweep, metrics, "max_leverage", tmp_path / "bars")
    plot.sweep_plot(sweep, "max_leverage", metrics, out=tmp_path / "line")
    for name in ("bars", "line"):
        t = pd.read_csv(tmp_path / f"{name}.csv")
        assert (t["n"] == 6).all()
        adl = t[t["metric"] == "totals.adl_notional_usd"]
        assert (adl["ci_low"] >= 0).all() and (adl["ci_low"] <= adl["mean"]).all()
        oi = t[t["metric"] == "venues.hyperliquid.oi_drop_pct"]
        assert (oi["ci_low"] >= 0).all() and (oi["ci_high"] <= 100).all()
        share = t[t["metric"] == "totals.adl_low_leverage_share"]
        assert (share["ci_low"] >= 0).all() and (share["ci_high"] <= 1).all()
        # the method is named, with the range it is clipped to
        assert set(adl["interval"]) == {"t 95% clipped to [0, inf)"}
        assert set(oi["interval"]) == {"t 95% clipped to [0, 100]"}
        assert set(share["interval"]) == {"t 95% clipped to [0, 1]"}
    for fig in figures:
        assert "95% t-intervals clipped to each metric's range" in texts(fig)


@pytest.mark.slow
@pytest.mark.parametrize("seeds", [(0,), (0, 1)])
def test_fewer_than_three_seeds_draw_no_interval_and_say_so(tmp_path, figures, seeds):
    """One seed gave ci_low = ci_high = mean under a title promising intervals; two seeds gave bands from
    -230% to +380% for an OI drop and down to -$3.9M for ADL notional."""
    sweep = grid_sweep(tmp_path / "sweep", seeds=seeds, pvs=(0.0,))
    n = len(seeds)
    met = "venues.hyperliquid.oi_drop_pct,totals.adl_notional_usd"
    plot.sweep_plot(sweep, "max_leverage", met, out=tmp_path / "line")
    plot.bars_plot(sweep, met, "max_leverage", tmp_path / "bars")
    plot.sweep_plot(sweep, "max_leverage", met, y="incentives.point_value_usd", out=tmp_path / "heat")
    for name in ("line", "bars", "heat"):
        t = pd.read_csv(tmp_path / f"{name}.csv")
        assert (t["n"] == n).all(), name
        assert t["ci_low"].isna().all() and t["ci_high"].isna().all(), name
        assert set(t["interval"]) == {f"none (n={n})"}, name
    for fig in figures[:2]:   # the lines and the bars: no band, no error bar, and a note saying why
        title = fig._suptitle.get_text()
        assert f"n={n}: no interval" in texts(fig) and "no intervals" in title and "95%" not in title
        assert not any(ax.collections for ax in fig.axes)
    # paired differences: n pairs, no interval either
    paired = grid_sweep(tmp_path / "paired_sweep", seeds=seeds, levs=(5,))
    plot.paired_plot(paired, "incentives.point_value_usd", "0", "totals.liq", tmp_path / "paired")
    t = pd.read_csv(tmp_path / "paired.csv")
    assert (t["n_pairs"] == n).all() and t["ci_low"].isna().all() and t["ci_high"].isna().all()
    assert set(t["interval"]) == {f"none (n={n})"}
    assert f"n={n}: no interval" in texts(figures[-1]) and not any(ax.collections for ax in figures[-1].axes)


def test_paired_intervals_are_clipped_to_the_range_of_a_difference(tmp_path):
    sweep = grid_sweep(tmp_path / "sweep", seeds=(0, 1, 2, 3), levs=(5,))
    plot.paired_plot(sweep, "incentives.point_value_usd", "0", "totals.adl_low_leverage_share,totals.liq",
                     tmp_path / "paired")
    t = pd.read_csv(tmp_path / "paired.csv").set_index("metric")
    assert t.loc["totals.adl_low_leverage_share", "interval"] == "t 95% clipped to [-1, 1]"
    assert t.loc["totals.liq", "interval"] == "t 95%"
    assert t.loc["totals.liq", "n_pairs"] == 4


def test_a_mix_of_small_and_large_cells_draws_intervals_only_where_n_is_3_or_more(tmp_path, figures):
    jobs = [({"max_leverage": lev, "seed": s}, {"totals": {"bad_debt_usd": 1e5 * s}})
            for lev, seeds in ((5, (0,)), (10, (0, 1, 2, 3))) for s in seeds]
    sweep = make_sweep(tmp_path / "sweep", jobs)
    plot.bars_plot(sweep, "totals.bad_debt_usd", "max_leverage", tmp_path / "bars")
    t = pd.read_csv(tmp_path / "bars.csv").set_index("max_leverage")
    assert math.isnan(t.loc[5, "ci_low"]) and t.loc[5, "interval"] == "none (n=1)"
    assert t.loc[10, "ci_low"] == 0.0 and t.loc[10, "ci_high"] > t.loc[10, "mean"]
    txt = texts(figures[-1])
    assert "n=1: no interval where none is drawn" in txt and "none where n < 3" in txt


@pytest.mark.slow
def test_undefined_statistics_written_as_null_are_missing_values(tmp_path):
    """metrics.json may hold null for an undefined statistic: such a run does not count in its cell's n."""
    jobs = [({"max_leverage": 5, "seed": s}, {"totals": {"adl_low_leverage_share": None if s < 2 else 0.5,
                                                         "nothing": None, "liq": float(s)}}) for s in range(5)]
    sweep = make_sweep(tmp_path / "sweep", jobs)
    plot.bars_plot(sweep, "totals.adl_low_leverage_share,totals.nothing,totals.liq", "max_leverage",
                   tmp_path / "bars")
    t = pd.read_csv(tmp_path / "bars.csv").set_index("metric")
    assert t.loc["totals.adl_low_leverage_share", "n"] == 3 and t.loc["totals.adl_low_leverage_share", "mean"] == 0.5
    assert t.loc["totals.nothing", "n"] == 0 and math.isnan(t.loc["totals.nothing", "mean"])
    assert t.loc["totals.liq", "n"] == 5


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([("totals.adl_notional_usd", 0.0, 1e9), ("venues.binance.oi_drop_pct", 0.0, 100.0),
                        ("stats.oct10.depth1_collapse_pct_ALT", 0.0, 100.0), ("totals.adl_low_leverage_share", 0, 1),
                        ("stats.returns.BTC.acf1_venue", -1.0, 1.0), ("totals.n_liquidations", 0.0, 1e6)]),
       st.data())
def test_an_interval_stays_in_the_metrics_range_and_holds_the_mean(case, data):
    met, lo_v, hi_v = case
    x = data.draw(st.lists(st.floats(lo_v, hi_v), min_size=0, max_size=25))
    mean, lo, hi, method, n = plot.interval(x, plot.metric_range(met))
    assert n == len(x)
    if n < 3:
        assert math.isnan(lo) and math.isnan(hi) and method == f"none (n={n})"
        return
    tol = 1e-9 * max(1.0, abs(hi_v))
    r_lo, r_hi = plot.metric_range(met)
    assert r_lo <= lo and hi <= r_hi and r_lo <= lo_v and hi_v <= r_hi
    assert lo - tol <= mean <= hi + tol
    assert method.startswith("t 95% clipped to [")


@given(st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=20))
def test_a_range_never_hides_an_observed_value(x):
    """A value outside a metric's declared range (a wrong declaration) widens the range instead of being cut."""
    mean, lo, hi, method, n = plot.interval(x, (0.0, 100.0))
    assert lo - 1e-6 <= mean <= hi + 1e-6
    assert lo >= min(0.0, min(x)) and hi <= max(100.0, max(x))


@pytest.mark.parametrize("key, rng", [
    ("totals.liquidated_notional_usd", (0, math.inf)), ("totals.adl_notional_usd", (0, math.inf)),
    ("totals.bad_debt_usd", (0, math.inf)), ("totals.n_liquidations", (0, math.inf)),
    ("totals.broken_hedges", (0, math.inf)), ("totals.max_dislocation_pct", (0, math.inf)),
    ("venues.hyperliquid.oi_drop_pct", (0, 100)), ("venues.binance.markets.ALT.max_drawdown_pct", (0, 100)),
    ("venues.binance.markets.ALT.amplification", (0, math.inf)),
    ("venues.hyperliquid.vault_pnl_usd", (-math.inf, math.inf)),
    ("stats.oct10.oi_drop_pct_BTC", (0, 100)), ("stats.oct10.depth1_collapse_worst_venue_pct_ALT", (0, 100)),
    ("stats.oct10.long_share_liquidated", (0, 1)), ("stats.oct10.liquidated_over_oi", (0, math.inf)),
    ("stats.oct10.synth_low", (0, math.inf)), ("stats.liq_share_big_moves", (0, 1)),
    ("stats.adl_by_leverage.ALT.le2", (0, 1)), ("stats.adl_by_leverage.ALT.notional_usd", (0, math.inf)),
    ("stats.returns.BTC.kurtosis_venue", (-2, math.inf)), ("stats.returns.ALT.abs_acf_mean_1_30_venue", (-1, 1)),
    ("stats.returns.ALT.abs_acf_positive_share", (0, 1)), ("stats.returns.BTC.acf1_fundamental", (-1, 1)),
    ("stats.funding.median_8h_bps", (-math.inf, math.inf)), ("stats.funding.p99_abs_8h_bps", (0, math.inf)),
    ("stats.funding.pre_shock_annual_pct", (-math.inf, math.inf)), ("stats.funding.baseline_share", (0, 1)),
    ("adl_counterfactuals.binance.queue.largest_winner_extra_usd", (-math.inf, math.inf)),
    ("adl_counterfactuals.binance.queue.largest_winner_usd", (0, math.inf)),
    ("adl_counterfactuals.hyperliquid.n_events", (0, math.inf)),
    ("venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct", (-100, 100)),
    ("totals.some_new_statistic", (-math.inf, math.inf)),
])
def test_the_range_table(key, rng):
    assert plot.metric_range(key) == rng


# --------------------------------------------------------------------------------------- item 8: heatmaps
@pytest.mark.slow
def test_heatmap_colours_start_at_zero_for_non_negative_metrics_and_say_so(tmp_path, figures):
    """Means from 5.0M to 10.5M: a scale from the smallest mean made a 2x difference look like black vs
    yellow."""
    sweep = grid_sweep(tmp_path / "sweep")
    plot.sweep_plot(sweep, "max_leverage", "totals.liq,venues.hyperliquid.vault_pnl_usd",
                    y="incentives.point_value_usd", out=tmp_path / "heat")
    fig = figures[-1]
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 2
    liq, pnl = images
    assert liq.norm.vmin == 0 and liq.norm.vmax == pytest.approx(1e6 * 10 * 1.05 + 0.5)
    assert pnl.norm.vmin == -pnl.norm.vmax < 0      # a signed metric: symmetric about 0
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert "seed mean (colour scale from 0)" in labels and "seed mean (colour scale symmetric about 0)" in labels


# ------------------------------------------------------------------------------------ item 8: A-B file names
@pytest.mark.slow
def test_difference_figures_are_named_after_the_difference(tmp_path):
    sweep = grid_sweep(tmp_path / "sweep")
    plot.sweep_plot(sweep, "max_leverage", "totals.liq-totals.other")
    plot.bars_plot(sweep, "venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct")
    names = {p.name for p in sweep.iterdir() if p.is_file()}
    assert {"line_liq_minus_other_by_max_leverage.csv", "line_liq_minus_other_by_max_leverage.png",
            "bars_hyperliquid_oi_drop_pct_minus_binance_oi_drop_pct.csv",
            "bars_hyperliquid_oi_drop_pct_minus_binance_oi_drop_pct.pdf"} <= names
    assert not any(n.startswith(("line_other", "bars_oi_drop_pct.")) for n in names)
    t = pd.read_csv(sweep / "bars_hyperliquid_oi_drop_pct_minus_binance_oi_drop_pct.csv")
    assert t["metric"].tolist() == ["venues.hyperliquid.oi_drop_pct-venues.binance.oi_drop_pct"]
    assert t["mean"].iloc[0] == pytest.approx(np.mean([1.0, 41.0]))


def test_the_dashboards_fund_paid_counts_payments_out_not_remainders_paid_in():
    """The waterfall logs a payment by the fund with aux = -paid and a remainder paid into it (an account's
    equity left after its liquidation, remainder_to_insurance) with aux = +amount: only the first is paid."""
    from dashboard import insurance_paid
    ev = pd.DataFrame({"venue": ["binance", "binance", "hyperliquid", "lighter"],
                       "kind": ["insurance", "insurance", "insurance", "liquidation"],
                       "info": [0.0] * 4, "notional": [5.0, 7.0, 3.0, 11.0], "aux": [-5.0, 7.0, -3.0, 0.0]})
    assert insurance_paid(ev) == {"binance": 5.0, "hyperliquid": 3.0}
